"""The election counts the members whose controller runs, as Pacemaker's counts the
controllers' process group (`crm_active_peers`): a member without a controller does not
hold the candidate until its election timeout."""

from __future__ import annotations

from crmd.election import DcChanged, Election, ElectionTiming, ViewChanged
from crmd.messages import Credentials, NoVote, PeerMessage
from messaging.effects import Publish, TimerFired

TIMING = ElectionTiming(election_timeout=2.0, dc_deadtime=2.0, holdoff=1.0)
MEMBERS = ("alpha", "beta", "gamma")


def _candidate(controllers: frozenset[str] | None) -> Election:
    election = Election(Credentials("alpha", "3.16.2", 1.0), TIMING)
    election.start(0.0)
    election.handle(ViewChanged(MEMBERS, 0.1))
    if controllers is not None:
        election.controllers_changed(controllers, 0.1)
    election.handle(TimerFired("election:dc-wait", 2.0))
    assert election.candidate
    return election


def _won(effects: list[object]) -> bool:
    return any(isinstance(e, Publish) and isinstance(e.event, DcChanged)
               and e.event.dc == "alpha" for e in effects)


def test_a_member_without_a_controller_does_not_hold_the_election() -> None:
    election = _candidate(frozenset({"alpha", "gamma"}))
    effects = election.handle(PeerMessage("gamma", NoVote(election.round, "alpha"), 2.05))
    assert _won(effects) and election.is_dc, "won without waiting for beta"


def test_with_every_controller_running_each_no_vote_is_needed() -> None:
    election = _candidate(frozenset(MEMBERS))
    assert not _won(election.handle(PeerMessage("gamma", NoVote(election.round, "alpha"),
                                                2.05)))
    assert _won(election.handle(PeerMessage("beta", NoVote(election.round, "alpha"), 2.06)))


def test_a_controller_lost_during_the_vote_lets_the_candidate_win_at_once() -> None:
    election = _candidate(frozenset(MEMBERS))
    election.handle(PeerMessage("gamma", NoVote(election.round, "alpha"), 2.05))
    assert _won(election.controllers_changed(frozenset({"alpha", "gamma"}), 3.0))
