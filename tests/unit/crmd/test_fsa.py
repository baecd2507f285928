"""The controller FSA end to end: every daemon core of every node in lab.sim.

Pacemaker's own crm_simulate is the judge where it can be: the placement our cluster
reaches from a fresh CIB must be the one Pacemaker plans for it, and the final CIB must
leave Pacemaker nothing to do and show what our fake executors actually run.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crmd.fsa import FsaInput, FsaState, next_state
from lab.sim.cluster import ControllerCluster as Cluster
from tests.oracle import pacemaker_tool

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "cib-3node.xml"
S, In = FsaState, FsaInput


def test_matrix_rows_from_pacemaker() -> None:
    assert next_state(S.PENDING, In.NOT_DC) is S.NOT_DC
    assert next_state(S.ELECTION, In.ELECTION_DC) is S.INTEGRATION
    assert next_state(S.INTEGRATION, In.INTEGRATED) is S.FINALIZE_JOIN
    assert next_state(S.FINALIZE_JOIN, In.FINALIZED) is S.POLICY_ENGINE
    assert next_state(S.POLICY_ENGINE, In.PE_SUCCESS) is S.TRANSITION_ENGINE
    assert next_state(S.TRANSITION_ENGINE, In.TE_SUCCESS) is S.IDLE
    assert next_state(S.TRANSITION_ENGINE, In.PE_CALC) is S.POLICY_ENGINE
    assert next_state(S.IDLE, In.NODE_JOIN) is S.INTEGRATION
    assert next_state(S.NOT_DC, In.ELECTION) is S.ELECTION
    assert next_state(S.STOPPING, In.ERROR) is S.TERMINATE
    assert next_state(S.IDLE, In.INTEGRATED) is S.IDLE, "inputs not in the matrix keep the state"


def _simulate(cib: bytes, tmp_path: Path) -> str:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    path = tmp_path / f"cib-{len(list(tmp_path.iterdir()))}.xml"
    path.write_bytes(cib)
    done = subprocess.run([tool, "-x", str(path), "-S"], capture_output=True, text=True,
                          env={**os.environ, "CIB_file": str(path)}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _started(section: str) -> set[tuple[str, str]]:
    found = set()
    for line in section.splitlines():
        match = re.search(r"\* (\S+)\s+\([^)]*\):\s+Started (\S+)", line)
        if match:
            found.add((match.group(1), match.group(2)))
    return found


def _sections(output: str) -> tuple[str, str, str]:
    current, rest = output.split("Transition Summary:", 1)
    summary, revised = rest.split("Revised Cluster Status:", 1)
    return current, summary.split("Executing Cluster Transition:", 1)[0], revised


def _pacemaker_agrees(cluster: Cluster, tmp_path: Path) -> str:
    """Pacemaker plans nothing more on our CIB and sees what our executors run."""
    current, summary, _ = _sections(_simulate(cluster.cib_text(), tmp_path))
    assert summary.strip() == "", summary
    assert _started(current) == cluster.placement()
    return current


@pytest.mark.oracle
@pytest.mark.parametrize("via_cib", [False, True], ids=["direct", "via-cib"])
def test_cold_start_reaches_pacemakers_placement_with_one_idle_dc(tmp_path: Path,
                                                                 via_cib: bool) -> None:
    expected = _started(_sections(_simulate(EXAMPLE.read_bytes(), tmp_path))[2])
    cluster = Cluster(EXAMPLE, results_from_cib=via_cib)
    cluster.start_all()
    cluster.run_for(10.0)
    dc = cluster.dc()
    assert dc is not None and cluster.controller(dc).state is S.IDLE
    assert {cluster.controller(n).state for n in cluster.names if n != dc} == {S.NOT_DC}
    assert cluster.placement() == expected
    current = _pacemaker_agrees(cluster, tmp_path)
    assert "Online: [ alpha beta gamma ]" in current


@pytest.mark.oracle
@pytest.mark.parametrize("via_cib", [False, True], ids=["direct", "via-cib"])
def test_lost_node_is_fenced_before_its_resources_start_elsewhere(tmp_path: Path,
                                                                  via_cib: bool) -> None:
    cluster = Cluster(EXAMPLE, stonith=True, results_from_cib=via_cib)
    cluster.start_all()
    cluster.run_for(10.0)
    assert ("app-data", "beta") in cluster.placement()
    killed_at = cluster.now
    cluster.kill("beta")
    cluster.run_for(10.0)
    assert cluster.fenced == ["beta"]
    fenced_at = cluster.fence_requests[0][0]
    moved = [t for node in ("alpha", "gamma") for t, rsc in cluster.agent_runs(node, "start")
             if t > killed_at and rsc in ("service-ip", "app-data")]
    assert moved and min(moved) > fenced_at
    assert {("service-ip", "alpha"), ("app-data", "alpha"),
            ("app-daemon", "alpha")} <= cluster.placement()
    current = _pacemaker_agrees(cluster, tmp_path)
    assert "OFFLINE: [ beta ]" in current


@pytest.mark.oracle
def test_dc_loss_elects_a_new_dc_and_restarts_nothing_needlessly(tmp_path: Path) -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    assert cluster.dc() == "alpha"
    beta_starts = cluster.starts("beta")
    cluster.kill("alpha")
    cluster.run_for(10.0)
    assert cluster.dc() == "beta" and cluster.controller("beta").state is S.IDLE
    assert cluster.fenced == ["alpha"]
    new_starts = cluster.starts("beta")[len(beta_starts):]
    assert not {"service-ip", "app-data", "app-daemon"} & set(new_starts), new_starts
    _pacemaker_agrees(cluster, tmp_path)


@pytest.mark.oracle
@pytest.mark.parametrize("via_cib", [False, True], ids=["direct", "via-cib"])
def test_failed_monitor_is_recovered_and_counted(tmp_path: Path, via_cib: bool) -> None:
    cluster = Cluster(EXAMPLE, stonith=True, results_from_cib=via_cib)
    cluster.start_all()
    cluster.run_for(10.0)
    starts_before = cluster.starts("alpha").count("heartbeat-probe")
    cluster.fail_resource("alpha", "heartbeat-probe")
    cluster.run_for(15.0)  # the 10 s monitor notices, the DC recovers in place
    assert cluster.starts("alpha").count("heartbeat-probe") == starts_before + 1
    assert ("heartbeat-probe", "alpha") in cluster.placement()
    text = cluster.cib_text().decode()
    assert 'name="fail-count-heartbeat-probe#monitor_10000" value="1"' in text
    _pacemaker_agrees(cluster, tmp_path)


def test_same_inputs_same_run() -> None:
    runs = []
    for _ in range(2):
        cluster = Cluster(EXAMPLE, stonith=True)
        cluster.start_all()
        cluster.run_for(10.0)
        cluster.kill("beta")
        cluster.run_for(10.0)
        runs.append((cluster.trace_lines(), cluster.cib_text()))
    assert runs[0] == runs[1]


@pytest.mark.oracle
def test_fenced_node_rejoins_cleanly_and_nothing_moves(tmp_path: Path) -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    cluster.kill("gamma")  # runs nothing
    cluster.run_for(10.0)
    assert cluster.fenced == ["gamma"]
    before = cluster.placement()
    revived_at = cluster.now
    cluster.revive("gamma")
    cluster.run_for(10.0)
    gamma = cluster.controller("gamma")
    assert gamma.state is S.NOT_DC and gamma.dc == "alpha"
    assert cluster.placement() == before
    probes = [rsc for t, rsc in cluster.requests("gamma", "monitor") if t > revived_at]
    assert set(probes) >= {"service-ip", "app-data", "heartbeat-probe"}, "re-probed"
    current = _pacemaker_agrees(cluster, tmp_path)
    assert "Online: [ alpha beta gamma ]" in current


def test_partition_minority_stops_majority_fences_and_takes_over() -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    assert ("app-data", "beta") in cluster.placement()
    cluster.partition([["alpha", "gamma"], ["beta"]])
    cluster.run_for(15.0)
    assert cluster.fenced == ["beta"]
    assert {("service-ip", "alpha"), ("app-data", "alpha"),
            ("app-daemon", "alpha")} <= cluster.placement()
    assert cluster.violations == [], "a resource ran on two nodes at once"


def test_partition_without_fencing_stops_the_minority_and_heals() -> None:
    cluster = Cluster(EXAMPLE)
    cluster.start_all()
    cluster.run_for(10.0)
    cluster.partition([["alpha", "gamma"], ["beta"]])
    cluster.run_for(15.0)
    assert cluster.controller("beta").is_dc and not cluster.controller("beta").quorate
    assert not cluster.running()["beta"], "no-quorum-policy=stop"
    cluster.heal()
    cluster.run_for(15.0)
    assert cluster.dc() == "alpha" and cluster.controller("beta").state is S.NOT_DC
    assert len(cluster.placement()) == 4


@pytest.mark.oracle
def test_node_shutdown_moves_resources_then_leaves_without_fencing(tmp_path: Path) -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    assert ("app-data", "beta") in cluster.placement()
    cluster.request_shutdown("beta")
    cluster.run_for(10.0)
    assert cluster.stopped == ["beta"] and cluster.fenced == []
    assert {("service-ip", "alpha"), ("app-data", "alpha"),
            ("app-daemon", "alpha")} <= cluster.placement()
    stops = cluster.requests("beta", "stop")
    assert len(stops) == 3, "beta stopped its three resources before leaving"
    assert cluster.violations == []
    current = _pacemaker_agrees(cluster, tmp_path)
    assert "OFFLINE: [ beta ]" in current


@pytest.mark.oracle
def test_controller_restart_gets_its_node_fenced_as_pacemaker_does(tmp_path: Path) -> None:
    # the new controller proves the old one died (Pacemaker's DC sees it leave the process
    # group although pacemakerd respawns it): the node is fenced, its resources move
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    moved = {rsc for rsc, node in cluster.placement() if node == "beta"}
    cluster.restart_controller("beta")
    cluster.run_for(15.0)
    assert cluster.dc() == "alpha" and cluster.fenced == ["beta"]
    assert {node for rsc, node in cluster.placement() if rsc in moved} <= {"alpha", "gamma"}
    current = _pacemaker_agrees(cluster, tmp_path)
    assert "OFFLINE: [ beta ]" in current


def _with_meta(path: Path, tmp_path: Path, rsc: str, name: str, value: str) -> Path:
    from lxml import etree

    cib = etree.parse(str(path)).getroot()
    primitive = cib.find(f".//primitive[@id='{rsc}']")
    assert primitive is not None
    meta = etree.SubElement(primitive, "meta_attributes", id=f"{rsc}-meta")
    etree.SubElement(meta, "nvpair", id=f"{rsc}-{name}", name=name, value=value)
    out = tmp_path / "cib-meta.xml"
    out.write_bytes(etree.tostring(cib))
    return out


@pytest.mark.oracle
def test_migration_threshold_moves_a_failed_resource(tmp_path: Path) -> None:
    cluster = Cluster(_with_meta(EXAMPLE, tmp_path, "heartbeat-probe", "migration-threshold",
                                 "1"), stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    assert ("heartbeat-probe", "alpha") in cluster.placement()
    cluster.fail_resource("alpha", "heartbeat-probe")
    cluster.run_for(15.0)
    moved = {node for rsc, node in cluster.placement() if rsc == "heartbeat-probe"}
    assert len(moved) == 1 and moved != {"alpha"}
    _pacemaker_agrees(cluster, tmp_path)


@pytest.mark.oracle
def test_failed_start_bans_the_node_and_the_group_goes_elsewhere(tmp_path: Path) -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.fail_next("beta", "app-data", "start")
    cluster.start_all()
    cluster.run_for(15.0)
    text = cluster.cib_text().decode()
    assert 'name="fail-count-app-data#start_0" value="INFINITY"' in text
    placement = cluster.placement()
    # app must run with service-ip and never on gamma: both move to alpha
    assert {("service-ip", "alpha"), ("app-data", "alpha"),
            ("app-daemon", "alpha")} <= placement
    _pacemaker_agrees(cluster, tmp_path)


@pytest.mark.parametrize("via_cib", [False, True], ids=["direct", "via-cib"])
def test_an_action_that_never_answers_times_out_and_is_recovered(via_cib: bool) -> None:
    cluster = Cluster(EXAMPLE, stonith=True, results_from_cib=via_cib)
    cluster.lose_request("alpha", "heartbeat-probe", "start")
    cluster.start_all()
    cluster.run_for(10.0)
    assert not any(rsc == "heartbeat-probe" for rsc, _ in cluster.placement())
    cluster.run_for(80.0)  # the start's 20 s timeout + 60 s cluster-delay
    text = cluster.cib_text().decode()
    assert "Controller on alpha did not return result in time" in text
    assert 'name="fail-count-heartbeat-probe#start_0" value="INFINITY"' in text
    stamp = re.search(r'name="last-failure-heartbeat-probe#start_0" value="(\d+)"', text)
    wall0 = cluster.sim.scheduler.wall() - cluster.now
    assert stamp is not None and 80 <= int(stamp.group(1)) - wall0 <= 90, "epoch of the expiry"
    cluster.run_for(10.0)
    where = {node for rsc, node in cluster.placement() if rsc == "heartbeat-probe"}
    assert len(where) == 1 and where != {"alpha"}


def test_a_stepped_wall_clock_is_followed_by_the_controllers_stamps() -> None:
    """The wall clock is set a day ahead while a start hangs: the DC's timeout record is
    stamped with the new time (it arrives with the timer), not with the time taken when
    the transition started."""
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.lose_request("alpha", "heartbeat-probe", "start")
    cluster.start_all()
    cluster.run_for(10.0)
    wall0 = cluster.sim.scheduler.wall() - cluster.now
    cluster.sim.scheduler.clock.step_wall(86400.0)
    cluster.run_for(80.0)  # the start's 20 s timeout + 60 s cluster-delay
    stamp = re.search(r'name="last-failure-heartbeat-probe#start_0" value="(\d+)"',
                      cluster.cib_text().decode())
    assert stamp is not None and 86400 + 80 <= int(stamp.group(1)) - wall0 <= 86400 + 90


def test_fencing_that_keeps_failing_is_given_up_after_max_attempts() -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    cluster.break_fencing()
    cluster.kill("beta")
    cluster.run_for(60.0)
    assert [target for _, _, target, _ in cluster.fence_requests] == ["beta"] * 10, \
        "stonith-max-attempts"
    assert cluster.controller("alpha").state is S.IDLE
    assert not any(rsc in ("app-data", "service-ip") for rsc, _ in cluster.placement()), \
        "nothing of the unfenced node starts elsewhere"


FAULT = st.sampled_from(["kill", "revive", "split", "heal", "restart"])
# A node that dies unseen by the next DC is settled only after two lost-action rounds (its
# probes, then its stops: each the operation's timeout + cluster-delay, 80 s) and its
# fencing, as Pacemaker's controller does (tests/unit/lab/test_sim_unseen_peer_state.py)
SETTLE_S, SETTLE_MAX_S = 120.0, 240.0


def _settled(cluster: Cluster) -> bool:
    dc = cluster.dc()
    return (dc is not None and cluster.controller(dc).state is S.IDLE
            and all(cluster.controller(n).dc == dc for n in cluster.alive))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(FAULT, st.integers(0, 2), st.sampled_from([0.0, 0.02, 0.3, 3.0])),
                min_size=1, max_size=5),
       st.sampled_from([0.05, 0.5, 5.0]))
# a controller restarted while its fence device's start ran: the pending record must be in the
# CIB already (a held-back pending record let the DC start the device on a second node)
@example(faults=[("restart", 0, 0.0)], warmup=0.5)
# beta dies as a cut heals: alpha, cut off before any view formed, becomes DC with gamma's
# CIB, where beta is still online; beta's probes and stops are lost, then beta is fenced
@example(faults=[("split", 0, 3.0), ("kill", 1, 0.0)], warmup=0.05)
def test_any_fault_sequence_settles_on_one_idle_dc_without_double_runs(
        faults: list[tuple[str, int, float]], warmup: float) -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(warmup)
    for fault, pick, gap in faults:
        alive, dead = sorted(cluster.alive), sorted(set(cluster.names) - cluster.alive)
        if fault == "kill" and len(alive) > 1:
            cluster.kill(alive[pick % len(alive)])
        elif fault == "revive" and dead:
            cluster.revive(dead[pick % len(dead)])
        elif fault == "split" and len(alive) > 1:
            cut = 1 + pick % (len(alive) - 1)
            cluster.partition([alive[:cut], alive[cut:]])
        elif fault == "heal":
            cluster.heal()
        elif fault == "restart":
            cluster.restart_controller(alive[pick % len(alive)])
        cluster.run_for(gap)
    cluster.heal()
    cluster.run_for(SETTLE_S)
    deadline = cluster.now + SETTLE_MAX_S - SETTLE_S
    while not _settled(cluster) and cluster.now < deadline:
        cluster.run_for(5.0)
    dc = cluster.dc()
    assert dc is not None and cluster.controller(dc).state is S.IDLE
    assert all(cluster.controller(n).dc == dc for n in cluster.alive)
    assert {cluster.controller(n).state for n in cluster.alive if n != dc} <= {S.NOT_DC}
    assert cluster.violations == [], "a resource ran on two nodes at once"
