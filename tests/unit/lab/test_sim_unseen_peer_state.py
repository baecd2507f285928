"""A node that dies unseen by the next DC: its actions are lost, the transition replans,
and the node is fenced.

alpha is cut off before any view forms; beta and gamma form one (beta DC, writing both
online); beta dies as the cut heals, and alpha becomes DC of {alpha, gamma} with gamma's
CIB. Pacemaker 2.1.5's `create_node_state_update` writes nothing for a peer without a
membership state ("not seen yet"), so beta stays in_ccm="true" crmd="online" join="member"
and Pacemaker's scheduler plans work on it. No result can come back: the DC's action timer
(the operation's timeout + cluster-delay) fails each action ("Action lost", recorded as a
timeout), the transition is aborted and replanned: first beta's probes, then the stops of
the recovery the failed probes ask for, whose failure fences beta. The cluster settles,
after two lost-action rounds. Hypothesis found it (test_fsa's fault-sequence test).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from crmd.fsa import FsaState
from lab.sim.cluster import ControllerCluster
from tests.oracle import pacemaker_tool, run_on_cib_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
CRM_SIMULATE = pacemaker_tool("crm_simulate")
GRACE_S = 20.0  # dc-deadtime default: alpha's first plan waits for the never-seen beta
LOST_ROUND_S = 20.0 + 60.0  # the default operation timeout + cluster-delay


def _beta_dies_unseen_by_alpha() -> ControllerCluster:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(0.05)
    cluster.partition([["alpha"], ["beta", "gamma"]])
    cluster.run_for(3.0)
    cluster.kill("beta")
    cluster.heal()
    return cluster


def _beta_state(cluster: ControllerCluster) -> etree._Element:
    state = etree.fromstring(cluster.cib_text("alpha")).find(
        "status/node_state[@uname='beta']")
    assert state is not None
    return state


def test_the_dc_keeps_an_unseen_dead_peer_online_and_pacemaker_plans_on_it(
        tmp_path: Path) -> None:
    if CRM_SIMULATE is None:
        pytest.skip("Pacemaker's crm_simulate is not installed")
    cluster = _beta_dies_unseen_by_alpha()
    cluster.run_for(GRACE_S - 4.0)
    assert cluster.dc() == "alpha" and "beta" not in cluster.controller("alpha").members
    state = _beta_state(cluster)
    assert (state.get("in_ccm"), state.get("crmd"), state.get("join")) == (
        "true", "online", "member"), "gamma's record: alpha never saw beta to rewrite it"
    plan = run_on_cib_file(CRM_SIMULATE, cluster.cib_text("alpha"), tmp_path, "-L", "-S")
    assert re.search(r"\(\s*beta\s*\)", plan), plan


def test_lost_actions_on_the_unseen_peer_fail_the_transition_and_end_in_its_fencing(
) -> None:
    cluster = _beta_dies_unseen_by_alpha()
    cluster.run_for(GRACE_S + LOST_ROUND_S + 5.0)
    lost = {op.get("operation_key"): (op.get("rc-code"), op.get("op-status"))
            for op in _beta_state(cluster).iterfind("lrm/lrm_resources/*/lrm_rsc_op")}
    assert lost and set(lost.values()) == {("1", "2")}, "every probe on beta timed out"
    assert all(key.endswith("_monitor_0") for key in lost), lost
    assert cluster.fence_requests == [], "a failed probe alone does not fence"
    cluster.run_for(LOST_ROUND_S + 20.0)
    assert [(dc, target) for _, dc, target, _ in cluster.fence_requests] == [
        ("alpha", "beta")], "the lost stops fence beta"
    assert cluster.fence_requests[0][0] >= GRACE_S + 2 * LOST_ROUND_S
    assert cluster.controller("alpha").state is FsaState.IDLE
    assert cluster.controller("gamma").state is FsaState.NOT_DC
    assert cluster.violations == []
