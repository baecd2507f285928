"""Scheduler rules, one hand-written CIB each (tests/unit/pengine/scenarios.py).

The expected Transition Summaries below were produced by Debian's crm_simulate 2.1.5 on
exactly these CIBs (LC_ALL=C crm_simulate -x FILE -S), not by our engine;
test_oracle_agrees re-runs crm_simulate when it is installed to keep them honest.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from pengine.api import schedule
from tests.oracle import pacemaker_tool
from tests.unit.pengine.scenarios import build

SCENARIOS = build()

ORACLE_SUMMARIES: dict[str, tuple[str, ...]] = {
    "fresh_start_balances": (
        "* Start r1 ( node1 )",
        "* Start r2 ( node2 )",
        "* Start r3 ( node1 )",
    ),
    "tie_break_current_node_no_stickiness": (
        "* Move r2 ( node2 -> node1 )",
    ),
    "stickiness_beats_location": (
    ),
    "location_infinity_moves": (
        "* Move r1 ( node2 -> node1 )",
    ),
    "standby_moves": (
        "* Move r1 ( node1 -> node2 )",
    ),
    "failed_monitor_recovers_in_place": (
        "* Recover r1 ( node1 )",
    ),
    "migration_threshold_moves": (
        "* Recover r1 ( node1 -> node2 )",
    ),
    "failure_timeout_expired": (
    ),
    "no_quorum_stop": (
        "* Stop r1 ( node1 ) due to no quorum",
        "* Start r2 ( node1 ) due to no quorum (blocked)",
    ),
    "no_quorum_freeze": (
        "* Start r2 ( node1 ) due to quorum freeze (blocked)",
    ),
    "no_quorum_ignore": (
        "* Start r2 ( node1 )",
    ),
    "target_role_stopped": (
        "* Stop r1 ( node1 ) due to node availability",
    ),
    "unmanaged_prints_nothing": (
    ),
    "maintenance_mode_prints_nothing": (
    ),
    "group_starts_together": (
        "* Start x ( node1 )",
        "* Start a ( node2 )",
        "* Start b ( node2 )",
        "* Start c ( node2 )",
    ),
    "group_location_moves_all": (
        "* Move a ( node1 -> node2 )",
        "* Move b ( node1 -> node2 )",
        "* Move c ( node1 -> node2 )",
    ),
    "group_member_banned_stops_later_members": (
        "* Stop b ( node1 ) due to node availability",
        "* Stop c ( node1 ) due to node availability",
    ),
    "order_mandatory_restarts_then": (
        "* Move A ( node1 -> node2 )",
        "* Restart B ( node1 ) due to required A start",
    ),
    "order_unrunnable_first_blocks_then": (
        "* Start B ( node1 ) due to unrunnable A start (blocked)",
    ),
    "order_optional_ignored": (
        "* Start B ( node1 )",
    ),
    "colocation_follows_primary": (
        "* Start B ( node2 )",
    ),
    "anti_colocation_separates": (
        "* Move B ( node2 -> node1 )",
    ),
    "colocation_dependent_preference_moves_primary": (
        "* Start A ( node2 )",
        "* Start B ( node2 )",
    ),
    "fencing_lost_node": (
        "* Fence (reboot) node2 'peer is no longer part of the cluster'",
        "* Move r1 ( node2 -> node1 )",
    ),
    "fencing_action_off": (
        "* Fence (off) node2 'peer is no longer part of the cluster'",
        "* Move r1 ( node2 -> node1 )",
    ),
    "fencing_unseen_node": (
        "* Fence (reboot) node2 'node is unclean'",
        "* Start fencer ( node1 )",
    ),
    "stonith_without_device_blocks": (
    ),
    "orphan_is_stopped": (
        "* Stop ghost ( node1 ) due to node availability",
    ),
    "location_rule_node_attributes": (
        "* Start r1 ( node3 )",
    ),
    "date_rule_in_effect": (
        "* Start r1 ( node2 )",
    ),
    "date_rule_not_yet": (
        "* Start r1 ( node1 )",
    ),
    "on_fail_ignore": (
        "* Move r2 ( node1 -> node2 )",
    ),
    "on_fail_block": (
        "* Move r2 ( node1 -> node2 )",
    ),
    "on_fail_stop": (
        "* Stop r1 ( node1 ) due to node availability",
    ),
    "on_fail_standby": (
        "* Recover r1 ( node1 -> node2 )",
        "* Move r2 ( node1 -> node2 )",
    ),
    "multiply_active_restarts": (
        "* Restart r1 ( node1 )",
    ),
    "definition_change_restarts": (
        "* Restart r1 ( node1 ) due to resource definition change",
    ),
    "asymmetric_cluster_needs_location": (
        "* Start r1 ( node2 )",
    ),
    "pending_node_blocks_starts": (
    ),
    "shutdown_node_moves_resources": (
        "* Move r1 ( node1 -> node2 )",
    ),
    "priority_orders_assignment": (
        "* Start high ( node1 )",
    ),
    "clone_starts_one_per_node": (
        "* Start r:0 ( node1 )",
        "* Start r:1 ( node2 )",
        "* Start r:2 ( node3 )",
    ),
    "clone_max_limits_instances": (
        "* Start r:0 ( node1 )",
        "* Start r:1 ( node2 )",
    ),
    "clone_instance_stays_on_standby_free_nodes": (
        "* Move r:0 ( node1 -> node3 )",
    ),
    "order_clone_then_primitive": (
        "* Start r:0 ( node2 )",
        "* Start r:1 ( node3 )",
        "* Start x ( node2 )",
    ),
    "promotable_promotes_best_score": (
        "* Promote s:1 ( Unpromoted -> Promoted node2 )",
    ),
    "promotable_demotes_on_score_change": (
        "* Restart s:0 ( Promoted -> Unpromoted node1 ) due to resource definition change",
        "* Promote s:1 ( Unpromoted -> Promoted node2 )",
    ),
    "migration_with_allow_migrate": (
        "* Migrate vm ( node1 -> node2 )",
    ),
    "utilization_capacity_separates": (
        "* Start big ( node1 )",
        "* Start small ( node2 )",
    ),
    "utilization_colocated_prefers_most_capable": (
        "* Start a ( node2 )",
    ),
    "clone_lost_node_history_is_orphan": (
        "* Fence (reboot) node3 'peer is no longer part of the cluster'",
        "* Stop r:2 ( node3 ) due to node availability",
    ),
    "cloned_group_orphans_share_instance": (
        "* Stop a:1 ( node1 ) due to node availability",
        "* Stop b:1 ( node1 ) due to node availability",
    ),
    "group_params_inherited": (
        "* Restart r ( node1 ) due to resource definition change",
    ),
    "unique_clone_rebalances": (
        "* Move p:1 ( node1 -> node2 )",
    ),
    "interleave_without_partner_stays_stopped": (
        "* Start p1:0 ( node2 )",
        "* Start p1:1 ( node3 )",
        "* Start p2:1 ( node2 )",
        "* Start p2:2 ( node3 )",
    ),
    "instances_sorted_by_scores": (
        "* Start p:0 ( node1 )",
        "* Promote p:1 ( Stopped -> Promoted node2 )",
    ),
    "failed_demote_block_stays_promoted": (),
    "failed_demote_block_on_standby_node": (),
    "promoted_with_later_group": (
        "* Promote p:1 ( Unpromoted -> Promoted node2 )",
    ),
    "failed_instance_recovers_in_place": (
        "* Recover q:0 ( node1 )",
        "* Move q:1 ( node2 -> node3 )",
    ),
    "failed_promotable_instance_recovers_in_place": (
        "* Recover q:1 ( Unpromoted -> Promoted node2 )",
    ),
    "anonymous_clone_orphans_numbered_on": (
        "* Stop r:1 ( node1 ) due to node availability",
        "* Stop r:2 ( node1 ) due to node availability",
    ),
    "utilization_clone_rollback_frees_capacity": (
        "* Start x ( node1 )",
        "* Stop p:0 ( node1 ) due to node availability",
    ),
    "utilization_sort_skips_standby_node": (
        "* Stop r1 ( node1 ) due to node availability",
    ),
    "order_set_chains_members": (
        "* Start B ( node1 ) due to unrunnable A start (blocked)",
        "* Start C ( node2 ) due to unrunnable B start (blocked)",
    ),
    "order_set_require_all_false": (
        "* Start B ( node1 )",
        "* Start C ( node2 )",
    ),
    "colocation_set_keeps_members_together": (
        "* Start A ( node3 )",
        "* Start B ( node3 )",
        "* Start C ( node3 )",
    ),
    "colocation_blocks_dependent": (
        "* Stop A ( node1 ) due to node availability",
        "* Stop B ( node1 ) due to node availability",
    ),
    "node_health_red_moves": (
        "* Move r1 ( node1 -> node2 )",
    ),
    "unfencing_before_probes": (
        "* Fence (on) node2 'required by fencer monitor'",
        "* Start fencer ( node1 )",
        "* Start r1 ( node2 )",
    ),
    "interleaved_clone_order": (
        "* Start p1:1 ( node2 )",
        "* Start p2:1 ( node2 )",
    ),
}


def _norm(lines: tuple[str, ...] | list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines]


@pytest.mark.parametrize("name", sorted(ORACLE_SUMMARIES))
def test_summary_matches_pacemaker(name: str) -> None:
    transition = schedule(SCENARIOS[name])
    assert _norm(transition.summary) == list(ORACLE_SUMMARIES[name])


def test_every_scenario_has_an_expectation() -> None:
    assert set(SCENARIOS) == set(ORACLE_SUMMARIES)


@pytest.mark.oracle
@pytest.mark.skipif(pacemaker_tool("crm_simulate") is None,
                    reason="Pacemaker's crm_simulate is not installed")
@pytest.mark.parametrize("name", sorted(ORACLE_SUMMARIES))
def test_oracle_agrees(name: str, tmp_path: Path) -> None:
    cib = tmp_path / f"{name}.xml"
    cib.write_text(SCENARIOS[name])
    env = {**os.environ, "LC_ALL": "C", "CIB_shadow_dir": tempfile.mkdtemp(dir=tmp_path)}
    out = subprocess.run([str(pacemaker_tool("crm_simulate")), "-x", str(cib), "-S"],
                         capture_output=True, text=True, env=env, check=False).stdout.splitlines()
    start = out.index("Transition Summary:") + 1
    lines = []
    for line in out[start:]:
        if not line.startswith("  * "):
            break
        lines.append(line)
    assert _norm(lines) == list(ORACLE_SUMMARIES[name])
