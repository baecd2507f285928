"""One node's whole ccm: the membership core plus votequorum, still pure.

`CcmNode.handle(event)` feeds the membership core; whenever it installs a view the quorum
is recomputed, the view id is persisted (`Persist(VIEW_ID_FILE)`, read back at start so a
restarted node never reuses a lower view id) and a `Publish(MEMBERSHIP_TOPIC,
MembershipChanged)` is added to the effects. A quorum-only change (the last-man-standing
window lowering expected votes) is published the same way with the unchanged view id.
The service and the simulator both drive this class, so what they test is what runs.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from messaging.effects import Effect, Persist, Publish, TimerFired
from messaging.membership import MEMBERSHIP_TOPIC, MembershipChanged

from .core import VIEW_TOPIC, Event, Membership, Timing, View, ViewInstalled
from .quorum import TIMER_LMS, Quorum, QuorumSettings, QuorumState

VIEW_ID_FILE = "ccm.view_id"


class CcmNode:
    """Membership agreement and quorum of one node."""

    def __init__(
        self,
        name: str,
        settings: QuorumSettings,
        timing: Timing | None = None,
        rng: random.Random | None = None,
        incarnation: int = 0,
        last_view_id: int = 0,
    ):
        self.name = name
        self.membership = Membership(name, timing, rng, incarnation, last_view_id)
        self.quorum = Quorum(settings)

    @property
    def view(self) -> View:
        return self.membership.view

    @property
    def quorum_state(self) -> QuorumState:
        return self.quorum.state

    def start(self, now: float, heard: Iterable[str] = ()) -> list[Effect]:
        return self.membership.start(now, heard)

    def handle(self, event: Event) -> list[Effect]:
        if isinstance(event, TimerFired) and event.key == TIMER_LMS:
            before = self.quorum.state
            effects = self.quorum.handle(event)
            if self.quorum.state != before:
                effects.append(self._published())
            return effects
        out: list[Effect] = []
        for effect in self.membership.handle(event):
            if isinstance(effect, Publish) and effect.topic == VIEW_TOPIC:
                assert isinstance(effect.event, ViewInstalled)
                out += self.quorum.update(effect.event.view.members, effect.event.now)
                out.append(Persist(VIEW_ID_FILE, f"{effect.event.view.view_id}\n".encode()))
                out.append(self._published())
            else:
                out.append(effect)
        return out

    def snapshot(self) -> MembershipChanged:
        """The current view and quorum as the event subscribers receive."""
        view, state = self.membership.view, self.quorum.state
        return MembershipChanged(
            view_id=view.view_id,
            members=view.members,
            coordinator=view.coordinator,
            quorate=state.quorate,
            expected_votes=state.expected_votes,
            total_votes=state.total_votes,
            quorum=state.quorum,
        )

    def _published(self) -> Publish:
        return Publish(MEMBERSHIP_TOPIC, self.snapshot())
