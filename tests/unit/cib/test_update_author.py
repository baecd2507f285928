"""Who changed the CIB: update-origin, update-client and update-user on the root.

Pacemaker's cib_perform_op records them next to cib-last-written on a configuration change
made through the cib daemon, when the CIB's schema is pacemaker-1.2 or later; a status
change leaves them alone, and file mode (CIB_file) records neither. The rules were checked
against Debian's Pacemaker 2.1.5 (cibadmin in file mode, crm_mon's "Last change:" line);
the oracle tests at the end repeat those checks when Debian's tools are installed.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cib.model import empty_cib, records_author
from cib.ops import perform
from cib.replication_messages import ClientWrite
from cib.request import Author, Op, Request, WireRequest
from cib.xmlio import Element, element_text, parse
from tests.oracle import pacemaker_tool
from tests.unit.cib.test_replication import Exchange, assert_converged

WHEN = "Sun Dec  6 06:00:00 2026"
ROOT_VIA_CIBADMIN = Author("n1", "cibadmin", "root")


def _no_schema(cib: Element) -> None:
    """Schema validation is covered elsewhere; these tests are about the root's stamps."""


def _primitive(ident: str) -> Element:
    return parse(f'<primitive id="{ident}" class="ocf" provider="pacemaker" type="Dummy"/>')


def _configure(cib: Element, ident: str, author: Author | None,
               written: str | None = WHEN) -> Element:
    request = Request(Op.CREATE, _primitive(ident), scope="resources")
    return perform(cib, request, _no_schema, written, author).cib


def _stamps(cib: Element) -> tuple[str | None, ...]:
    return tuple(cib.get(name) for name in ("cib-last-written", "update-origin",
                                            "update-client", "update-user"))


@pytest.mark.parametrize(("validate_with", "expected"), [
    ("pacemaker-1.2", True), ("pacemaker-3.9", True), ("pacemaker-2.10", True),
    ("pacemaker-next", True), ("none", True), ("pacemaker-1.1", False),
    ("pacemaker-1.0", False), ("pacemaker-0.7", False), ("transitional-0.6", False),
    ("bogus", False), (None, False),
])
def test_only_schemas_from_pacemaker_1_2_record_the_author(validate_with: str | None,
                                                            expected: bool) -> None:
    assert records_author(validate_with) is expected


def test_a_configuration_change_records_who_made_it() -> None:
    after = _configure(empty_cib(), "a", ROOT_VIA_CIBADMIN)
    assert _stamps(after) == (WHEN, "n1", "cibadmin", "root")


def test_a_status_change_keeps_the_last_configuration_changes_author() -> None:
    configured = _configure(empty_cib(), "a", ROOT_VIA_CIBADMIN)
    status = Request(Op.CREATE, parse('<node_state id="1" uname="n1"/>'), scope="status")
    after = perform(configured, status, _no_schema, "Mon Dec  7 06:00:00 2026",
                    Author("n2", "crmd", "hacluster")).cib
    assert after.get("num_updates") == "1"
    assert _stamps(after) == (WHEN, "n1", "cibadmin", "root")


def test_an_unknown_user_removes_the_previous_changes_user() -> None:
    configured = _configure(empty_cib(), "a", ROOT_VIA_CIBADMIN)
    after = _configure(configured, "b", Author("n2", "crm_attribute", None))
    assert _stamps(after) == (WHEN, "n2", "crm_attribute", None)


def test_file_mode_and_old_schemas_record_nothing() -> None:
    file_mode = _configure(empty_cib(), "a", ROOT_VIA_CIBADMIN, written=None)
    assert _stamps(file_mode) == (None, None, None, None)
    old = _configure(empty_cib("pacemaker-1.0"), "a", ROOT_VIA_CIBADMIN)
    assert _stamps(old) == (WHEN, None, None, None)


def test_the_author_is_recorded_on_every_copy_when_the_write_is_forwarded() -> None:
    exchange, rng = Exchange(["n1", "n2", "n3"]), random.Random(5)
    exchange.settle(rng)
    master = exchange.cores["n1"].master or ""
    origin = next(name for name in exchange.names if name != master)
    # The master's own client first: it brings the master a wall clock, and an author
    # the forwarded write must replace.
    first = WireRequest(Op.CREATE.value, element_text(_primitive("m"), pretty=False),
                        scope="resources", origin=master, client="cibadmin", user="hacluster")
    exchange.feed(master, ClientWrite(0.0, "m", first, wall=1796536800.0))
    write = WireRequest(Op.CREATE.value, element_text(_primitive("a"), pretty=False),
                        scope="resources", origin=origin, client="crm_resource", user="root")
    exchange.feed(origin, ClientWrite(0.0, "a", write, wall=1796536800.0))
    exchange.settle(rng)
    assert exchange.acks == {"m": 0, "a": 0}
    assert_converged(exchange)
    for core in exchange.cores.values():
        assert _stamps(core.cib)[1:] == (origin, "crm_resource", "root")


CIBADMIN, CRM_MON = pacemaker_tool("cibadmin"), pacemaker_tool("crm_mon")
ORACLE_ENV = {"PATH": "/usr/sbin:/usr/bin:/bin", "TZ": "UTC"}


@pytest.mark.oracle
@pytest.mark.skipif(CRM_MON is None, reason="Debian's crm_mon (pacemaker-cli-utils) not installed")
def test_pacemakers_crm_mon_reads_the_author_we_record(tmp_path: Path) -> None:
    path = tmp_path / "cib.xml"
    path.write_text(element_text(_configure(empty_cib(), "a", ROOT_VIA_CIBADMIN)))
    done = subprocess.run([CRM_MON or "", "-1"], env={**ORACLE_ENV, "CIB_file": str(path)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert f"Last change:  {WHEN} by root via cibadmin on n1" in done.stdout, done.stdout


@pytest.mark.oracle
@pytest.mark.skipif(CIBADMIN is None, reason="Debian's cibadmin (pacemaker-cli-utils) absent")
def test_file_mode_keeps_the_root_as_pacemakers_cibadmin_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cib.cli import main

    start = empty_cib()
    for name, value in (("update-origin", "x"), ("update-client", "y"), ("update-user", "z")):
        start.set(name, value)
    theirs, ours = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    theirs.write_text(element_text(start))
    shutil.copy(theirs, ours)
    args = ["-C", "-o", "resources", "-X", element_text(_primitive("a"), pretty=False)]
    done = subprocess.run([CIBADMIN or "", *args], env={**ORACLE_ENV, "CIB_file": str(theirs)},
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("CIB_file", str(ours))
    assert main(args) == 0
    theirs_root, ours_root = parse(theirs.read_text()), parse(ours.read_text())
    assert theirs_root.get("epoch") == str(int(start.get("epoch") or 0) + 1)
    assert dict(ours_root.attrib) == dict(theirs_root.attrib)
