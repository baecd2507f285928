"""The operator tools on a live cluster: crm, crm_resource, crm_mon and crm_simulate inside
namespace-lab nodes (`hacluster lab exec`, no CIB_file) read and write the replicated CIB
through each node's cib daemon.

A primitive configured with `crm` on n1 is listed by crm_resource and crm_mon on n2 and
scheduled by crm_simulate -L on n3; a parameter set with crm_resource on n2 shows in
`crm configure show` on n3; a refused command (duplicate id) leaves the CIB's digest as it
was. Needs root, iproute2, nftables, util-linux and the installed console scripts.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hctools")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


def _bin_dir() -> Path:
    for candidate in (REPO / ".venv" / "bin", *(Path(p) for p in
                                                 os.environ.get("PATH", "").split(":") if p)):
        if all((candidate / tool).exists() for tool in ("hacluster", "crm", "crm_mon")):
            return candidate
    pytest.skip("console scripts hacluster/crm/crm_mon are not installed (pip install -e .)")


class Lab:
    def __init__(self, bin_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "CIB_file"}
        self.env = dict(env, PATH=f"{bin_dir}:{env.get('PATH', '')}", HACLUSTER_LAB=NAME)
        self.hacluster = str(bin_dir / "hacluster")

    def lab(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.hacluster, "lab", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)

    def on(self, node: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """A tool run inside `node`, as an operator logged into it would run it."""
        return self.lab("exec", node, *argv)

    def wait(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not check():
            assert time.monotonic() < deadline, f"not within {TIMEOUT}s: {what}"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    the_lab = Lab(_bin_dir())
    the_lab.lab("down")
    try:
        up = the_lab.lab("up", "--nodes", "3", "--wait", "40")
        assert up.returncode == 0, up.stdout + up.stderr
        for node in ("n1", "n2", "n3"):
            the_lab.wait(f"cib on {node} answers",
                         lambda node=node: the_lab.on(node, "cibadmin", "-Q").returncode == 0)
        yield the_lab
    finally:
        the_lab.lab("down")


def _digest(lab: Lab, node: str) -> str:
    query = lab.on(node, "cibadmin", "-Q")
    assert query.returncode == 0, query.stderr
    done = subprocess.run(["cibadmin", "-5", "-p"], input=query.stdout, capture_output=True,
                          text=True, env=lab.env, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def with_t2_dummy(lab: Lab) -> Lab:
    """The lab with t2-dummy configured through crm on n1, whichever of the tests that
    need it runs first (a -k selection must not depend on the others' order)."""
    added = lab.on("n1", "crm", "configure", "primitive", "t2-dummy", "ocf:heartbeat:Dummy",
                   "params", "state=/tmp/t2-dummy.state", "op", "monitor", "interval=10s")
    assert added.returncode == 0, added.stdout + added.stderr
    return lab


def test_crm_on_one_node_is_seen_by_the_tools_on_the_others(with_t2_dummy: Lab) -> None:
    lab = with_t2_dummy
    lab.wait("crm_resource --list on n2 lists t2-dummy",
             lambda: "t2-dummy\t(ocf:heartbeat:Dummy)" in lab.on("n2", "crm_resource",
                                                                 "--list").stdout)
    mon = lab.on("n2", "crm_mon", "-1", "-r")
    assert mon.returncode == 0, mon.stderr
    assert "t2-dummy\t(ocf:heartbeat:Dummy):\t" in mon.stdout
    # the lab's crmd starts what the tools configured; n2's crm_mon shows it running
    lab.wait("crm_mon on n2 shows t2-dummy started",
             lambda: "t2-dummy\t(ocf:heartbeat:Dummy):\t Started" in lab.on(
                 "n2", "crm_mon", "-1", "-r").stdout)
    simulate = lab.on("n3", "crm_simulate", "-L")
    assert simulate.returncode == 0, simulate.stderr
    assert "t2-dummy" in simulate.stdout


def test_crm_resource_write_on_n2_shows_in_crm_on_n3(with_t2_dummy: Lab) -> None:
    lab = with_t2_dummy
    lab.wait("t2-dummy is configured on n2",
             lambda: lab.on("n2", "crm_resource", "-r", "t2-dummy", "-g", "state").stdout
             .strip() == "/tmp/t2-dummy.state")
    changed = lab.on("n2", "crm_resource", "-r", "t2-dummy", "-p", "fake", "-v", "t2")
    assert changed.returncode == 0, changed.stderr
    lab.wait("configure show on n3 has fake=t2",
             lambda: "fake=t2" in lab.on("n3", "crm", "configure", "show", "t2-dummy").stdout)


def test_refused_command_leaves_the_live_cib_unchanged(with_t2_dummy: Lab) -> None:
    lab = with_t2_dummy
    lab.wait("t2-dummy reached n1",
             lambda: "t2-dummy" in lab.on("n1", "crm_resource", "--list-raw").stdout)
    before = _digest(lab, "n1")
    again = lab.on("n1", "crm", "configure", "primitive", "t2-dummy", "ocf:heartbeat:Dummy")
    assert again.returncode != 0
    missing = lab.on("n1", "crm_resource", "-r", "nosuch", "-p", "x", "-v", "1")
    assert missing.returncode == 105
    assert _digest(lab, "n1") == before


def test_crm_node_fence_shows_in_crm_mon_fence_history(lab: Lab) -> None:
    # The lab seeds a fence_lab device: crm node fence reboots n3 through n1's fencer,
    # and crm_mon on n1 (live mode: it asks the fencer) lists it under -m 2.
    fenced = lab.on("n1", "crm", "node", "fence", "n3")
    assert fenced.returncode == 0, fenced.stdout + fenced.stderr
    lab.wait("crm_mon -m 2 on n1 shows the reboot of n3",
             lambda: "reboot of n3" in lab.on("n1", "crm_mon", "-1", "-m", "2").stdout)
    mon = lab.on("n1", "crm_mon", "-1", "-m", "2").stdout
    assert "Fencing History:" in mon and "successful" in mon
    assert "Fencing History:" not in lab.on("n1", "crm_mon", "-1").stdout  # level 1
    xml = lab.on("n1", "crm_mon", "-1", "--output-as=xml").stdout
    assert '<fence_event action="reboot" target="n3"' in xml
