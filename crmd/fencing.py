"""The DC's fencing bookkeeping: what a successful fencing writes, and when to give up.

`fenced_updates` is Pacemaker's `send_stonith_update` plus the clean-up after it: the
target's node_state gets join=down expected=down, and everything below it (``lrm`` and
``transient_attributes``) is deleted, since a fenced node runs nothing and starts afresh.
`FencingAttempts` is `too_many_st_failures`: after `stonith-max-attempts` (default 10)
failed fencings of a target, the DC stops asking for it and waits for something else to
change instead of replanning the same fencing forever. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crmd.join import JoinPhase, node_state_xml
from crmd.messages import (
    ActionResult,
    CrmdEffect,
    DeleteCib,
    ExecuteFencing,
    FenceCompleted,
    ModifyCib,
)
from messaging.effects import Log

DEFAULT_MAX_ATTEMPTS = 10


def fenced_updates(node_id: str, target: str) -> list[CrmdEffect]:
    """The CIB writes after `target` was fenced (off/reboot)."""
    base = f"/cib/status/node_state[@id='{node_id}']"
    return [ModifyCib("status", node_state_xml(node_id, target, "send_stonith_update",
                                               join=JoinPhase.NONE, expected="down")),
            DeleteCib(f"{base}/lrm"), DeleteCib(f"{base}/transient_attributes")]


@dataclass(slots=True)
class FencingAttempts:
    """Failed fencing attempts per target (a success resets the target)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    failures: dict[str, int] = field(default_factory=dict)
    given_up: set[str] = field(default_factory=set)  # transition keys refused here

    def record(self, target: str, ok: bool) -> None:
        if ok:
            self.failures.pop(target, None)
        else:
            self.failures[target] = self.failures.get(target, 0) + 1

    def exhausted(self, target: str) -> bool:
        return self.failures.get(target, 0) >= self.max_attempts

    def completed(self, event: FenceCompleted, node_id: str
                  ) -> tuple[list[CrmdEffect], ActionResult]:
        """stonithd answered: the CIB writes (after a success) and the graph's result."""
        self.record(event.target, event.ok)
        effects = fenced_updates(node_id, event.target) if event.ok else []
        return effects, ActionResult(event.transition_key, event.target,
                                     0 if event.ok else 1, 0, event.now, wall=event.wall)

    def give_up(self, effect: ExecuteFencing, now: float) -> tuple[Log, ActionResult]:
        """The target failed too often: the action fails here, stonithd is not asked."""
        self.given_up.add(effect.transition_key)
        return (Log("fencing_given_up", "error", (("target", effect.target),)),
                ActionResult(effect.transition_key, effect.target, 1, 0, now))
