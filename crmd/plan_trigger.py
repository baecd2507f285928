"""The idle DC's replanning trigger: every abort that arrives before it fires is served by
one scheduler run.

Pacemaker's controller does not run the scheduler once per CIB change: an abort only
registers I_PE_CALC with the FSA (`abort_transition_graph` -> `register_fsa_input`), whose
main-loop trigger runs after the events already received, so a burst of CIB updates read
in one pass of the main loop costs one `do_pe_invoke`; a newer request while the scheduler
runs supersedes the older one's reply (`fsa_pe_ref`). Here an abort of an idle DC arms
`TRANSITION_TRIGGER` at `now`: a timer due at once, which both the asyncio loop and the
fake scheduler run after the callbacks already due (I/O read in the same pass, events
queued at the same instant), so every abort of the burst lands before the one run. The
controller's `replan` flag already drops the answer to a request a later change made stale
and asks again, so the last change is always planned.

Invariants: pure; at most one trigger is armed at a time (`pending`); the first abort's
reason is the one logged (`transition_requested`), as the run serves all of them.
"""

from __future__ import annotations

from crmd.messages import CrmdEffect
from messaging.effects import ArmTimer, Log

TRANSITION_TRIGGER = "crmd:transition-trigger"


class PlanTrigger:
    """Whether a replanning request is waiting for the trigger to fire."""

    def __init__(self) -> None:
        self.pending = False

    def pull(self, reason: str, now: float) -> list[CrmdEffect]:
        """An abort while idle: arm the trigger unless it is armed already."""
        if self.pending:
            return []
        self.pending = True
        return [Log("transition_requested", fields=(("reason", reason),)),
                ArmTimer(TRANSITION_TRIGGER, now)]

    def fired(self, key: str) -> bool:
        """Whether timer `key` is this trigger, with a request waiting for it (then no
        longer pending)."""
        if key != TRANSITION_TRIGGER:
            return False
        waiting, self.pending = self.pending, False
        return waiting
