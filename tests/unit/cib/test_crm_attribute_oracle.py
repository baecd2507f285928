"""Differential test: Debian's crm_attribute and ours on copies of the same CIB files.

A seeded generator of crm_attribute command lines (cluster options, permanent and transient
node attributes, rsc/op defaults; set, query, delete; unknown nodes and names; duplicate
names) runs operation by operation on both copies; exit code, stdout and the file must be
identical. Normalised: the `request` attribute of --output-as=xml, which echoes the program's
own path. Accepted differences: none.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.oracle import pacemaker_tool
from tests.unit.cib.test_cibadmin_oracle import GENERATED, _corpus_files

DEBIAN = pacemaker_tool("crm_attribute")
pytestmark = [pytest.mark.oracle,
              pytest.mark.skipif(DEBIAN is None, reason="Debian's crm_attribute not installed")]
TALLY: Counter[str] = Counter()
_REQUEST = re.compile(r'request="[^"]*"')


def _case(rng: random.Random, nodes: list[str]) -> list[str]:
    node = rng.choice([*nodes, "nosuchnode"]) if nodes else "nosuchnode"
    name = rng.choice(["foo", "stonith-enabled", "color", "a#b", "resource-stickiness"])
    where = rng.choice([[], ["-N", node], ["-N", node, "-l", "reboot"],
                        ["-N", node, "-l", "forever"], ["-t", "crm_config"],
                        ["-t", "rsc_defaults", "-N", node], ["-t", "op_defaults", "-N", node],
                        ["-t", "status", "-N", node]])
    action = rng.choice([["-v", str(rng.randrange(3))], ["-G"], ["-G", "-q"], ["-D"],
                         ["-G", "--output-as=xml"], ["-v", "x", "--output-as=xml"]])
    return ["-n", name, *where, *action]


def _debian(path: Path, args: list[str]) -> tuple[int, str]:
    env = {**os.environ, "CIB_file": str(path)}
    done = subprocess.run([DEBIAN or "", *args], env=env, capture_output=True, check=False)
    return done.returncode, _REQUEST.sub('request=""', done.stdout.decode())


def _ours(path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    from cib.attribute_cli import main

    monkeypatch.setenv("CIB_file", str(path))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(args)
    return code, _REQUEST.sub('request=""', out.getvalue())


def _sources() -> list[tuple[str, bytes]]:
    items = [(f"generated-{index}", text.encode()) for index, text in enumerate(GENERATED)]
    items += [(path.name, path.read_bytes()) for path in _corpus_files()[:10]]
    return items


@pytest.mark.parametrize(("name", "text"), _sources(), ids=lambda value: str(value)[:30])
def test_crm_attribute_matches_pacemaker(name: str, text: bytes, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    theirs, ours = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    theirs.write_bytes(text)
    ours.write_bytes(text)
    nodes = re.findall(rb'<node [^>]*uname="([^"]+)"', text)
    rng = random.Random(name)
    failures = []
    for step in range(15):
        args = _case(rng, [node.decode() for node in nodes])
        their_code, their_out = _debian(theirs, args)
        our_code, our_out = _ours(ours, args, monkeypatch)
        TALLY["tried"] += 1
        if (their_code, their_out) == (our_code, our_out) and \
                theirs.read_bytes() == ours.read_bytes():
            TALLY["identical"] += 1
            continue
        TALLY["disagreements"] += 1
        failures.append(f"{name} step {step}: crm_attribute {' '.join(args)}: exit {their_code}"
                        f" vs {our_code}\n--- debian\n{their_out}\n--- ours\n{our_out}")
        ours.write_bytes(theirs.read_bytes())
    assert not failures, "\n".join(failures)


def teardown_module() -> None:
    print(f"\ncrm_attribute agreement: {dict(TALLY)}")


@pytest.mark.parametrize("where", [[], ["-N", "alpha"], ["-N", "alpha", "-l", "reboot"]],
                         ids=["crm_config", "nodes", "status"])
def test_empty_name_is_an_ordinary_name(where: list[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe finding (seeds 1114 1123 1135 1139): `-n ""` was refused with 64. Pacemaker
    2.1.5 treats "" as a name like any other: -v writes an nvpair name="" (id "<set>-"),
    -G finds exactly that one (105 until it exists), -D deletes it."""
    example = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
    theirs, ours = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    theirs.write_bytes(example.read_bytes())
    ours.write_bytes(example.read_bytes())
    steps = [["-G"], ["-D"], ["-v", "1"], ["-v", "2"], ["-G"], ["-G", "-q"],
             ["-G", "--output-as=xml"], ["-D"], ["-G"]]
    for action in steps:
        args = ["-n", "", *where, *action]
        their_code, their_out = _debian(theirs, args)
        assert _ours(ours, args, monkeypatch) == (their_code, their_out), args
        assert _without_stamp(ours.read_text()) == _without_stamp(theirs.read_text()), args


def _without_stamp(text: str) -> str:
    return re.sub(r' cib-last-written="[^"]*"', "", text)
