"""The README's walk-through, run as written on a fresh 3-node namespace lab: each line is
pasted into bash, must exit 0, and the step's effect is then waited for as crm_mon's XML on
n1 shows it (a group placed, moved, failed over, a node fenced and back).

It needs the cluster controller as a daemon on the lab nodes (crmd/__main__.py); without it
nothing places resources, so the test skips with that reason until crmd lands.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lab_names import lab_name
from lxml import etree

from tests.readme import sh_lines

WALK_LAB = lab_name("hcwalk")
BIN = Path(sys.executable).parent
STEP_TIMEOUT = 120.0  # fencing, a reboot and a rejoin, with the lab's 1 s deadtime
SECTION = "Walk-through: status, a move, a failover, a partition"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(os.geteuid() != 0, reason="the namespace lab needs root"),
    pytest.mark.skipif(importlib.util.find_spec("crmd.__main__") is None,
                       reason="the lab has no crmd daemon yet (crmd/__main__.py absent): "
                       "nothing places the walk-through's resources"),
]


def _env() -> dict[str, str]:
    env = dict(os.environ, HACLUSTER_LAB=WALK_LAB, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    env.pop("CIB_file", None)
    return env


def shell(line: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=_env(),
                          timeout=STEP_TIMEOUT, check=False)


class Cluster:
    """What crm_mon --output-as=xml on n1 says."""

    def __init__(self) -> None:
        done = shell("hacluster lab exec n1 crm_mon --output-as=xml")
        self.root = etree.fromstring(done.stdout.encode()) if done.returncode == 0 else None

    def online(self) -> set[str]:
        if self.root is None:
            return set()
        return {str(n.get("name")) for n in self.root.iterfind("nodes/node")
                if n.get("online") == "true"}

    def demo_on(self) -> set[str]:
        """Nodes where both members of the group demo are started (empty: not together)."""
        if self.root is None:
            return set()
        where = []
        for member in ("demo-ip", "demo-service"):
            found = self.root.xpath(f"//resource[@id='{member}'][@role='Started']/node/@name")
            where.append(set(map(str, found)))
        return where[0] & where[1] if len(where[0]) == 1 else set()


def _demo_on(*nodes: str) -> Callable[[Cluster], bool]:
    return lambda c: bool(c.demo_on()) and c.demo_on() <= set(nodes)


def _all_online_demo_started(c: Cluster) -> bool:
    return c.online() == {"n1", "n2", "n3"} and bool(c.demo_on())


# What each step leads to (matched on the line's command, comments aside).
EFFECTS: dict[str, Callable[[Cluster], bool]] = {
    "crm_mon -1": lambda c: bool(c.demo_on()),
    "crm resource move demo n3": _demo_on("n3"),
    "crm status": _demo_on("n3"),
    "crm resource clear demo": _demo_on("n3"),
    "lab kill n3": _demo_on("n1", "n2"),
    "lab start n3": lambda c: "n3" in c.online() and bool(_demo_on("n1", "n2")(c)),
    "lab partition n1,n2 n3": lambda c: "n3" not in c.online() and _demo_on("n1", "n2")(c),
    "lab heal": _all_online_demo_started,
    "crm resource cleanup demo": _all_online_demo_started,
}


def _effect(line: str) -> Callable[[Cluster], bool] | None:
    command = line.split("#")[0].strip()
    for key, check in EFFECTS.items():
        if command.endswith(key):
            return check
    return None


def wait_for(check: Callable[[Cluster], bool], what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        if check(Cluster()):
            return
        time.sleep(0.5)
    last = Cluster()
    pytest.fail(f"after {what!r}: online {sorted(last.online())}, demo on "
                f"{sorted(last.demo_on())}")


@pytest.fixture
def fresh_lab() -> Iterator[None]:
    shell("hacluster lab down")
    up = shell("hacluster lab up --nodes 3 --wait 60")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Node List:" in up.stdout, "lab up ends with crm_mon -1: " + up.stdout
    try:
        yield
    finally:
        shell("hacluster lab down")


def test_the_readme_walk_through_runs_as_written(fresh_lab: None) -> None:
    steps = sh_lines(SECTION)
    assert steps, "the README has no walk-through"
    for line in steps:
        done = shell(line)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        check = _effect(line)
        if check is not None:
            wait_for(check, line)
