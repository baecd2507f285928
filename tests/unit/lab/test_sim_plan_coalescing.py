"""The idle DC plans a burst of CIB changes with one scheduler run (crmd.plan_trigger), and
that run holds the burst's last change, in the simulator on the real cib replication.

Pacemaker's controller serves every abort that arrives before its FSA trigger runs with
one scheduler invocation; a run per change would cost the DC's CPU once per write."""

from __future__ import annotations

from pathlib import Path

from cib.api import WireRequest
from cib.replication_messages import ClientWrite
from crmd.api import FsaState
from lab.sim.cluster import ControllerCluster

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
BURST = 10
STOP_PROBE = ('<primitive id="heartbeat-probe"><meta_attributes id="heartbeat-probe-meta">'
              '<nvpair id="heartbeat-probe-role" name="target-role" value="Stopped"/>'
              "</meta_attributes></primitive>")


def _property_set(index: int) -> WireRequest:
    xml = (f'<cluster_property_set id="burst-{index}"><nvpair id="burst-{index}-v" '
           f'name="burst-{index}" value="{index}"/></cluster_property_set>')
    return WireRequest("create", xml, "crm_config")


def _settled_cluster() -> tuple[ControllerCluster, str]:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    dc = cluster.dc()
    assert dc is not None and cluster.controller(dc).state is FsaState.IDLE
    return cluster, dc


def _burst(cluster: ControllerCluster, node: str, writes: list[WireRequest]) -> dict[int, int]:
    """Every write reaches `node`'s cib at the same instant, as clients' writes queued at
    once do; returns the exit code of each, by index, once answered."""
    codes: dict[int, int] = {}
    clients = cluster.sim.config.extra.setdefault("cib-clients", {})
    wall = cluster.sim.scheduler.wall()
    for index, request in enumerate(writes):
        clients[f"{node}:burst-{index}"] = lambda code, i=index: codes.__setitem__(i, code)
        cluster.sim.deliver(node, "cib", lambda now, i=index, r=request: ClientWrite(
            now, f"burst-{i}", r, wall), cluster.now)
    return codes


def test_a_burst_of_configuration_writes_costs_one_scheduler_run() -> None:
    cluster, dc = _settled_cluster()
    controller = cluster.controller(dc)
    before = controller.transition_id
    codes = _burst(cluster, dc, [_property_set(i) for i in range(BURST)])
    cluster.run_for(5.0)
    assert codes == dict.fromkeys(range(BURST), 0)
    assert controller.transition_id - before == 1
    assert controller.state is FsaState.IDLE


def test_the_one_run_plans_the_bursts_last_change() -> None:
    cluster, dc = _settled_cluster()
    assert ("heartbeat-probe", "alpha") in cluster.placement()
    controller = cluster.controller(dc)
    before = controller.transition_id
    writes = [*(_property_set(i) for i in range(BURST - 1)),
              WireRequest("modify", STOP_PROBE, "resources")]
    codes = _burst(cluster, dc, writes)
    cluster.run_for(5.0)
    assert codes == dict.fromkeys(range(BURST), 0)
    assert controller.transition_id - before == 1
    assert not any(rsc == "heartbeat-probe" for rsc, _ in cluster.placement())
    assert cluster.violations == []


def test_writes_arriving_while_the_scheduler_runs_are_planned_after_it() -> None:
    """A change that lands while a run is out makes that run's answer stale: it is
    dropped and the DC asks once more, so the change is planned (two runs, not one per
    write)."""
    cluster, dc = _settled_cluster()
    controller = cluster.controller(dc)
    before = controller.transition_id
    _burst(cluster, dc, [_property_set(0)])
    cluster.run_for(0.005)  # the trigger fired: the run is out (scheduler_delay 10 ms)
    assert controller.state is FsaState.POLICY_ENGINE
    codes = _burst(cluster, dc, [WireRequest("modify", STOP_PROBE, "resources"),
                                 *(_property_set(i) for i in range(1, BURST))])
    cluster.run_for(5.0)
    assert len(codes) == BURST and set(codes.values()) == {0}
    assert controller.transition_id - before == 2
    assert not any(rsc == "heartbeat-probe" for rsc, _ in cluster.placement())
