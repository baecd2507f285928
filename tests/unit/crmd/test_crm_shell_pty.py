"""The interactive crm shell driven through a pseudo-terminal (pexpect): tab completion, a
configure session with commit, and errors that leave the CIB file unchanged."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

pexpect = pytest.importorskip("pexpect", reason="pexpect (test extra) is not installed")
REPO = Path(__file__).resolve().parents[3]
PROMPT = r"crm\(live/[^)]*\)(\w*)#"


def at(level: str) -> str:
    """The prompt of a level as drawn for a new line (not the redraw of the old one)."""
    return r"\r\n.*crm\(live/[^)]*\)" + level + "#"


@pytest.fixture
def shell(tmp_path: Path):  # type: ignore[no-untyped-def]
    cib = tmp_path / "cib.xml"
    shutil.copy(REPO / "examples" / "cib-3node.xml", cib)
    env = {**os.environ, "CIB_file": str(cib), "HOME": str(tmp_path), "TERM": "xterm",
           "PROMPT_TOOLKIT_NO_CPR": "1",
           "PYTHONPATH": str(REPO)}
    child = pexpect.spawn(sys.executable, ["-c", "from crmd.shell.cli import main; main([])"],
                          env=env, encoding="utf-8", timeout=30, dimensions=(40, 200))
    child.expect(PROMPT)
    yield child, cib
    child.close(force=True)


def _ids(cib: Path) -> list[str]:
    root = etree.parse(str(cib)).getroot()
    return [e.get("id") or "" for e in root.iterfind("configuration/resources//primitive")]


def test_tab_completes_commands_and_resource_ids(shell) -> None:  # type: ignore[no-untyped-def]
    child, _ = shell
    child.send("conf\t")
    child.expect("igure")  # the completion is typed in after what we typed
    child.send("\r")
    child.expect(at("configure"))
    child.send("up\r")
    child.expect(at(""))
    child.send("resource\r")
    child.expect(at("resource"))
    child.send("stop serv\t")
    child.expect("ice-ip")
    child.send("\r")
    child.expect(PROMPT)
    child.send("quit\r")
    child.expect(pexpect.EOF)


def test_configure_session_commits_on_commit(shell) -> None:  # type: ignore[no-untyped-def]
    child, cib = shell
    child.send("configure\r")
    child.expect(at("configure"))
    child.send("primitive d9 ocf:heartbeat:Dummy op monitor interval=10s\r")
    child.expect(at("configure"))
    assert "d9" not in _ids(cib)  # a working copy until commit
    child.send("commit\r")
    child.expect(at("configure"))
    assert "d9" in _ids(cib)
    child.send("quit\r")
    child.expect(pexpect.EOF)


def test_errors_leave_the_cib_unchanged(shell) -> None:  # type: ignore[no-untyped-def]
    child, cib = shell
    before = cib.read_text()
    child.send("configure\r")
    child.expect(at("configure"))
    for bad, complaint in (("primitive app-data Dummy", "already in use"),
                           ("location l9 nosuch 100: beta", "nosuch"),
                           ("location l9 app bogus: beta", "bogus"),
                           ("primitive x ocf:Dummy", "ocf:Dummy")):
        child.send(bad + "\r")
        child.expect("ERROR: .*" + complaint)
        child.expect(at("configure"))
    child.send("commit\r")
    child.expect(at("configure"))
    child.send("quit\r")
    child.expect(pexpect.EOF)
    assert cib.read_text() == before


def _p9_pairs(cib: Path) -> set[tuple[str | None, str | None]]:
    root = etree.parse(str(cib)).getroot()
    return {(p.get("name"), p.get("value")) for p in
            root.iterfind("configuration/resources/primitive[@id='p9']//nvpair")}


def test_tab_completes_agent_parameters_from_meta_data(shell) -> None:  # type: ignore[no-untyped-def]
    # ocf:pacemaker:Dummy's meta-data has an op_sleep parameter (and no other op_ name).
    child, cib = shell
    child.send("configure\r")
    child.expect(at("configure"))
    child.send("primitive p9 ocf:pacemaker:Dummy params op_sl\t")
    child.expect("eep=")
    child.send("2 me\t")
    child.expect("ta")
    child.send(" target-r\t")
    child.expect("ole=")
    child.send("Stopped\r")
    child.expect(at("configure"))
    child.send("commit\r")
    child.expect(at("configure"))
    wanted = {("op_sleep", "2"), ("target-role", "Stopped")}
    deadline = time.monotonic() + 20  # a prompt redraw can match before commit has run
    while (pairs := _p9_pairs(cib)) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pairs == wanted
    child.send("up\rresource\r")
    child.expect(at("resource"))
    child.send("param service-ip show cidr\t")
    child.expect("_netmask")
    child.send("\r")
    child.expect("24")
    child.send("quit\r")
    child.expect(pexpect.EOF)
