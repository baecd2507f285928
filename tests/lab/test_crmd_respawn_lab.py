"""The controller of a non-DC node is killed with -9 and the launcher respawns it at once:
its node is fenced all the same, and the demo group runs on a survivor. The DC keeps
answering (`crmadmin -D`) throughout. Then the DC's own controller is killed and respawned:
the others elect a new DC, which fences the former DC's node.

Why fenced: Pacemaker 2.1.5's pacemakerd respawns a controller that died of a signal
(`pcmk_child_exit` -> `pcmk_process_exit`: "Respawning ... after unexpected exit"), but
its DC has already seen that controller leave the process group (`peer_update_callback`:
crmd offline, "Node failure" abort) and the scheduler fences the node ("peer process is no
longer available"). Ours learns it from the new controller's other start time
(`crmd.presence`), without waiting for the 6 s of silence a hung controller needs
(tests/lab/test_crmd_fence_lab.py).

The DC's controller: Pacemaker's peers see it leave the process group ("Our peer on the DC
is dead": an election, its transient attributes erased) before the respawned controller
joins the group; the new DC offers joins only to the group's members, its join's end writes
that node ``crmd="offline"`` and the scheduler fences it. Ours: the peers learn it from the
respawned controller's other start time, and the new DC answers that loss like any other
(`crmd.presence.former_dc_lost`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from crmd_lab_helpers import (
    Lab,
    choose_victim,
    crmd_pid,
    demo_cluster,
    fenced,
    idle_dc,
    lab_exec,
    lab_output,
    nodes_running,
    wait_for,
    wait_moved_off,
)
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hcrespwn")
NODES = ["n1", "n2", "n3"]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cluster() -> Iterator[Lab]:
    yield from demo_cluster(NAME)


def cluster_option(the_lab: Lab, node: str, name: str, value: str) -> None:
    """Set a cluster option through `node`'s cib (our crm_attribute; it returns once the
    write is committed)."""
    env = dict(os.environ, HACLUSTER_STATE_DIR=str(the_lab.state_dir(node)))
    env.pop("CIB_file", None)
    done = subprocess.run([str(BIN / "crm_attribute"), "-t", "crm_config", "-n", name,
                           "-v", value], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_a_controller_killed_and_respawned_gets_its_node_fenced(cluster: Lab) -> None:
    victim = choose_victim(cluster, NODES, "demo-service")
    dc, node = victim.dc, victim.node
    # Fencing powers the node off and it stays off: the lab's reboot is back within a few
    # hundred ms, often before the DC replans (the respawned controller's join aborted the
    # transition that held the moves), and the group may then rightly start on the rebooted
    # node again, so "moved to a survivor" would depend on that race.
    cluster_option(cluster, dc, "stonith-action", "off")
    try:
        assert wait_for("the DC idle after the option", lambda: idle_dc(cluster, NODES)) == dc
        old = crmd_pid(cluster, node)
        assert old is not None, f"no crmd on {node}"
        lab_output(cluster, node, "kill", "-9", str(old))
        answer = lab_output(cluster, dc, "crmadmin", "-D")
        assert f"Designated Controller is: {dc}" in answer, answer
        wait_for(f"{node} fenced", lambda: fenced(cluster, dc, node))
        wait_moved_off(cluster, victim, "demo-service")
        assert wait_for("the DC idle again", lambda: idle_dc(cluster, victim.survivors)) == dc
    finally:
        cluster_option(cluster, dc, "stonith-action", "reboot")
        cluster.ok("start", node)  # the next test wants all three nodes


@pytest.mark.slow
def test_the_dc_controller_killed_and_respawned_gets_its_node_fenced_by_a_new_dc(
        cluster: Lab) -> None:
    dc = wait_for("every node joined to an idle DC", lambda: idle_dc(cluster, NODES),
                  timeout=240.0)  # the previous test's victim rebooted and rejoined
    survivors = [n for n in NODES if n != dc]
    old = crmd_pid(cluster, dc)
    assert old is not None, f"no crmd on {dc}"
    lab_output(cluster, dc, "kill", "-9", str(old))
    new_dc = wait_for("a new DC among the survivors", lambda: next(
        (n for n in survivors if "Designated Controller is: " + n in lab_exec(
            cluster, n, "crmadmin", "-D").stdout), None))
    wait_for(f"{dc} fenced", lambda: fenced(cluster, new_dc, dc))
    wait_for("demo-service running on one node", lambda: nodes_running(
        cluster, NODES, "demo-service") or None)
    assert wait_for("the new DC idle", lambda: idle_dc(cluster, survivors)
                    or idle_dc(cluster, NODES), timeout=240.0) == new_dc
