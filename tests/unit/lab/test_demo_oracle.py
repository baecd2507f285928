"""The demo configuration (lab/demo.xml, what both labs load) is one Pacemaker accepts and
places: Debian's crm_verify finds nothing to say once the nodes are up, and Debian's
crm_simulate starts the fence device and the whole group; ours schedules the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from lab.cib_seed import demo_xml
from tests.oracle import pacemaker_tool

pytestmark = pytest.mark.oracle
VERIFY, SIMULATE = pacemaker_tool("crm_verify"), pacemaker_tool("crm_simulate")
NODES = ("n1", "n2", "n3")


def _all_nodes_up(tmp_path: Path) -> Path:
    """The demo CIB as a quorate cluster whose three nodes all joined (a fresh live CIB)."""
    root = etree.fromstring(demo_xml())
    root.set("have-quorum", "1")
    status = root.find("status")
    for index, name in enumerate(NODES, start=1):
        etree.SubElement(status, "node_state", id=str(index), uname=name, in_ccm="true",
                         crmd="online", join="member", expected="member")
    path = tmp_path / "demo-up.xml"
    path.write_bytes(etree.tostring(root))
    return path


def _summary(program: list[str], path: Path) -> list[str]:
    done = subprocess.run([*program, "-x", str(path), "-S"], capture_output=True, text=True,
                          check=True, env={**os.environ, "LC_ALL": "C"})
    lines = done.stdout.splitlines()
    start = lines.index("Transition Summary:")
    end = lines.index("Executing Cluster Transition:")
    return [line for line in lines[start + 1:end] if line.strip()]


@pytest.mark.skipif(VERIFY is None, reason="Debian's crm_verify (pacemaker-cli-utils) absent")
def test_crm_verify_accepts_the_demo(tmp_path: Path) -> None:
    assert VERIFY is not None
    path = _all_nodes_up(tmp_path)
    done = subprocess.run([VERIFY, "--live-check", "-V"], capture_output=True, text=True,
                          check=False, env={**os.environ, "CIB_file": str(path)})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.skipif(SIMULATE is None, reason="Debian's crm_simulate (pacemaker-cli-utils) absent")
def test_crm_simulate_places_the_demo_and_ours_agrees(tmp_path: Path) -> None:
    assert SIMULATE is not None
    path = _all_nodes_up(tmp_path)
    theirs = _summary([SIMULATE], path)
    starts = {line.split()[2]: line.split("(")[1].split(")")[0].strip() for line in theirs}
    assert set(starts) == {"fence-lab", "demo-ip", "demo-service"}
    assert starts["demo-ip"] == starts["demo-service"] and starts["demo-ip"] in NODES
    assert all(line.split()[1] == "Start" for line in theirs)
    ours = [sys.executable, "-c", "from pengine.cli import main; main()"]
    assert _summary(ours, path) == theirs
