"""A coordinator batches nodes that join during a boot burst into one view (Heartbeat's CCM
collects every node that shows up during a joining round), and never waits for a loss; peers
coming up together share one Reach."""

from __future__ import annotations

import random

from ccm.core import (
    TIMER_JOIN,
    TIMER_REACH,
    TIMER_SETTLE,
    Membership,
    PeerMessageReceived,
    PeerStatusChanged,
    Timing,
    View,
    ViewInstalled,
)
from ccm.protocol import Ack, Propose, Reach, Report
from messaging.effects import ArmTimer, Effect, Publish, Send, TimerFired

TIMING = Timing(settle=1.0, proposal_timeout=0.5, retry_delay=0.2, check_interval=0.5,
                hold=0.4, join_quiet=0.4, join_max=1.0)


def proposals(effects: list[Effect]) -> list[Propose]:
    return [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, Propose)]


def hear(core: Membership, peer: str, everyone: tuple[str, ...], now: float) -> list[Effect]:
    """`peer` comes up; it and every node up before it (those of `everyone` up to it)
    report hearing each other."""
    effects = core.handle(PeerStatusChanged(peer, True, now))
    up = everyone[:everyone.index(peer) + 1]
    for node in up[1:]:
        hears = tuple(sorted(n for n in up if n != node))
        view_id = core.view.view_id if node in core.view.members else 0
        effects += core.handle(PeerMessageReceived(node, Reach((Report(
            node, 0, int(now * 100), view_id, hears),)), now))
    return effects


def coordinator_of_two() -> Membership:
    """n1 with an installed view {n1, n2}."""
    core = Membership("n1", TIMING, random.Random(1))
    core.start(0.0)
    hear(core, "n2", ("n1", "n2"), 0.1)
    proposal = proposals(core.handle(TimerFired(TIMER_SETTLE, 1.0)))[0]
    effects = core.handle(PeerMessageReceived("n2", Ack(proposal.view_id, proposal.round), 1.1))
    assert any(isinstance(e, Publish) and isinstance(e.event, ViewInstalled) for e in effects)
    assert core.view == View(1, ("n1", "n2"), "n1")
    return core


def test_joiners_arriving_close_together_are_proposed_in_one_round() -> None:
    core = coordinator_of_two()
    everyone = ("n1", "n2", "n3", "n4", "n5")
    first = hear(core, "n3", everyone, 2.0)
    assert proposals(first) == [] and ArmTimer(TIMER_JOIN, 2.4) in first
    assert proposals(hear(core, "n4", everyone, 2.2)) == []  # the quiet window restarts
    assert proposals(core.handle(TimerFired(TIMER_JOIN, 2.4))) == []  # n4 came at 2.2
    assert proposals(hear(core, "n5", everyone, 2.5)) == []
    late = core.handle(TimerFired(TIMER_JOIN, 2.9))
    assert [p.members for p in proposals(late)] == [everyone]


def test_a_steady_stream_of_joiners_waits_at_most_join_max() -> None:
    core = coordinator_of_two()
    everyone = tuple(f"n{i}" for i in range(1, 7))
    for index, peer in enumerate(everyone[2:]):  # one every 0.3 s < join_quiet, 2.0 .. 2.9
        assert proposals(hear(core, peer, everyone, 2.0 + 0.3 * index)) == []
    effects = core.handle(TimerFired(TIMER_JOIN, 2.0 + TIMING.join_max))  # first came at 2.0
    assert [p.members for p in proposals(effects)] == [everyone]


def test_a_loss_is_proposed_at_once() -> None:
    core = coordinator_of_two()
    effects = core.handle(PeerStatusChanged("n2", False, 2.0))
    installed = [e.event.view for e in effects
                 if isinstance(e, Publish) and isinstance(e.event, ViewInstalled)]
    assert installed == [View(2, ("n1",), "n1")]
    assert not [e for e in effects if isinstance(e, ArmTimer) and e.key == TIMER_JOIN]


def test_without_join_quiet_a_joiner_is_proposed_at_once() -> None:
    core = Membership("n1", Timing(settle=1.0), random.Random(1))
    core.start(0.0)
    hear(core, "n2", ("n1", "n2"), 0.1)
    proposal = proposals(core.handle(TimerFired(TIMER_SETTLE, 1.0)))[0]
    core.handle(PeerMessageReceived("n2", Ack(proposal.view_id, proposal.round), 1.1))
    assert [p.members for p in proposals(hear(core, "n3", ("n1", "n2", "n3"), 2.0))] == [
        ("n1", "n2", "n3")]


def test_a_lone_joiner_long_after_the_last_view_is_proposed_at_once() -> None:
    core = coordinator_of_two()  # its view came at 1.1
    effects = hear(core, "n3", ("n1", "n2", "n3"), 1.1 + TIMING.join_max)
    assert [p.members for p in proposals(effects)] == [("n1", "n2", "n3")]


def test_a_joiner_right_after_a_loss_is_proposed_at_once() -> None:
    core = coordinator_of_two()
    core.handle(PeerStatusChanged("n2", False, 1.5))  # view 2: n1 alone
    effects = hear(core, "n3", ("n1", "n3"), 1.6)
    assert [p.members for p in proposals(effects)] == [("n1", "n3")]


def _reaches(effects: list[Effect]) -> list[Reach]:
    return [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, Reach)]


def test_peers_coming_up_together_share_one_reach() -> None:
    core = Membership("n1", Timing(reach_delay=0.02), random.Random(1))
    core.start(0.0)
    first = core.handle(PeerStatusChanged("n2", True, 1.0))
    assert _reaches(first) == [] and ArmTimer(TIMER_REACH, 1.02) in first
    for peer, now in (("n3", 1.005), ("n4", 1.01)):  # the same keepalive grid tick
        effects = core.handle(PeerStatusChanged(peer, True, now))
        assert _reaches(effects) == []
        assert not any(isinstance(e, ArmTimer) and e.key == TIMER_REACH for e in effects)
    told = _reaches(core.handle(TimerFired(TIMER_REACH, 1.02)))
    assert [r.reports[0].reach for r in told] == [("n2", "n3", "n4")]
    later = core.handle(PeerStatusChanged("n5", True, 2.0))  # a new burst arms it again
    assert ArmTimer(TIMER_REACH, 2.02) in later


def test_a_loss_is_told_at_once_even_with_a_reach_delay() -> None:
    core = Membership("n1", Timing(reach_delay=0.02), random.Random(1))
    core.start(0.0)
    core.handle(PeerStatusChanged("n2", True, 1.0))
    core.handle(TimerFired(TIMER_REACH, 1.02))
    told = _reaches(core.handle(PeerStatusChanged("n2", False, 2.0)))  # n1 coordinates
    assert [r.reports[0].reach for r in told] == [()]
