"""Issue 10: a node whose heartbeat dies leaves the cluster and is fenced.

The lab's kill -9 of a node's heartbeat showed the launcher respawning it within 15-50 ms,
inside deadtime: no peer saw the node go silent, it carried on with a new heartbeat
generation and was never fenced. Pacemaker never restarts a dead corosync under running
daemons: pacemakerd shuts the node's daemons down (cfg_connection_destroy ->
pcmk_shutdown), the controller exits without stopping resources (crmd_cs_destroy), and the
peers, having lost the node from the membership, fence it when stonith is enabled, or
with it disabled simply recover its resources elsewhere.

Here the launcher's `RespawnPolicy` decides, on the simulator's fake clock."""

from __future__ import annotations

from pathlib import Path

from lab.sim.cluster import ControllerCluster
from messaging.supervisor import RespawnPolicy

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
LIMIT_S = 30.0


def _kill_the_heartbeat_of_a_resource_node(cluster: ControllerCluster) -> tuple[str, set[str]]:
    """Start the cluster, kill the heartbeat of a node (not the DC) running resources and
    run until those resources run on the survivors: (that node, what ran there)."""
    cluster.start_all()
    cluster.run_for(10.0)
    dc = cluster.dc()
    victim = next(node for node, names in sorted(cluster.running().items())
                  if node != dc and names)
    ran = set(cluster.running()[victim])
    cluster.kill_heartbeat(victim)
    end = cluster.now + LIMIT_S
    while cluster.now < end and not _recovered(cluster, victim, ran):
        cluster.run_for(0.1)
    return victim, ran


def _recovered(cluster: ControllerCluster, victim: str, ran: set[str]) -> bool:
    elsewhere = set().union(*(names for node, names in cluster.running().items()
                              if node != victim))
    return ran <= elsewhere


def test_the_heartbeat_is_not_respawned_the_node_leaves() -> None:
    assert RespawnPolicy().ends_node("heartbeat")
    assert not any(RespawnPolicy().ends_node(daemon)
                   for daemon in ("ccm", "cib", "attrd", "lrmd", "stonithd", "pengine", "crmd"))


def test_a_node_whose_heartbeat_died_is_fenced_and_its_resources_move() -> None:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    victim, ran = _kill_the_heartbeat_of_a_resource_node(cluster)
    assert [target for _, _, target, _ in cluster.fence_requests] == [victim]
    assert cluster.fenced == [victim]
    assert _recovered(cluster, victim, ran), cluster.running()
    assert victim not in cluster.alive
    cluster.run_for(10.0)
    assert cluster.agreed() and cluster.violations == []


def test_without_fencing_the_node_leaves_and_its_resources_move_unfenced() -> None:
    cluster = ControllerCluster(EXAMPLE, stonith=False)
    victim, ran = _kill_the_heartbeat_of_a_resource_node(cluster)
    assert cluster.fence_requests == [] and cluster.fenced == []
    assert _recovered(cluster, victim, ran), cluster.running()
    cluster.run_for(10.0)
    assert cluster.agreed() and cluster.violations == []
