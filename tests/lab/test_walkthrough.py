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
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_names import lab_name

from tests.readme import sh_lines
from tests.readme_steps import Check, Cluster, demo_on, effect_of, wait_for

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


def _cluster() -> Cluster:
    """What crm_mon --output-as=xml on n1 says."""
    return Cluster(shell("hacluster lab exec n1 crm_mon --output-as=xml"))


def _all_online_demo_started(c: Cluster) -> bool:
    return c.online() == {"n1", "n2", "n3"} and bool(c.demo_on())


# What each step leads to (matched on the line's command, comments aside).
EFFECTS: dict[str, Check] = {
    "crm_mon -1": lambda c: bool(c.demo_on()),
    "crm resource move demo n3": demo_on("n3"),
    "crm status": demo_on("n3"),
    "crm resource clear demo": demo_on("n3"),
    "lab kill n3": demo_on("n1", "n2"),
    "lab start n3": lambda c: "n3" in c.online() and bool(demo_on("n1", "n2")(c)),
    "lab partition n1,n2 n3": lambda c: "n3" not in c.online() and demo_on("n1", "n2")(c),
    "lab heal": _all_online_demo_started,
    "crm resource cleanup demo": _all_online_demo_started,
}


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
        check = effect_of(line, EFFECTS)
        if check is not None:
            wait_for(_cluster, check, line, STEP_TIMEOUT, 0.5)
