"""The membership core driven by hand: events in, effects out, no clock, no sockets."""

from __future__ import annotations

import random

import msgpack
import pytest

from ccm.core import (
    BROADCAST,
    ROUND_EXTENSIONS,
    TIMER_CHECK,
    TIMER_HOLD,
    TIMER_RETRY,
    TIMER_ROUND,
    TIMER_SETTLE,
    Membership,
    PeerMessageReceived,
    PeerStatusChanged,
    Timing,
    View,
    ViewInstalled,
)
from ccm.graph import cliques, distrust
from ccm.protocol import Ack, Commit, Nack, Nudge, Propose, Reach, Report, from_wire, to_wire
from messaging.effects import ArmTimer, CancelTimer, Effect, Node, Publish, Send, TimerFired
from messaging.errors import RemoteProtocolError

TIMING = Timing(settle=1.0, proposal_timeout=0.5, retry_delay=0.2, check_interval=0.5,
                hold=0.4)


def report(node: str, *hears: str, view_id: int = 0, counter: int = 1) -> Report:
    return Report(node, 0, counter, view_id, tuple(sorted(hears)))


def settled(name: str, links: dict[str, tuple[str, ...]] | None = None) -> Membership:
    """A core that hears the peers in `links`, each reporting that it hears the listed nodes."""
    core = Membership(name, TIMING, random.Random(1))
    core.start(0.0)
    for peer, hears in (links or {}).items():
        core.handle(PeerStatusChanged(peer, True, 0.1))
        core.handle(PeerMessageReceived(peer, Reach((report(peer, *hears),)), 0.1))
    return core


def full_mesh(name: str, *names: str) -> Membership:
    everyone = (name, *names)
    return settled(name, {p: tuple(n for n in everyone if n != p) for p in names})


def sends(effects: list[Effect]) -> list[tuple[object, object]]:
    """(node name or BROADCAST, message) of every non-gossip Send."""
    return [(e.destination.name if isinstance(e.destination, Node) else e.destination,
             e.message) for e in effects
            if isinstance(e, Send) and not isinstance(e.message, Reach)]


def installed(effects: list[Effect]) -> list[View]:
    return [e.event.view for e in effects
            if isinstance(e, Publish) and isinstance(e.event, ViewInstalled)]


def proposal_of(effects: list[Effect]) -> Propose:
    found = [m for _, m in sends(effects) if isinstance(m, Propose)]
    assert found, effects
    return found[0]


def test_start_gossips_and_arms_settle_and_check_timers() -> None:
    core = Membership("n1", TIMING)
    effects = core.start(5.0)
    assert effects[1:3] == [ArmTimer(TIMER_SETTLE, 6.0), ArmTimer(TIMER_CHECK, 5.5)]
    assert isinstance(effects[0], Send) and effects[0].destination == BROADCAST


def test_alone_installs_a_singleton_view_when_settled() -> None:
    core = settled("n1")
    effects = core.handle(TimerFired(TIMER_SETTLE, 1.0))
    assert installed(effects) == [View(1, ("n1",), "n1")]
    assert sends(effects) == []


def test_lowest_node_proposes_its_clique() -> None:
    core = full_mesh("n1", "n3", "n2")
    effects = core.handle(TimerFired(TIMER_SETTLE, 1.0))
    proposal = proposal_of(effects)
    assert (proposal.view_id, proposal.members, proposal.round) == (1, ("n1", "n2", "n3"), 1)
    assert [d for d, _ in sends(effects)] == [BROADCAST]  # non-members ignore it
    assert ArmTimer(TIMER_ROUND, 1.5) in effects
    assert installed(effects) == []


def test_a_peer_that_does_not_report_hearing_us_is_not_a_member() -> None:
    core = settled("n1", {"n2": ("n1",), "n3": ("n2",)})  # n3 hears n2 but not n1
    assert core.target() == {"n1", "n2"}


def test_commit_after_every_member_acked() -> None:
    core = full_mesh("n1", "n2", "n3")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    assert installed(core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))) == []
    effects = core.handle(PeerMessageReceived("n3", Ack(1, 1), 1.1))
    assert sends(effects) == [(BROADCAST, Commit("n1", 1, ("n1", "n2", "n3"), 1))]
    assert installed(effects) == [View(1, ("n1", "n2", "n3"), "n1")]
    assert CancelTimer(TIMER_ROUND) in effects


def test_higher_node_does_not_coordinate_but_nudges() -> None:
    core = full_mesh("n2", "n1")
    effects = core.handle(TimerFired(TIMER_SETTLE, 1.0))
    assert [(d, type(m)) for d, m in sends(effects)] == [("n1", Nudge)]


def test_participant_acks_matching_proposal_and_installs_its_commit() -> None:
    core = full_mesh("n2", "n1", "n3")
    proposal = Propose("n1", 4, ("n1", "n2", "n3"), 7)
    assert sends(core.handle(PeerMessageReceived("n1", proposal, 1.0))) == [("n1", Ack(4, 7))]
    commit = Commit("n1", 4, ("n1", "n2", "n3"), 7)
    effects = core.handle(PeerMessageReceived("n1", commit, 1.1))
    assert installed(effects) == [View(4, ("n1", "n2", "n3"), "n1")]


def test_participant_nacks_a_proposal_that_disagrees_with_its_target() -> None:
    core = full_mesh("n2", "n1")  # n2 does not hear n3
    proposal = Propose("n1", 2, ("n1", "n2", "n3"), 1)
    effects = core.handle(PeerMessageReceived("n1", proposal, 1.0))
    nacks = [m for _, m in sends(effects) if isinstance(m, Nack)]
    assert len(nacks) == 1 and nacks[0].reachable == ("n1", "n2") and nacks[0].round == 1


def test_proposal_reports_can_change_the_participants_mind() -> None:
    core = full_mesh("n2", "n1", "n3")  # n2 still hears n3 (not yet dead for it)
    fresh = (report("n1", "n2", counter=5), report("n3", "n1", "n2"))
    proposal = Propose("n1", 2, ("n1", "n2"), 1, fresh)  # n1 no longer hears n3
    assert sends(core.handle(PeerMessageReceived("n1", proposal, 1.0))) == [("n1", Ack(2, 1))]


def test_participant_nacks_a_stale_view_id() -> None:
    core = full_mesh("n2", "n1")
    core.handle(PeerMessageReceived("n1", Propose("n1", 5, ("n1", "n2"), 1), 1.0))
    core.handle(PeerMessageReceived("n1", Commit("n1", 5, ("n1", "n2"), 1), 1.0))
    effects = core.handle(PeerMessageReceived("n1", Propose("n1", 3, ("n1", "n2"), 2), 2.0))
    nacks = [m for _, m in sends(effects) if isinstance(m, Nack)]
    assert nacks and nacks[0].max_view_id == 5
    assert core.view.view_id == 5


def test_proposal_and_commit_for_others_are_ignored() -> None:
    core = full_mesh("n3", "n1", "n2")
    assert core.handle(PeerMessageReceived("n1", Propose("n1", 2, ("n1", "n2"), 1), 1.0)) == []
    effects = core.handle(PeerMessageReceived("n1", Commit("n1", 2, ("n1", "n2"), 1), 1.0))
    assert installed(effects) == [] and core.view.view_id == 0


def test_commit_that_was_not_acked_is_ignored() -> None:
    core = full_mesh("n2", "n1")
    effects = core.handle(PeerMessageReceived("n1", Commit("n1", 9, ("n1", "n2"), 3), 1.0))
    assert installed(effects) == []
    assert core.view.view_id == 0


def test_failed_round_retries_with_a_higher_view_id() -> None:
    core = full_mesh("n1", "n2")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    nack = Nack(1, 1, ("n1", "n2"), 6)
    effects = core.handle(PeerMessageReceived("n2", nack, 1.1))
    retry = [e for e in effects if isinstance(e, ArmTimer) and e.key == TIMER_RETRY]
    assert len(retry) == 1 and 1.1 + 0.1 <= retry[0].deadline <= 1.1 + 0.3
    effects = core.handle(TimerFired(TIMER_RETRY, retry[0].deadline))
    assert proposal_of(effects).view_id == 7


def test_silent_member_is_asked_again_then_the_round_is_retried() -> None:
    core = full_mesh("n1", "n2", "n3")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))
    for extension in range(ROUND_EXTENSIONS):  # the same round, asked again
        now = 1.5 + 0.5 * extension
        effects = core.handle(TimerFired(TIMER_ROUND, now))
        assert proposal_of(effects) == Propose("n1", 1, ("n1", "n2", "n3"), 1, core.reports())
        assert ArmTimer(TIMER_ROUND, now + 0.5) in effects
    effects = core.handle(TimerFired(TIMER_ROUND, 1.5 + 0.5 * ROUND_EXTENSIONS))
    assert installed(effects) == []
    assert any(isinstance(e, ArmTimer) and e.key == TIMER_RETRY for e in effects)
    # heartbeat declares n3 dead: the next round goes without it, at once
    effects = core.handle(PeerStatusChanged("n3", False, 1.6))
    assert proposal_of(effects).members == ("n1", "n2")


def test_an_ack_later_than_the_proposal_timeout_still_commits_its_round() -> None:
    core = full_mesh("n1", "n2", "n3")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))
    core.handle(TimerFired(TIMER_ROUND, 1.5))
    effects = core.handle(PeerMessageReceived("n3", Ack(1, 1), 1.7))
    assert installed(effects) == [View(1, ("n1", "n2", "n3"), "n1")]


def test_a_refused_round_is_not_kept_open_past_its_timeout() -> None:
    core = full_mesh("n1", "n2", "n3")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Nack(1, 1, ("n1", "n2", "n3"), 0), 1.1))
    effects = core.handle(TimerFired(TIMER_ROUND, 1.5))
    assert any(isinstance(e, ArmTimer) and e.key == TIMER_RETRY for e in effects)


def test_nudge_makes_the_coordinator_run_a_round() -> None:
    core = full_mesh("n1", "n2")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))
    assert core.view.view_id == 1
    effects = core.handle(PeerMessageReceived("n2", Nudge(0, ("n1", "n2"), 1), 2.0))
    assert proposal_of(effects) == Propose("n1", 2, ("n1", "n2"), 2, core.reports())


def test_stale_nudge_after_commit_changes_nothing() -> None:
    core = full_mesh("n1", "n2")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))
    assert sends(core.handle(PeerMessageReceived("n2", Nudge(0, ("n1", "n2"), 0), 1.2))) == []


def test_losing_a_peer_starts_a_round_without_it() -> None:
    core = full_mesh("n1", "n2", "n3")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))
    core.handle(PeerMessageReceived("n3", Ack(1, 1), 1.1))
    effects = core.handle(PeerStatusChanged("n3", False, 5.0))
    assert proposal_of(effects).members == ("n1", "n2")
    assert proposal_of(effects).view_id == 2


def test_a_dead_coordinators_stale_report_does_not_split_the_survivors() -> None:
    # n3 lost n1; n2 has not noticed yet and n1's last report still claims everyone.
    core = settled("n3", {"n1": ("n2", "n3"), "n2": ("n1", "n3")})
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    effects = core.handle(PeerStatusChanged("n1", False, 2.0))
    assert core.target() == {"n2", "n3"} and core.coordinator() == "n2"
    # n2's own heartbeat sees n1 go too: n3 says nothing and nudges only when no
    # proposal came within a proposal timeout.
    assert [e for e in effects if isinstance(e, Send)] == []
    later = core.handle(TimerFired(TIMER_CHECK, 2.0 + TIMING.proposal_timeout))
    assert [(d, type(m)) for d, m in sends(later)] == [("n2", Nudge)]


def test_a_member_sends_nothing_when_it_loses_a_peer_its_coordinator_also_hears_go() -> None:
    # Full mesh of four: n4 dies. Every ccm datagram reaches every node, so a Reach from
    # each of 15 members at 16 nodes was 210 receptions ahead of the coordinator's
    # proposal, which brings the same news.
    core = full_mesh("n2", "n1", "n3", "n4")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    effects = core.handle(PeerStatusChanged("n4", False, 2.0))
    assert core.target() == {"n1", "n2", "n3"}
    assert [e for e in effects if isinstance(e, Send)] == []


def test_a_member_that_installs_a_view_sends_nothing_but_the_publication() -> None:
    core = full_mesh("n2", "n1", "n3")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n1", Propose("n1", 1, ("n1", "n2", "n3"), 1), 1.1))
    effects = core.handle(PeerMessageReceived("n1", Commit("n1", 1, ("n1", "n2", "n3"), 1), 1.2))
    assert core.view.view_id == 1
    assert [type(e) for e in effects if isinstance(e, Send | Publish)] == [Publish]


def test_a_coordinator_that_proposes_on_a_status_change_sends_no_separate_reach() -> None:
    core = full_mesh("n1", "n2", "n3", "n4")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))
    core.handle(PeerMessageReceived("n3", Ack(1, 1), 1.1))
    core.handle(PeerMessageReceived("n4", Ack(1, 1), 1.1))
    effects = core.handle(PeerStatusChanged("n4", False, 5.0))
    kinds = [type(e.message) for e in effects if isinstance(e, Send)]
    assert kinds == [Propose] and proposal_of(effects).members == ("n1", "n2", "n3")


def test_relayed_reports_cross_a_non_transitive_cut() -> None:
    # n2 hears n1 and n3, who do not hear each other: n2's broadcast relays both reports.
    core = settled("n2", {"n1": ("n2",), "n3": ("n2",)})
    effects = core.handle(PeerStatusChanged("n4", True, 1.5))
    reach = next(e.message for e in effects if isinstance(e, Send) and isinstance(e.message, Reach))
    assert [r.node for r in reach.reports] == ["n2", "n1", "n3"]


def test_non_transitive_reachability_holds_before_acting_alone() -> None:
    # n1 and n2 do not hear each other, n3 hears both: cliques {n1, n3} and {n2}. n2 waits
    # `hold` (its link to n3 may be stale news) before it installs a view of its own.
    core = settled("n2", {"n3": ("n1", "n2"), "n1": ("n3",)})
    effects = core.handle(TimerFired(TIMER_SETTLE, 1.0))
    assert core.target() == {"n2"} and installed(effects) == []
    assert ArmTimer(TIMER_HOLD, 1.4) in effects
    assert installed(core.handle(TimerFired(TIMER_HOLD, 1.4))) == [View(1, ("n2",), "n2")]


def test_distrust_puts_nodes_with_unanswered_claims_last() -> None:
    reports = {"a": report("a", "b", "c"), "b": report("b", "c"), "c": report("c", "b")}
    assert distrust("a", reports) == 2 and distrust("b", reports) == 0


def test_graph_cliques_are_the_same_from_every_node() -> None:
    reports = {
        "a": report("a", "b", "c"),
        "b": report("b", "a", "c", "d"),
        "c": report("c", "a", "b", "d"),
        "d": report("d", "b", "c"),
    }
    for name in reports:
        heard = set(reports[name].reach)
        others = {n: r for n, r in reports.items() if n != name}
        assert cliques(name, heard, others) == [frozenset("abc"), frozenset("d")]


@pytest.mark.parametrize(
    "message",
    [
        Propose("n1", 3, ("n1", "n2"), 1),
        Ack(3, 1),
        Nack(3, 1, ("n2",), 9),
        Commit("n1", 3, ("n1",), 2),
        Nudge(0, ("n1", "n2"), 0),
        Reach((Report("n1", 3, 4, 5, ("n2",)), Report("n2", 1, 1, 0, ()))),
        Propose("n1", 3, ("n1", "n2"), 1, (Report("n2", 1, 1, 0, ("n1",)),)),
    ],
)
def test_protocol_round_trip(message: object) -> None:
    assert from_wire(to_wire(message)) == message  # type: ignore[arg-type]


def _frame(tag: str, body: list[object], version: int = 1, kind: str = "event") -> bytes:
    return msgpack.packb([version, kind, 0, tag, body])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "data",
    [
        None,
        msgpack.packb({"v": 1, "t": "ack", "b": {"view_id": 1, "round": 1}}),  # old format
        _frame("ack", [1, 1], version=2),
        _frame("bogus", []),
        _frame("ack", [1]),
        _frame("ack", [-1, 1]),
        _frame("ack", [True, 1]),
        _frame("ack", [1, 1], kind="request"),
        _frame("nudge", [1, [1], 1]),
        _frame("commit", [5, 1, [], 1]),
        _frame("reach", [[["n1", 1, 1, 1]]]),
        _frame("reach", [[["n1", 1, -1, 1, []]]]),
        _frame("reach", ["n1"]),
    ],
)
def test_malformed_protocol_messages_are_remote_errors(data: object) -> None:
    with pytest.raises(RemoteProtocolError):
        from_wire(data)


def test_restarted_node_alone_continues_above_its_last_view_id() -> None:
    # The node had installed view 7 before it restarted; alone now, it must not reuse 1..7.
    core = Membership("n1", TIMING, random.Random(1), incarnation=1, last_view_id=7)
    core.start(0.0)
    effects = core.handle(TimerFired(TIMER_SETTLE, 1.0))
    assert installed(effects) == [View(8, ("n1",), "n1")]


def test_restarted_coordinator_proposes_above_its_last_view_id() -> None:
    core = Membership("n1", TIMING, random.Random(1), incarnation=1, last_view_id=4)
    core.start(0.0)
    core.handle(PeerStatusChanged("n2", True, 0.1))
    core.handle(PeerMessageReceived("n2", Reach((report("n2", "n1"),)), 0.1))
    assert proposal_of(core.handle(TimerFired(TIMER_SETTLE, 1.0))).view_id == 5


def test_a_gossip_sent_before_the_commit_and_delivered_late_starts_no_round() -> None:
    # Members send no Reach after an install; under loss, a gossip a member sent before
    # it installed can arrive after a proposal timeout with the old view id. Only a report
    # newer than the one we committed with says the member missed the commit.
    core = full_mesh("n1", "n2", "n3")
    core.handle(TimerFired(TIMER_SETTLE, 1.0))
    core.handle(PeerMessageReceived("n2", Ack(1, 1), 1.1))
    core.handle(PeerMessageReceived("n3", Ack(1, 1), 1.1))
    assert core.view.view_id == 1
    late = 1.1 + 2 * TIMING.proposal_timeout
    stale = Reach((report("n2", "n1", "n3"),))
    assert sends(core.handle(PeerMessageReceived("n2", stale, late))) == []
    newer = Reach((report("n2", "n1", "n3", counter=2),))  # made after, still on view 0
    assert [type(m) for _, m in sends(core.handle(
        PeerMessageReceived("n2", newer, late + 0.01)))] == [Propose]


def test_a_respawned_ccm_first_reach_reports_the_peers_its_heartbeat_hears() -> None:
    # ccm killed and respawned on n3 while its heartbeat kept running (the lab kill test):
    # the service hands the new core heartbeat's table at start. The first Reach must
    # already claim n1 and n2: a Reach hearing no one, from the new incarnation, made the
    # coordinator install a view without n3 (the DC then fenced n3, a ccm respawn is no
    # node failure) before the Reach coalesced after the table's statuses followed.
    coordinator = full_mesh("n1", "n2", "n3")
    assert coordinator.target() == {"n1", "n2", "n3"}
    respawned = Membership("n3", TIMING, random.Random(1), incarnation=1)
    first = respawned.start(5.0, heard=("n1", "n2", "n3"))
    reach = next(e.message for e in first if isinstance(e, Send))
    assert isinstance(reach, Reach)
    coordinator.handle(PeerMessageReceived("n3", reach, 5.0))
    assert coordinator.target() == {"n1", "n2", "n3"}
