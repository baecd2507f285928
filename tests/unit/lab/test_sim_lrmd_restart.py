"""Issue 10: "recovery of ... lrmd on a node that stays in the view (re-probe, no needless
restarts)". kill -9 of a node's lrmd (the launcher respawns it) under running resources:
the node is re-probed, the probes find its resources still running, their recurring
monitors are re-armed; nothing is fenced, stopped or started. Before the fix crmd exited
on a new lrmd, and a controller that left gets its node fenced."""

from __future__ import annotations

from pathlib import Path

from lab.sim.cluster import ControllerCluster

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
MONITOR_MS = {"heartbeat-probe": 10000, "service-ip": 15000, "app-data": 20000,
              "app-daemon": 20000}


def _settled_cluster() -> ControllerCluster:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    assert cluster.dc() == "alpha"
    return cluster


def _recovered(cluster: ControllerCluster, node: str, since: float) -> None:
    """`node` kept what it ran, was probed for every resource and monitors each of its
    own again; nothing anywhere was fenced, started or stopped since `since`."""
    placed = {rsc for rsc, where in cluster.placement() if where == node}
    runs = [r for r in cluster.agents.runs if r[0] >= since]
    assert [r for r in runs if r[3] in ("start", "stop")] == []
    assert cluster.fenced == [] and cluster.fence_requests == []
    probed = {r[2] for r in runs if r[1] == node and r[3] == "monitor" and r[4] == 0}
    assert probed >= set(MONITOR_MS) - {"fencing"}, probed
    rearmed = {(r[2], r[4]) for r in runs if r[1] == node and r[3] == "monitor" and r[4]}
    assert rearmed == {(rsc, MONITOR_MS[rsc]) for rsc in placed if rsc in MONITOR_MS}
    assert cluster.violations == [] and cluster.lrmd_audit.double_runs() == []


def test_an_lrmd_restart_re_probes_its_node_and_rearms_the_monitors_without_restart(
        ) -> None:
    cluster = _settled_cluster()
    before = cluster.placement()
    assert {rsc for rsc, node in before if node == "beta"} & set(MONITOR_MS)
    since = cluster.now
    cluster.restart_lrmd("beta")
    cluster.run_for(30.0)  # every monitor interval passes once more
    assert cluster.placement() == before
    _recovered(cluster, "beta", since)
    assert cluster.dc() == "alpha" and cluster.controller("alpha").engine.finished


def test_the_dcs_own_lrmd_restart_rejoins_the_dc_without_restart() -> None:
    cluster = _settled_cluster()
    before = cluster.placement()
    assert {rsc for rsc, node in before if node == "alpha"} & set(MONITOR_MS)
    since = cluster.now
    cluster.restart_lrmd("alpha")
    cluster.run_for(30.0)
    assert cluster.placement() == before
    _recovered(cluster, "alpha", since)
    assert cluster.dc() == "alpha" and cluster.controller("alpha").engine.finished


def test_actions_lost_with_the_lrmd_end_the_transition_at_once() -> None:
    """The lrmd dies while its node runs a stop of the DC's transition: the DC fails it as
    soon as the node reports the new lrmd (Pacemaker's fail_incompletable_actions), not when
    the action's timer (timeout + cluster-delay, over a minute) runs out; the rejoin's probe
    finds the resource still running and the stop runs again: the shutdown completes
    within seconds, nothing fenced, no failure counted."""
    cluster = _settled_cluster()
    assert {rsc for rsc, node in cluster.placement() if node == "beta"}, "beta runs things"
    cluster.agents.duration["stop"] = 2.0
    cluster.request_shutdown("beta")
    assert cluster.sim.run_until_true(lambda: any(
        r[1] == "beta" and r[3] == "stop" for r in cluster.agents.runs), 5.0) is not None
    cluster.run_for(0.5)
    assert not cluster.controller("alpha").engine.finished, "the stop is in flight"
    cluster.restart_lrmd("beta", noticed_after=0.5)
    took = cluster.sim.run_until_true(lambda: "beta" in cluster.stopped, 30.0, step=0.05)
    assert took is not None and took < 10.0, took
    cluster.run_for(5.0)
    assert cluster.fenced == [] and b"fail-count-" not in cluster.cib_text()
    assert cluster.violations == [] and cluster.lrmd_audit.double_runs() == []
