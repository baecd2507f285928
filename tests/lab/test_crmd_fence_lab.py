"""The controller of a non-DC node stops answering while the rest of its node runs on (kill
-STOP: the process stays, so the launcher does not respawn it before its wedge detector's
15 s): the other controllers stop hearing it, the DC writes the node ``crmd="offline"``
and, as Pacemaker's scheduler does with that node_state ("peer process is no longer
available"), fences it through fence_lab; the demo group runs on a survivor. On the way,
`crmadmin -S` of the victim from the DC's node answers for the victim's controller, and
times out as Pacemaker's does once that controller is stopped.

A controller killed with -9 is respawned by the launcher within 1 s; its node is fenced
too, learnt from the new controller's start time rather than from silence
(tests/lab/test_crmd_respawn_lab.py). -STOP keeps the old process, hence silence."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from crmd_lab_helpers import (
    Lab,
    demo_cluster,
    idle_dc,
    lab_exec,
    nodes_running,
    running_on,
    wait_for,
)
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hccfence")
NODES = ["n1", "n2", "n3"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Lab]:
    yield from demo_cluster(NAME)


def _exec(cluster: Lab, node: str, *command: str) -> subprocess.CompletedProcess[str]:
    return lab_exec(cluster, node, *command)


def _crmd_pid(cluster: Lab, node: str) -> int:
    """The pid of `node`'s controller inside the node's own pid namespace."""
    listing = _exec(cluster, node, "ps", "-eo", "pid,args")
    for line in listing.stdout.splitlines():
        fields = line.split()
        if fields[2:4] == ["-m", "crmd"]:
            return int(fields[0])
    raise AssertionError(f"no crmd on {node}: {listing.stdout}{listing.stderr}")


def _fenced(cluster: Lab, by: str, target: str) -> bool | None:
    history = _exec(cluster, by, "stonith_admin", "--history", target)
    return True if history.returncode == 0 and "success" in history.stdout.lower() else None


def _running_on_survivor(cluster: Lab, survivors: list[str], resource: str) -> str | None:
    hosts = [n for n in survivors if running_on(cluster.state_dir(n), resource)]
    return hosts[0] if len(hosts) == 1 else None


@pytest.mark.slow
def test_a_stopped_controller_gets_its_node_fenced_and_the_group_moved(cluster: Lab) -> None:
    dc = wait_for("an idle DC", lambda: idle_dc(cluster, NODES))
    hosts = wait_for("demo-service running",
                     lambda: nodes_running(cluster, NODES, "demo-service") or None)
    host = next(iter(hosts))
    victim = host if host != dc else next(n for n in NODES if n != dc)
    survivors = [n for n in NODES if n != victim]
    # crmadmin -S of another node: the DC's crmd asks the victim's over the crmd channel
    asked = _exec(cluster, dc, "crmadmin", "-S", victim)
    assert asked.stdout == f"Controller on {victim} in state S_NOT_DC: ok\n", asked
    stopped = _exec(cluster, victim, "kill", "-STOP", str(_crmd_pid(cluster, victim)))
    assert stopped.returncode == 0, stopped.stderr
    silent = _exec(cluster, dc, "crmadmin", "-S", victim)
    assert silent.returncode == 124, silent  # Pacemaker's crmadmin: CRM_EX_TIMEOUT
    assert "No reply received from controller before timeout" in silent.stdout + silent.stderr
    wait_for(f"{victim} fenced", lambda: _fenced(cluster, dc, victim))
    where = wait_for("demo-service on a survivor",
                     lambda: _running_on_survivor(cluster, survivors, "demo-service"))
    assert where != victim
    if host == victim:
        assert where in survivors, "the group left the fenced node"
    else:
        assert where == host, "a group on a healthy node stays where it is"
