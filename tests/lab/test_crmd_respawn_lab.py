"""The controller of a non-DC node is killed with -9 and the launcher respawns it at once:
its node is fenced all the same, and the demo group runs on a survivor. The DC keeps
answering (`crmadmin -D`) throughout.

Why fenced: Pacemaker 2.1.5's pacemakerd respawns a controller that died of a signal
(`pcmk_child_exit` -> `pcmk_process_exit`: "Respawning ... after unexpected exit"), but
its DC has already seen that controller leave the process group (`peer_update_callback`:
crmd offline, "Node failure" abort) and the scheduler fences the node ("peer process is no
longer available"). Ours learns it from the new controller's other start time
(`crmd.presence`), without waiting for the 6 s of silence a hung controller needs
(tests/lab/test_crmd_fence_lab.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmd_lab_helpers import (
    Lab,
    choose_victim,
    crmd_pid,
    demo_cluster,
    fenced,
    idle_dc,
    lab_output,
    wait_for,
    wait_moved_off,
)
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hcrespwn")
NODES = ["n1", "n2", "n3"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Lab]:
    yield from demo_cluster(NAME)


@pytest.mark.slow
def test_a_controller_killed_and_respawned_gets_its_node_fenced(cluster: Lab) -> None:
    victim = choose_victim(cluster, NODES, "demo-service")
    dc, node = victim.dc, victim.node
    old = crmd_pid(cluster, node)
    assert old is not None, f"no crmd on {node}"
    lab_output(cluster, node, "kill", "-9", str(old))
    answer = lab_output(cluster, dc, "crmadmin", "-D")
    assert f"Designated Controller is: {dc}" in answer, answer
    wait_for(f"{node} fenced", lambda: fenced(cluster, dc, node))
    wait_moved_off(cluster, victim, "demo-service")
    assert wait_for("the DC idle again", lambda: idle_dc(cluster, victim.survivors)
                    or idle_dc(cluster, NODES)) == dc  # the victim may be back after its reboot
