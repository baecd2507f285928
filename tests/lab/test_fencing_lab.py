"""Fencing end to end in the namespace lab: real launchers, heartbeat, ccm and stonithd in
every node, fence_lab reaching the lab's power switch (lab.pdu) from inside a node.

`stonith_admin` runs inside n1 (`hacluster lab exec`); n1's fencer asks its peers over
heartbeat, an executor runs fence_lab, the PDU cuts the target's power and answers only
when its processes are gone, and the result reaches every fencer. Needs root, iproute2,
nftables, util-linux and the installed console scripts (stonith_admin, fence_lab,
hacluster: `pip install -e .`); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hcfence")
REPO = Path(__file__).resolve().parents[2]


def _bin_dir() -> Path:
    """Where stonith_admin, fence_lab and hacluster are installed (the repo's venv first)."""
    for candidate in (REPO / ".venv" / "bin", *(Path(p) for p in
                                                 os.environ.get("PATH", "").split(":") if p)):
        if all((candidate / tool).exists() for tool in ("hacluster", "stonith_admin",
                                                         "fence_lab")):
            return candidate
    pytest.skip("console scripts hacluster/stonith_admin/fence_lab are not installed "
                "(python -m venv --system-site-packages .venv && .venv/bin/pip install "
                "--no-deps -e .)")


class Lab:
    def __init__(self, bin_dir: Path) -> None:
        self.env = dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
                        HACLUSTER_LAB=NAME)
        self.hacluster = str(bin_dir / "hacluster")

    def run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.hacluster, "lab", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)

    def ok(self, *args: str, timeout: float = 90) -> str:
        done = self.run(*args, timeout=timeout)
        assert done.returncode == 0, f"lab {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def status(self) -> dict[str, Any]:
        nodes: dict[str, Any] = json.loads(self.ok("status", "--json"))["nodes"]
        return nodes

    def admin(self, node: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("exec", node, "stonith_admin", *args)

    def wait_members(self, node: str, want: list[str], timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.run("exec", node, "hacluster", "membership", "--json")
            if done.returncode == 0 and sorted(json.loads(done.stdout)["members"]) == want:
                return
            time.sleep(0.3)
        pytest.fail(f"{node} did not see members {want} within {timeout}s")

    def wait_history(self, node: str, target: str, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.admin(node, "--history", target, "--verbose").stdout:
                return
            time.sleep(0.3)
        pytest.fail(f"{node}'s history of {target} does not show {text!r} after {timeout}s")

    def device_node(self, timeout: float = 40) -> str:
        """The node where the cluster runs the seeded fence_lab device's resource."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.run("exec", "n1", "crm_mon", "-1").stdout
            found = re.search(r"fence-lab\s.*Started (\S+)", shown)
            if found:
                return found.group(1)
            time.sleep(0.3)
        pytest.fail(f"crm_mon never showed fence-lab started within {timeout}s")

    def wait_fencer_devices(self, node: str, timeout: float = 40) -> None:
        """Until the node's stonithd serves and has loaded the seeded fence_lab device."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.admin(node, "--list-registered")
            if done.returncode == 0 and "fence-lab" in done.stdout:
                return
            time.sleep(0.3)
        pytest.fail(f"stonithd in {node} did not load the fence_lab device in {timeout}s")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    the_lab = Lab(_bin_dir())
    the_lab.run("down")
    try:
        the_lab.ok("up", "--nodes", "3", "--wait", "40", timeout=120)
        for node in ("n1", "n2", "n3"):
            the_lab.wait_fencer_devices(node)
        the_lab.wait_members("n1", ["n1", "n2", "n3"])
        yield the_lab
    finally:
        the_lab.run("down")
    assert not Path(f"/run/hacluster-lab/{NAME}.json").exists()


def _watch_death(pids: list[int], stop: threading.Event, died: dict[int, float]) -> None:
    while not stop.is_set() and len(died) < len(pids):
        for pid in pids:
            if pid not in died and not Path(f"/proc/{pid}").exists():
                died[pid] = time.monotonic()
        time.sleep(0.002)


def _node_pids(entry: dict[str, Any]) -> list[int]:
    return [entry["pid"], *(d["pid"] for d in entry["daemons"].values())]


def test_reboot_through_peers_kills_the_target_before_success(lab: Lab) -> None:
    runs_on = lab.device_node()
    before = lab.status()["n3"]
    old = _node_pids(before)
    died: dict[int, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_death, args=(old, stop, died))
    watcher.start()
    try:
        done = lab.admin("n1", "--reboot", "n3", "--timeout", "60")
        answered = time.monotonic()
    finally:
        stop.set()
        watcher.join()
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(died) == sorted(old), "n3's old holder and launcher must be gone"
    assert max(died.values()) < answered  # gone before stonith_admin heard of success
    after = lab.status()["n3"]
    assert after["running"] is True and after["pid"] != before["pid"]  # rebooted
    history = lab.admin("n2", "--history", "n3", "--verbose")
    assert history.returncode == 0, history.stderr
    assert "reboot of n3 by " in history.stdout and "successful" in history.stdout
    executor = history.stdout.split("reboot of n3 by ")[1].split()[0]
    # Pacemaker's choice: not the origin, but where the device's resource runs (its start
    # verified the device there), unless that is the target
    if runs_on != "n3":
        assert executor == runs_on, history.stdout
    assert executor != "n3", history.stdout
    lab.wait_members("n1", ["n1", "n2", "n3"])  # n3 rejoins after its reboot


def test_off_then_on_switches_a_node_and_every_fencer_records_it(lab: Lab) -> None:
    lab.wait_fencer_devices("n3")
    off = lab.admin("n1", "--off", "n2", "--timeout", "60")
    assert off.returncode == 0, off.stdout + off.stderr
    assert lab.status()["n2"]["running"] is False
    lab.wait_members("n1", ["n1", "n3"])
    # n3 rebooted in the previous test: the result reaches it directly, or, when n1 had
    # not yet heard n3's fencer say hello, in the history n1 pushes once it does.
    lab.wait_history("n3", "n2", "turning off of n2 by ")
    on = lab.admin("n3", "--on", "n2", "--timeout", "60")
    assert on.returncode == 0, on.stdout + on.stderr
    assert lab.status()["n2"]["running"] is True
    lab.wait_members("n1", ["n1", "n2", "n3"])


def test_a_node_cannot_be_fenced_without_a_device_for_it(lab: Lab) -> None:
    done = lab.admin("n1", "--reboot", "n9", "--timeout", "20")
    assert done.returncode == 105, done.stdout + done.stderr  # Pacemaker: no such device
    assert all(entry["running"] for entry in lab.status().values())
