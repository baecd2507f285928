"""Quorum with corosync votequorum semantics, as a pure state machine over agreed views.

Rules (votequorum(5), interfaces.md §7.1):
- expected votes = the `expected_votes` setting, else the sum of the configured nodes'
  votes (default 1 each); it never stays below the votes currently present.
- quorum = expected // 2 + 1; a partition is quorate when its members' votes reach quorum.
- two_node (only while exactly two nodes are configured and expected is 2): quorum is 1,
  and wait_for_all defaults to on.
- wait_for_all: not quorate until every expected vote was present in one view, once.
- auto_tie_breaker: a partition with exactly half of the expected votes is quorate when it
  holds the tie-breaker node (lowest or highest node id, or the first node of a list that
  was in the cluster before the split).
- last_man_standing: while quorate with fewer votes than expected for
  `last_man_standing_window` seconds, expected votes drop to the votes present.

Node ids are 1-based positions in the configured node list. Invariant: the expected votes
only drop through last_man_standing and rise as soon as more votes are present.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from messaging.effects import ArmTimer, CancelTimer, Effect, TimerFired
from messaging.errors import ConfigError

TIMER_LMS = "ccm.last_man_standing"


@dataclass(frozen=True, slots=True)
class QuorumSettings:
    """Configured votequorum options; `nodes` in configuration order (node id = index + 1)."""

    nodes: tuple[str, ...]
    votes: tuple[tuple[str, int], ...] = ()
    expected_votes: int | None = None
    two_node: bool = False
    wait_for_all: bool | None = None
    last_man_standing: bool = False
    last_man_standing_window: float = 10.0
    auto_tie_breaker: bool = False
    auto_tie_breaker_node: str | tuple[str, ...] = "lowest"

    def __post_init__(self) -> None:
        if len(set(self.nodes)) != len(self.nodes):
            raise ConfigError("quorum: a node is listed twice")
        for node, count in self.votes:
            if count < 0:
                raise ConfigError(f"quorum: node {node} has negative votes ({count})")
        if self.expected_votes is not None and self.expected_votes < 1:
            raise ConfigError(f"quorum: expected_votes must be >= 1, not {self.expected_votes}")
        if self.last_man_standing_window <= 0:
            raise ConfigError("quorum: last_man_standing_window must be positive")
        atb = self.auto_tie_breaker_node
        if isinstance(atb, str) and atb not in ("lowest", "highest"):
            raise ConfigError(f"quorum: auto_tie_breaker_node {atb!r} is not lowest|highest|list")

    def votes_of(self, node: str) -> int:
        return dict(self.votes).get(node, 1)

    def configured_expected(self) -> int:
        if self.expected_votes is not None:
            return self.expected_votes
        return max(1, sum(self.votes_of(node) for node in self.nodes))

    def two_node_active(self) -> bool:
        return self.two_node and len(self.nodes) == 2 and self.configured_expected() == 2

    def wait_for_all_active(self) -> bool:
        if self.wait_for_all is not None:
            return self.wait_for_all
        return self.two_node_active()


@dataclass(frozen=True, slots=True)
class QuorumState:
    """The quorum verdict for one view."""

    quorate: bool
    expected_votes: int
    total_votes: int
    quorum: int
    waiting_for_all: bool


class Quorum:
    """Votequorum over successive views. `update(members, now)` after each new view."""

    def __init__(self, settings: QuorumSettings):
        self.settings = settings
        self.expected_votes = settings.configured_expected()
        self._waiting_for_all = settings.wait_for_all_active()
        self._members: frozenset[str] = frozenset()
        self._before_split: frozenset[str] = frozenset(settings.nodes)
        self.state = self._compute()

    def update(self, members: Iterable[str], now: float) -> list[Effect]:
        """A new view was installed; recompute and arm/cancel the last-man-standing timer."""
        if self.state.quorate and self._members:
            self._before_split = self._members  # the cluster as it was before this change
        self._members = frozenset(members)
        self.state = self._compute()
        return self._lms_effects(now)

    def handle(self, event: TimerFired) -> list[Effect]:
        """The last-man-standing window passed without a view change."""
        if event.key != TIMER_LMS:
            return []
        if self.state.quorate and self.state.total_votes < self.expected_votes:
            self.expected_votes = max(1, self.state.total_votes)
            self.state = self._compute()
        return []

    def _lms_effects(self, now: float) -> list[Effect]:
        if not self.settings.last_man_standing:
            return []
        if self.state.quorate and self.state.total_votes < self.expected_votes:
            return [ArmTimer(TIMER_LMS, now + self.settings.last_man_standing_window)]
        return [CancelTimer(TIMER_LMS)]

    def _compute(self) -> QuorumState:
        total = sum(self.settings.votes_of(node) for node in self._members)
        self.expected_votes = max(self.expected_votes, total)
        expected = self.expected_votes
        quorum = 1 if self.settings.two_node_active() else expected // 2 + 1
        quorate = total >= quorum
        if not quorate and self.settings.auto_tie_breaker and 2 * total == expected:
            quorate = self._holds_tie_breaker()
        if self._waiting_for_all:
            if total >= self.settings.configured_expected():
                self._waiting_for_all = False
            else:
                quorate = False
        return QuorumState(quorate, expected, total, quorum, self._waiting_for_all)

    def _holds_tie_breaker(self) -> bool:
        breaker = tie_breaker(self.settings, self._before_split)
        return breaker is not None and breaker in self._members


def tie_breaker(settings: QuorumSettings, before_split: frozenset[str]) -> str | None:
    """The node whose partition wins a 50/50 split, among nodes present before the split."""
    ids = {node: index for index, node in enumerate(settings.nodes, start=1)}
    candidates = [node for node in before_split if node in ids] or list(settings.nodes)
    choice = settings.auto_tie_breaker_node
    if choice == "lowest":
        return min(candidates, key=ids.__getitem__, default=None)
    if choice == "highest":
        return max(candidates, key=ids.__getitem__, default=None)
    for node in choice:
        if node in before_split:
            return node
    return None
