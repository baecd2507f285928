"""The DC's node_state writes cover only nodes it has seen (Pacemaker 2.1.5's
`create_node_state_update` cancels the update of a peer with no membership state, "not
seen yet"): a configured node never in a view gets no ``node_state`` at the join's start
(`do_dc_join_offer_all`) nor at its end (`do_state_transition`), so the scheduler sees it
unseen; once seen (or fenced) it is written like any lost node."""

from __future__ import annotations

from lxml import etree

from crmd.fencing import FencingAttempts
from crmd.join import JoinCoordinator
from crmd.messages import CrmdEffect, FenceCompleted, ModifyCib

IDS = {"alpha": "1", "beta": "2", "gamma": "3"}


def _written(effects: list[CrmdEffect]) -> dict[str, dict[str, str]]:
    states = [etree.fromstring(e.xml) for e in effects
              if isinstance(e, ModifyCib) and e.section == "status"]
    return {str(s.get("uname")): dict(s.attrib) for s in states}


def test_a_configured_node_never_seen_gets_no_node_state() -> None:
    coordinator = JoinCoordinator("alpha", IDS, seen={"alpha", "beta"})
    offered = _written(coordinator.offer_all({"alpha", "beta"}, now=0.0))
    ended = _written(coordinator.node_states({"alpha", "beta"}))
    assert "gamma" not in offered and "gamma" not in ended
    assert sorted(ended) == ["alpha", "beta"]


def test_a_node_seen_before_and_lost_is_written_down() -> None:
    coordinator = JoinCoordinator("alpha", IDS, seen={"alpha", "beta", "gamma"})
    offered = _written(coordinator.offer_all({"alpha", "beta"}, now=0.0))
    assert offered["gamma"]["expected"] == "down"
    gamma = _written(coordinator.node_states({"alpha", "beta"}))["gamma"]
    assert (gamma["in_ccm"], gamma["crmd"], gamma["join"], gamma["expected"]) == (
        "false", "offline", "down", "down")


def test_the_seen_set_is_read_live_so_a_node_seen_later_is_written() -> None:
    seen = {"alpha", "beta"}
    coordinator = JoinCoordinator("alpha", IDS, seen=seen)
    seen.add("gamma")
    assert "gamma" in _written(coordinator.node_states({"alpha", "beta"}))


def test_a_fenced_never_seen_node_counts_as_seen_afterwards() -> None:
    # Pacemaker's send_stonith_update: in_ccm="false" for a peer without state, then
    # crmd_peer_down gives it the state "lost", so later membership writes include it
    fencing = FencingAttempts(seen={"alpha", "beta"})
    coordinator = JoinCoordinator("alpha", IDS, seen=fencing.seen)
    done = FenceCompleted("key", "gamma", True, now=1.0)
    effects, _ = fencing.completed(done, IDS, coordinator)
    assert _written(effects)["gamma"]["in_ccm"] == "false"
    assert "gamma" in fencing.seen
    again, _ = fencing.completed(done, IDS, coordinator)
    assert "in_ccm" not in _written(again)["gamma"]
    assert _written(coordinator.node_states({"alpha", "beta"}))["gamma"]["in_ccm"] == "false"
