"""votequorum(5) rules (interfaces.md §7.1) checked one by one against ccm.quorum."""

from __future__ import annotations

import itertools

import pytest

from ccm.quorum import TIMER_LMS, Quorum, QuorumSettings, tie_breaker
from messaging.effects import ArmTimer, CancelTimer, TimerFired
from messaging.errors import ConfigError

N3 = ("n1", "n2", "n3")
N4 = ("n1", "n2", "n3", "n4")
N5 = ("n1", "n2", "n3", "n4", "n5")


def verdict(settings: QuorumSettings, *views: tuple[str, ...]) -> bool:
    quorum = Quorum(settings)
    for members in views:
        quorum.update(members, 0.0)
    return quorum.state.quorate


@pytest.mark.parametrize("count", range(1, 9))
def test_majority_is_half_plus_one_of_every_subset(count: int) -> None:
    nodes = tuple(f"n{i}" for i in range(1, count + 1))
    settings = QuorumSettings(nodes=nodes)
    for size in range(count + 1):
        for members in itertools.combinations(nodes, size):
            state = Quorum(settings)
            state.update(members, 0.0)
            assert state.state.quorum == count // 2 + 1
            assert state.state.quorate == (size >= count // 2 + 1), members


def test_node_votes_count_not_heads() -> None:
    settings = QuorumSettings(nodes=N3, votes=(("n1", 3),))  # expected 5, quorum 3
    assert verdict(settings, ("n1",))
    assert not verdict(settings, ("n2", "n3"))
    quorum = Quorum(settings)
    quorum.update(("n2", "n3"), 0.0)
    assert (quorum.state.expected_votes, quorum.state.total_votes) == (5, 2)


def test_expected_votes_setting_overrides_node_list() -> None:
    settings = QuorumSettings(nodes=N3, expected_votes=5)  # quorum 3: all three needed
    assert not verdict(settings, ("n1", "n2"))
    assert verdict(settings, N3)


def test_expected_votes_rise_to_votes_present() -> None:
    settings = QuorumSettings(nodes=N3, expected_votes=1)
    quorum = Quorum(settings)
    quorum.update(N3, 0.0)
    assert quorum.state.expected_votes == 3
    quorum.update(("n1",), 1.0)  # never silently back down without last_man_standing
    assert quorum.state.expected_votes == 3
    assert not quorum.state.quorate


def test_two_node_makes_one_node_quorate_after_both_were_seen() -> None:
    settings = QuorumSettings(nodes=("a", "b"), two_node=True)
    assert not verdict(settings, ("a",))  # wait_for_all implied: never saw b
    assert verdict(settings, ("a", "b"), ("a",))
    quorum = Quorum(settings)
    quorum.update(("a", "b"), 0.0)
    quorum.update(("b",), 0.0)
    assert quorum.state.quorum == 1 and quorum.state.quorate


def test_two_node_without_wait_for_all_when_set_to_zero() -> None:
    settings = QuorumSettings(nodes=("a", "b"), two_node=True, wait_for_all=False)
    assert verdict(settings, ("a",))


def test_two_node_is_off_with_more_than_two_nodes() -> None:
    settings = QuorumSettings(nodes=N3, two_node=True)
    assert not settings.two_node_active()
    assert not verdict(settings, ("n1",))
    assert verdict(settings, ("n1", "n2"))  # and wait_for_all is not implied


def test_two_node_without_it_one_of_two_is_not_quorate() -> None:
    assert not verdict(QuorumSettings(nodes=("a", "b")), ("a", "b"), ("a",))


def test_wait_for_all_blocks_until_everyone_was_seen_once() -> None:
    settings = QuorumSettings(nodes=N5, wait_for_all=True)
    quorum = Quorum(settings)
    quorum.update(N5[:4], 0.0)
    assert not quorum.state.quorate and quorum.state.waiting_for_all
    quorum.update(N5, 1.0)
    assert quorum.state.quorate and not quorum.state.waiting_for_all
    quorum.update(N5[:3], 2.0)  # only the first time needs everyone
    assert quorum.state.quorate
    quorum.update(N5[:2], 3.0)
    assert not quorum.state.quorate


@pytest.mark.parametrize("choice, winner", [("lowest", "n1"), ("highest", "n4")])
def test_auto_tie_breaker_keeps_one_half(choice: str, winner: str) -> None:
    settings = QuorumSettings(nodes=N4, auto_tie_breaker=True, auto_tie_breaker_node=choice)
    halves = [("n1", "n2"), ("n3", "n4"), ("n1", "n4"), ("n2", "n3")]
    for half in halves:
        assert verdict(settings, N4, half) == (winner in half), half


def test_auto_tie_breaker_only_for_exactly_half() -> None:
    settings = QuorumSettings(nodes=N5, auto_tie_breaker=True)
    assert not verdict(settings, N5, ("n1", "n2"))  # 2 of 5 is no tie
    off = QuorumSettings(nodes=N4)
    assert not verdict(off, N4, ("n1", "n2"))  # without the option a tie loses


def test_auto_tie_breaker_list_skips_nodes_absent_before_split() -> None:
    settings = QuorumSettings(nodes=(*N4, "n5", "n6"), auto_tie_breaker=True,
                              auto_tie_breaker_node=("n6", "n3", "n1"))
    # n6 was not in the cluster before the split, so n3 decides.
    before = ("n1", "n2", "n3", "n4", "n5")
    assert tie_breaker(settings, frozenset(before)) == "n3"
    assert verdict(settings, before, ("n3", "n4", "n5"))
    assert not verdict(settings, before, ("n1", "n2", "n4"))


def test_last_man_standing_lowers_expected_after_window() -> None:
    settings = QuorumSettings(nodes=N5, last_man_standing=True, last_man_standing_window=10)
    quorum = Quorum(settings)
    quorum.update(N5, 0.0)
    effects = quorum.update(N5[:3], 1.0)
    assert effects == [ArmTimer(TIMER_LMS, 11.0)]
    quorum.handle(TimerFired(TIMER_LMS, 11.0))
    assert quorum.state.expected_votes == 3
    quorum.update(N5[:2], 12.0)  # 2 of 3: still quorate, and the window starts again
    assert quorum.state.quorate
    quorum.handle(TimerFired(TIMER_LMS, 22.0))
    assert quorum.state.expected_votes == 2
    quorum.update(("n1",), 23.0)  # 1 of 2: a tie, lost without auto_tie_breaker
    assert not quorum.state.quorate
    quorum.update(N5, 24.0)
    assert quorum.state.expected_votes == 5


def test_last_man_standing_down_to_one_needs_auto_tie_breaker() -> None:
    settings = QuorumSettings(nodes=N3, last_man_standing=True, auto_tie_breaker=True)
    quorum = Quorum(settings)
    quorum.update(N3, 0.0)
    quorum.update(("n1", "n2"), 1.0)
    quorum.handle(TimerFired(TIMER_LMS, 11.0))
    quorum.update(("n1",), 12.0)
    assert quorum.state.quorate  # 1 of 2, holds the lowest node
    quorum.handle(TimerFired(TIMER_LMS, 22.0))
    assert quorum.state.expected_votes == 1


def test_last_man_standing_does_nothing_when_inquorate_or_view_changes() -> None:
    settings = QuorumSettings(nodes=N5, last_man_standing=True)
    quorum = Quorum(settings)
    quorum.update(N5, 0.0)
    assert quorum.update(N5[:2], 1.0) == [CancelTimer(TIMER_LMS)]
    quorum.handle(TimerFired(TIMER_LMS, 11.0))
    assert quorum.state.expected_votes == 5
    assert not Quorum(QuorumSettings(nodes=N5)).update(N5[:3], 0.0)  # option off: no timer


@pytest.mark.parametrize(
    "kwargs",
    [
        {"nodes": ("a", "a")},
        {"nodes": N3, "votes": (("n1", -1),)},
        {"nodes": N3, "expected_votes": 0},
        {"nodes": N3, "last_man_standing_window": 0},
        {"nodes": N3, "auto_tie_breaker_node": "middle"},
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        QuorumSettings(**kwargs)  # type: ignore[arg-type]
