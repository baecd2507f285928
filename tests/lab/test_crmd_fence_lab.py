"""The controller of a non-DC node stops answering while the rest of its node runs on (kill
-STOP: the process stays, so the launcher does not respawn it before its wedge detector's
30 s): the other controllers stop hearing it, the DC writes the node ``crmd="offline"``
and, as Pacemaker's scheduler does with that node_state ("peer process is no longer
available"), fences it through fence_lab; the demo group runs on a survivor. On the way,
`crmadmin -S` of the victim from the DC's node answers for the victim's controller, and
times out as Pacemaker's does once that controller is stopped.

A controller killed with -9 is respawned by the launcher within 1 s; its node is fenced
too, learnt from the new controller's start time rather than from silence
(tests/lab/test_crmd_respawn_lab.py). -STOP keeps the old process, hence silence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmd_lab_helpers import (
    Lab,
    choose_victim,
    crmd_pid,
    demo_cluster,
    fenced,
    lab_exec,
    wait_for,
    wait_moved_off,
)
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hccfence")
NODES = ["n1", "n2", "n3"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Lab]:
    yield from demo_cluster(NAME)


@pytest.mark.slow
def test_a_stopped_controller_gets_its_node_fenced_and_the_group_moved(cluster: Lab) -> None:
    victim = choose_victim(cluster, NODES, "demo-service")
    dc, node = victim.dc, victim.node
    # crmadmin -S of another node: the DC's crmd asks the victim's over the crmd channel
    asked = lab_exec(cluster, dc, "crmadmin", "-S", node)
    assert asked.stdout == f"Controller on {node} in state S_NOT_DC: ok\n", asked
    pid = crmd_pid(cluster, node)
    assert pid is not None, f"no crmd on {node}"
    stopped = lab_exec(cluster, node, "kill", "-STOP", str(pid))
    assert stopped.returncode == 0, stopped.stderr
    silent = lab_exec(cluster, dc, "crmadmin", "-S", node)
    assert silent.returncode == 124, silent  # Pacemaker's crmadmin: CRM_EX_TIMEOUT
    assert "No reply received from controller before timeout" in silent.stdout + silent.stderr
    wait_for(f"{node} fenced", lambda: fenced(cluster, dc, node))
    wait_moved_off(cluster, victim, "demo-service")
