"""Issue 10, fencing: the node_state of a node the DC fenced, as Pacemaker 2.1.5 leaves it.

Pacemaker's `send_stonith_update` writes only join="down" expected="down" (in_ccm and crmd
come from the membership writes, since the node may already be back), adding
in_ccm="false" only for a node its controller never saw in a view. A kill -9'd node thus
ends as in_ccm="false" crmd="offline" join="down" expected="down", which Pacemaker's
crm_mon shows as OFFLINE and its scheduler does not fence again; a never-seen node written
without in_ccm would stay UNCLEAN ("peer has not been seen by the cluster").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from crmd.fencing import fenced_updates
from crmd.messages import ModifyCib
from lab.sim.cluster import ControllerCluster
from tests.oracle import pacemaker_tool, run_on_cib_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-e2e.xml"
VICTIM = "n2"  # runs the group
CRM_MON, CRM_SIMULATE = pacemaker_tool("crm_mon"), pacemaker_tool("crm_simulate")


@pytest.fixture(scope="module")
def fenced_cib() -> bytes:
    cluster = ControllerCluster(EXAMPLE, stonith=True, seed=11)
    cluster.start_all()
    cluster.run_for(10.0)
    cluster.kill(VICTIM)
    cluster.run_for(10.0)
    assert cluster.fenced == [VICTIM]
    return cluster.cib_text(cluster.dc())


def _state(cib: bytes) -> etree._Element:
    state = etree.fromstring(cib).find(f"status/node_state[@uname='{VICTIM}']")
    assert state is not None
    return state


def test_a_killed_and_fenced_node_is_cleanly_down_with_nothing_below_it(
        fenced_cib: bytes) -> None:
    state = _state(fenced_cib)
    assert {k: state.get(k) for k in ("in_ccm", "crmd", "join", "expected")} == {
        "in_ccm": "false", "crmd": "offline", "join": "down", "expected": "down"}
    assert state.get("crm-debug-origin") == "send_stonith_update"
    assert len(state) == 0, "lrm and transient_attributes deleted"


def test_the_fencing_write_leaves_membership_attributes_to_membership() -> None:
    seen, = [e for e in fenced_updates("2", "n2") if isinstance(e, ModifyCib)]
    assert seen.xml == ('<node_state id="2" uname="n2" join="down" expected="down" '
                        'crm-debug-origin="send_stonith_update"/>')
    unseen, = [e for e in fenced_updates("2", "n2", seen=False) if isinstance(e, ModifyCib)]
    assert unseen.xml == ('<node_state id="2" uname="n2" in_ccm="false" join="down" '
                          'expected="down" crm-debug-origin="send_stonith_update"/>')


@pytest.mark.oracle
@pytest.mark.skipif(CRM_MON is None or CRM_SIMULATE is None,
                    reason="Debian's crm_mon/crm_simulate (pacemaker-cli-utils) absent")
def test_pacemaker_shows_the_fenced_node_offline_and_plans_no_fencing(
        fenced_cib: bytes, tmp_path: Path) -> None:
    assert CRM_MON is not None and CRM_SIMULATE is not None
    shown = run_on_cib_file(CRM_MON, fenced_cib, tmp_path, "-1")
    assert f"OFFLINE: [ {VICTIM} ]" in shown and "UNCLEAN" not in shown, shown
    planned = run_on_cib_file(CRM_SIMULATE, fenced_cib, tmp_path, "-LS")
    assert "Fence" not in planned.split("Transition Summary:")[1], planned


@pytest.mark.oracle
@pytest.mark.skipif(CRM_MON is None, reason="Debian's crm_mon (pacemaker-cli-utils) absent")
def test_a_never_seen_node_needs_in_ccm_false_to_stop_being_unclean(
        fenced_cib: bytes, tmp_path: Path) -> None:
    assert CRM_MON is not None
    for seen, expected in ((True, f"Node {VICTIM}: UNCLEAN (offline)"),
                           (False, f"OFFLINE: [ {VICTIM} ]")):
        root = etree.fromstring(fenced_cib)
        status, old = root.find("status"), root.find(f"status/node_state[@uname='{VICTIM}']")
        assert status is not None and old is not None
        status.remove(old)
        write, = [e for e in fenced_updates("2", VICTIM, seen=seen) if isinstance(e, ModifyCib)]
        status.append(etree.fromstring(write.xml))  # the only write a never-seen node gets
        assert expected in run_on_cib_file(CRM_MON, etree.tostring(root), tmp_path, "-1"), seen
