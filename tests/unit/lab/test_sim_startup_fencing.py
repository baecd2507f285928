"""Issue 10, startup fencing: a configured node that never boots, in the whole-cluster simulator.

Pacemaker 2.1.5's DC writes a ``node_state`` only for peers it has a membership state for
(`create_node_state_update`: "not seen yet" otherwise), so a node that never booted has
none, and its scheduler treats it as unseen: UNCLEAN under startup-fencing=true (the
default) and fenced as soon as the partition has quorum; merely OFFLINE under
startup-fencing=false. After the fencing the DC writes it in_ccm="false" join="down"
expected="down" (`send_stonith_update` adds in_ccm for a never-seen peer), which both
schedulers read as cleanly down: it is fenced exactly once, not in a loop. Facts checked
with Debian's crm_simulate -LS and crm_mon -1 on CIBs with and without that node_state.

Timing: Pacemaker's controllers wait dc-deadtime (20 s by default) after their start before
the first election, so no scheduler runs, and nothing is fenced, before then; a node that
boots within that window joins unharmed. Ours elects at once and emulates the window as the
DC's startup grace (`crmd.startup_grace`): while a configured node was never seen, the DC
plans nothing until dc-deadtime (configured, else 20 s) after its controller started; a
node that never boots is then fenced once, before anything starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from lab.sim.cluster import ControllerCluster
from tests.oracle import pacemaker_tool, run_on_cib_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-e2e.xml"
ABSENT = "n3"
CRM_MON, CRM_SIMULATE = pacemaker_tool("crm_mon"), pacemaker_tool("crm_simulate")
ORACLES = pytest.mark.skipif(CRM_MON is None or CRM_SIMULATE is None,
                             reason="Debian's crm_mon/crm_simulate (pacemaker-cli-utils) absent")


def _cib(startup_fencing: str | None = None, dc_deadtime: str | None = None) -> bytes:
    root = etree.fromstring(EXAMPLE.read_bytes())
    options = root.find("configuration/crm_config/cluster_property_set")
    assert options is not None
    for name, value in (("startup-fencing", startup_fencing), ("dc-deadtime", dc_deadtime)):
        if value is not None:
            etree.SubElement(options, "nvpair", id=f"opt-{name}", name=name, value=value)
    return etree.tostring(root)


def _state(cluster: ControllerCluster, node: str) -> dict[str, str] | None:
    dc = cluster.dc()
    assert dc is not None
    state = etree.fromstring(cluster.cib_text(dc)).find(f"status/node_state[@uname='{node}']")
    if state is None:
        return None
    return {k: str(state.get(k)) for k in ("in_ccm", "join", "expected") if k in state.attrib}


@pytest.fixture(scope="module")
def two_of_three() -> ControllerCluster:
    cluster = ControllerCluster(_cib(), stonith=True, seed=11)
    cluster.start_only("n1", "n2")
    cluster.run_for(30.0)
    return cluster


def test_a_node_that_never_boots_is_fenced_exactly_once_when_quorate(
        two_of_three: ControllerCluster) -> None:
    assert two_of_three.fenced == [ABSENT]
    assert [(target, action) for _, _, target, action in two_of_three.fence_requests] == [
        (ABSENT, "reboot")]
    assert two_of_three.violations == []


def test_the_fenced_never_seen_node_is_written_cleanly_down(
        two_of_three: ControllerCluster) -> None:
    assert _state(two_of_three, ABSENT) == {"in_ccm": "false", "join": "down",
                                            "expected": "down"}


@pytest.mark.oracle
@ORACLES
def test_pacemaker_reads_the_fenced_node_as_offline_and_plans_no_more_fencing(
        two_of_three: ControllerCluster, tmp_path: Path) -> None:
    assert CRM_MON is not None and CRM_SIMULATE is not None
    dc = two_of_three.dc()
    assert dc is not None
    cib = two_of_three.cib_text(dc)
    shown = run_on_cib_file(CRM_MON, cib, tmp_path, "-1")
    assert f"OFFLINE: [ {ABSENT} ]" in shown and "UNCLEAN" not in shown, shown
    planned = run_on_cib_file(CRM_SIMULATE, cib, tmp_path, "-LS")
    assert "Fence" not in planned, planned


def test_without_quorum_nothing_is_fenced_until_a_second_node_boots() -> None:
    cluster = ControllerCluster(_cib(), stonith=True, seed=5)
    cluster.start_only("n1")
    cluster.run_for(20.0)
    assert cluster.fenced == []
    assert _state(cluster, ABSENT) is None  # never seen: no node_state at all
    cluster.revive("n2")
    cluster.run_for(20.0)
    assert cluster.fenced == [ABSENT]
    assert cluster.violations == []


def test_a_fenced_node_that_boots_later_joins_and_is_not_fenced_again() -> None:
    cluster = ControllerCluster(_cib(), stonith=True, seed=7)
    cluster.start_only("n1", "n2")
    cluster.run_for(25.0)  # past the 20 s startup grace
    assert cluster.fenced == [ABSENT]
    cluster.revive(ABSENT)
    cluster.run_for(20.0)
    assert cluster.fenced == [ABSENT]
    assert _state(cluster, ABSENT) == {"in_ccm": "true", "join": "member",
                                       "expected": "member"}
    assert cluster.violations == []


@pytest.fixture(scope="module")
def without_startup_fencing() -> ControllerCluster:
    cluster = ControllerCluster(_cib("false"), stonith=True, seed=11)
    cluster.start_only("n1", "n2")
    cluster.run_for(20.0)
    return cluster


def test_with_startup_fencing_false_the_node_is_not_fenced_and_has_no_node_state(
        without_startup_fencing: ControllerCluster) -> None:
    assert without_startup_fencing.fenced == []
    assert _state(without_startup_fencing, ABSENT) is None


@pytest.mark.oracle
@ORACLES
def test_pacemaker_shows_the_unseen_node_offline_with_startup_fencing_false(
        without_startup_fencing: ControllerCluster, tmp_path: Path) -> None:
    assert CRM_MON is not None
    dc = without_startup_fencing.dc()
    assert dc is not None
    shown = run_on_cib_file(CRM_MON, without_startup_fencing.cib_text(dc), tmp_path, "-1")
    assert f"OFFLINE: [ {ABSENT} ]" in shown and "UNCLEAN" not in shown, shown


# Pacemaker's window: its controllers vote only once dc-deadtime (default 20 s) has passed
# since their start, so nothing is scheduled, and no unseen node fenced, before then.
PACEMAKER_DC_DEADTIME = 20.0


def test_a_node_booting_within_dc_deadtime_is_not_fenced_and_joins() -> None:
    cluster = ControllerCluster(_cib(), stonith=True, seed=11)
    cluster.start_only("n1", "n2")
    cluster.run_for(12.0)  # n1 and n2 formed a quorate partition with a DC long ago
    assert cluster.dc() is not None and cluster.fenced == []
    cluster.revive(ABSENT)
    cluster.run_for(30.0)
    assert cluster.fenced == [] and cluster.fence_requests == []
    assert _state(cluster, ABSENT) == {"in_ccm": "true", "join": "member",
                                       "expected": "member"}
    assert cluster.violations == []


def test_a_node_that_never_boots_is_fenced_once_when_dc_deadtime_has_passed() -> None:
    cluster = ControllerCluster(_cib(), stonith=True, seed=3)
    cluster.start_only("n1", "n2")
    cluster.run_for(PACEMAKER_DC_DEADTIME - 1.0)
    assert cluster.fenced == [] and _state(cluster, ABSENT) is None
    cluster.run_for(20.0)
    assert cluster.fenced == [ABSENT]
    [(when, _, target, action)] = cluster.fence_requests
    assert (target, action) == (ABSENT, "reboot")
    assert PACEMAKER_DC_DEADTIME <= when < PACEMAKER_DC_DEADTIME + 2.0
    starts = [float(line.split()[0]) for line in cluster.trace_lines()
              if "lrmd op: OpCompleted" in line and "action='start'" in line
              and "resource='fencing'" not in line]
    assert starts and min(starts) > when, "nothing starts before the unseen node is fenced"
    assert cluster.violations == []


def test_a_configured_dc_deadtime_sets_the_window() -> None:
    cluster = ControllerCluster(_cib(dc_deadtime="5s"), stonith=True, seed=3)
    cluster.start_only("n1", "n2")
    cluster.run_for(20.0)
    [(when, _, target, _)] = cluster.fence_requests
    assert target == ABSENT and 5.0 <= when < 7.0
    assert cluster.fenced == [ABSENT]
