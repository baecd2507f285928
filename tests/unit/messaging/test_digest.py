"""Pacemaker's parameter digest: canonical text and escaping (facts from Pacemaker's XML
escaper; the corpus digests are checked in the lrmd, scheduler and simulator tests)."""

from __future__ import annotations

import hashlib

from messaging.digest import escape_value, parameters_digest, parameters_text


def test_text_sorts_names_and_wraps_in_parameters_element() -> None:
    assert parameters_text({"b": "2", "a": "1"}) == ' <parameters a="1" b="2"/>\n'
    assert parameters_text({}) == " <parameters/>\n"


def test_escaping_matches_pacemakers_xml_escaper() -> None:
    assert escape_value("<a & 'b'>\"") == "&lt;a &amp; &apos;b&apos;&gt;&quot;"
    assert escape_value("x\ty") == "x    y"
    assert escape_value("line1\nline2\r") == "line1\\nline2\\r"
    assert escape_value("bell\x07del\x7f") == "bell\\007del\\177"
    assert escape_value("café") == "café"


def test_digest_is_md5_of_the_text() -> None:
    params = {"state": "/run/x", "fake": "a\tb"}
    expected = hashlib.md5(b' <parameters fake="a    b" state="/run/x"/>\n').hexdigest()
    assert parameters_digest(params) == expected
