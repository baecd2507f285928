"""crmd in the simulator on the real cib replication (lab.sim.cib_replica): writes travel
to the cib master and back as diffs, so the DC's scheduler sees results only once
replicated, as in the lab."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from cib.replication import ReplicaCore
from lab.sim.cib_replica import cib_text
from lab.sim.cluster import ControllerCluster
from tests.oracle import pacemaker_tool

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
E2E = EXAMPLE.with_name("cib-e2e.xml")


def test_every_copy_converges_on_the_masters_and_holds_the_results() -> None:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    copies = {node: cib_text(cluster.sim, node) for node in cluster.names}
    assert len(set(copies.values())) == 1, "every replica holds the master's copy"
    assert b'operation="start"' in copies["alpha"] and b"app-daemon_last_0" in copies["alpha"]


def _cib_masters(cluster: ControllerCluster) -> set[str | None]:
    masters = set()
    for node in sorted(cluster.alive):
        core = cluster.sim.core(node, "cib")
        assert isinstance(core, ReplicaCore)
        masters.add(core.master)
    return masters


def test_the_dcs_cib_holds_the_master_copy_and_follows_a_new_dc() -> None:
    """alpha (the lowest name: the fallback master) dies, beta becomes DC; alpha comes back
    and beta stays DC, as Pacemaker keeps a running DC: beta's cib keeps the master copy."""
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    assert cluster.dc() == "alpha" and _cib_masters(cluster) == {"alpha"}
    cluster.kill("alpha")
    cluster.run_for(15.0)
    assert cluster.dc() == "beta" and _cib_masters(cluster) == {"beta"}
    cluster.revive("alpha")
    cluster.run_for(15.0)
    assert cluster.dc() == "beta" and "alpha" in cluster.alive
    assert _cib_masters(cluster) == {"beta"}
    assert len({cib_text(cluster.sim, node) for node in cluster.alive}) == 1
    assert cluster.violations == []


def test_a_respawned_controllers_node_is_fenced_and_its_resources_start_once_elsewhere(
        ) -> None:
    """The DC learns of the new controller (the old one died: Pacemaker fences the node,
    "peer process is no longer available"); the survivors' starts reach the DC through
    the replicated CIB, so each of beta's resources starts once, nothing twice."""
    cluster = ControllerCluster(EXAMPLE, stonith=True, results_from_cib=True)
    cluster.start_all()
    cluster.run_for(10.0)
    moved = {rsc for rsc, node in cluster.placement() if node == "beta"}
    assert moved, "beta runs something to move"
    runs = len(cluster.agents.runs)
    cluster.restart_controller("beta")
    cluster.run_for(15.0)
    assert cluster.fenced == ["beta"]
    starts = sorted(r[2] for r in cluster.agents.runs[runs:] if r[3] == "start")
    assert starts == sorted(moved), starts
    assert {node for rsc, node in cluster.placement() if rsc in moved} <= {"alpha", "gamma"}
    assert cluster.violations == []


def _pacemaker_settled(cluster: ControllerCluster, tmp_path: Path) -> dict[str, set[str]]:
    """Debian's crm_simulate on the DC's CIB copy: nothing left to do, and its placement is
    what the lrmd histories say runs (the lab auditor's reading)."""
    from lab.audit import placement, placement_differences

    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    path = tmp_path / f"live-{cluster.now:.0f}.xml"
    path.write_bytes(cluster.cib_text())
    done = subprocess.run([tool, "-x", str(path), "-S", "--output-as=xml"],
                          capture_output=True, check=True, timeout=120)
    root = etree.fromstring(done.stdout)
    assert root.find("transition/*") is None, etree.tostring(root.find("transition"))
    planned = {str(r.get("id")): {str(n.get("name")) for n in r.iterfind("node")}
               for r in root.iterfind("revised_cluster_status/resources//resource")
               if r.get("active") == "true"}
    truth = placement(cluster.lrmd_running())
    assert placement_differences(planned, truth) == []
    return planned


@pytest.mark.oracle
def test_the_e2e_configuration_settles_where_pacemaker_says(tmp_path: Path) -> None:
    """examples/cib-e2e.xml (the lab e2e suite's configuration) through a group failover and
    a 2|1 partition with a reboot inside the minority: after each, Pacemaker's scheduler on
    the DC's copy plans nothing and places everything where the lrmds run it."""
    cluster = ControllerCluster(E2E, stonith=True, seed=21)
    cluster.start_all()
    cluster.run_for(10.0)
    planned = _pacemaker_settled(cluster, tmp_path)
    assert planned["web-data"] == planned["web-ip"] == {"n2"}
    cluster.kill("n2")
    cluster.run_for(10.0)
    assert "n2" in cluster.fenced
    _pacemaker_settled(cluster, tmp_path)
    cluster.revive("n2")
    cluster.run_for(10.0)
    _pacemaker_settled(cluster, tmp_path)
    cluster.partition([["n1", "n2"], ["n3"]])
    cluster.run_for(10.0)
    cluster.sim.start("n3")  # fence_lab's reboot: n3 boots alone, still cut off
    cluster.run_for(10.0)
    assert not cluster.running().get("n3"), "no quorum, no-quorum-policy=stop"
    cluster.heal()
    cluster.run_for(15.0)
    _pacemaker_settled(cluster, tmp_path)
    assert cluster.violations == [] and cluster.lrmd_audit.double_runs() == []


def _fail_counts(cluster: ControllerCluster, node: str, resource: str) -> int:
    root = etree.fromstring(cluster.cib_text())
    values = root.xpath(f"status/node_state[@uname='{node}']//nvpair"
                        f"[starts-with(@name, 'fail-count-{resource}#')]/@value")
    return sum(int(str(v)) for v in values) if isinstance(values, list) else 0


def test_one_failure_counts_once_while_the_dc_is_slow_to_react() -> None:
    """Found in the lab: the DC's scheduler took 5 s on a loaded host, report's 2 s monitor
    failed three times meanwhile, and each repeated rc 7 was reported and counted: fail
    count 5 after one failure, past migration-threshold=2, so report moved instead of
    restarting in place. Pacemaker's executor reports a recurring result only when it
    changes (the controller submits with lrmd_opt_notify_changes_only)."""
    cluster = ControllerCluster(E2E, stonith=True, seed=14)
    cluster.start_all()
    cluster.run_for(10.0)
    assert "report" in cluster.running()["n3"]
    cluster.settings.scheduler_delay = 5.0
    cluster.fail_resource("n3", "report")
    for step in range(10):  # monitors that take a different time each run, as real ones do
        cluster.agents.duration["monitor"] = 0.05 + 0.01 * step
        cluster.run_for(1.0)
    cluster.run_for(10.0)
    assert _fail_counts(cluster, "n3", "report") == 1
    assert "report" in cluster.running()["n3"], "on-fail=restart below the threshold"


def test_a_write_the_view_change_left_unconfirmed_is_sent_again() -> None:
    """Found in the 16-node lab: the cib answers a write still waiting for its replicas
    when the view changes with 102 (outcome unknown), and crmd dropped it: a result never
    reached the DC (which waited out the action's timer) and a join's lrm rewrite was
    lost after its delete (the scheduler probed the node again). crmd sends it again."""
    from cib.api import ViewChanged, view_members
    from crmd.cib_events import attribute_write
    from lab.sim.controller import _writes

    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    ctx = cluster.sim.nodes["gamma"].daemons["crmd"]
    writes = _writes(ctx)
    writes.write(attribute_write("3", "gamma", "probe-marker", "1"))
    cib = cluster.sim.core("gamma", "cib")
    assert isinstance(cib, ReplicaCore)
    while not cib.pending:  # forwarded to the master, not yet confirmed
        cluster.sim.scheduler.step()
    view = cib.view + 1
    for node in cluster.names:  # the next view (the same members) reaches every cib
        cluster.sim.feed(node, "cib", lambda now: ViewChanged(
            now, view, view_members(tuple(cluster.names))))
    cluster.run_for(2.0)
    assert [code for _, _, code in writes.refused] == [102]
    assert b'name="probe-marker" value="1"' in cluster.cib_text()


def test_a_fenced_nodes_history_going_away_does_not_abort_its_failover() -> None:
    """Pacemaker's abort_unless_down: the victim's lrm and attributes are deleted as it is
    fenced (and by attrd as it leaves); the graph that fences it expected that, so the
    failover runs as one transition. In the 16-node lab such an abort landed while the
    fencing ran, and the start waited for a second scheduler run."""
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    dc = cluster.controller("alpha")
    before = dc.transition_id
    cluster.kill("beta")
    cluster.run_for(10.0)
    assert "beta" in cluster.fenced and "app-daemon" in cluster.running()["alpha"]
    assert dc.transition_id == before + 1, "one scheduler run, one transition"
