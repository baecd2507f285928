"""The DC's join takes in controllers arriving in a burst together: after an arrival, while
members still have no controller, finalization waits until none came for `batch_quiet`, at
most `batch_max`; with every member's controller known it goes on at once."""

from __future__ import annotations

from crmd.join import BATCH_TIMER, JoinCoordinator, JoinTiming
from messaging.effects import ArmTimer

IDS = {f"n{i}": str(i) for i in range(1, 6)}
TIMING = JoinTiming(batch_quiet=0.5, batch_max=2.0)
MEMBERS = set(IDS)


def coordinator() -> JoinCoordinator:
    join = JoinCoordinator("n1", IDS, TIMING, controllers={"n1", "n2"})
    join.offer_all(MEMBERS, 0.0)
    return join


def test_the_first_round_after_the_election_does_not_wait() -> None:
    assert coordinator().batch_hold(0.1, MEMBERS - {"n1", "n2"}) == []


def test_an_arrival_while_members_lack_a_controller_waits_for_a_quiet_moment() -> None:
    join = coordinator()
    join.offer_one("n3", MEMBERS, 1.0)
    assert join.batch_hold(1.1, {"n4", "n5"}) == [ArmTimer(BATCH_TIMER, 1.5)]
    join.offer_one("n4", MEMBERS, 1.4)
    assert join.batch_hold(1.45, {"n5"}) == [ArmTimer(BATCH_TIMER, 1.9)]
    assert join.batch_hold(1.9, {"n5"}) == []  # quiet for batch_quiet: go on


def test_a_steady_stream_of_arrivals_waits_at_most_batch_max() -> None:
    join = coordinator()
    for step in range(5):  # one every 0.4 s < batch_quiet, from 1.0
        join.offer_one("n3", MEMBERS, 1.0 + 0.4 * step)
        held = join.batch_hold(1.0 + 0.4 * step + 0.01, {"n5"})
    assert held == [ArmTimer(BATCH_TIMER, 1.01 + TIMING.batch_max)]
    assert join.batch_hold(1.01 + TIMING.batch_max, {"n5"}) == []


def test_with_every_controller_known_an_arrival_goes_on_at_once() -> None:
    join = coordinator()
    join.offer_one("n5", MEMBERS, 1.0)
    assert join.batch_hold(1.1, set()) == []
