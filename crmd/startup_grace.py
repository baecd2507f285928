"""The DC's startup grace: while a configured node has never been seen, the DC plans
nothing until `dc-deadtime` after its controller started, so a node still booting is not
fenced while it boots.

Pacemaker 2.1.5's controller enters S_PENDING at start and waits `dc-deadtime` (default
20 s, its election trigger) for a DC to contact it before it calls an election
(I_DC_TIMEOUT); only a DC runs the scheduler, and the scheduler alone decides startup
fencing (`handle_startup_fencing` marks every node without a ``node_state`` unclean, with
no notion of time). So nothing is planned before `dc-deadtime` has passed since the first
controller started, and a node booting within that window is a member before the first
plan: not fenced, and nothing started elsewhere before its state is known. Ours elects as
soon as every member of the view has announced its start (cold start speed), and emulates
the window only where it matters: the DC holds its scheduler request while some configured
node was never in its views and ``now < started + grace``. The hold ends when that node
joins (the join leads to a new request, which then runs) or when `STARTUP_GRACE_TIMER`
fires at the grace's end: the scheduler then fences a node that never booted, once, before
anything starts, as Pacemaker's first plan does. A cold start with every node up waits for
nothing.

`grace` is the configured `dc-deadtime`, or Pacemaker's default 20 s when the CIB sets none
(our election's own `dc-deadtime` default is 2 s for fast failover; that shortcut must not
shorten the window a booting node has in Pacemaker). `started` is the `now` of this
controller's start (monotonic in the daemon, the fake clock in the simulator). A DC that
started long ago (a failover) has no grace left and plans exactly as Pacemaker's does.

Invariants: pure (time arrives as arguments); the timer is armed at most once; `holding`
is true exactly while the last scheduler request was held back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crmd.messages import CrmdEffect
from messaging.effects import ArmTimer, Log

STARTUP_GRACE_TIMER = "crmd:startup-grace"
PACEMAKER_DC_DEADTIME = 20.0  # Pacemaker's dc-deadtime default (controld_control.c)


@dataclass(slots=True)
class StartupGrace:
    """When this controller started, whether its grace's end is armed, and whether the
    DC's scheduler request is held back now."""

    started: float | None = None
    armed: bool = False
    holding: bool = False

    def holds(self, now: float, grace: float, unseen: Iterable[str]
              ) -> tuple[bool, list[CrmdEffect]]:
        """Whether a scheduler request at `now` waits, given the configured nodes never
        seen (`unseen`), and the effects: a log each time, the timer that ends the grace
        the first time."""
        waiting = sorted(unseen)
        self.holding = bool(waiting) and self.started is not None \
            and now < self.started + grace
        if not self.holding or self.started is None:
            return False, []
        until = self.started + grace
        effects: list[CrmdEffect] = [Log("startup_plan_held", fields=(
            ("unseen", " ".join(waiting)), ("until", f"{until:.3f}")))]
        if not self.armed:
            self.armed = True
            effects.append(ArmTimer(STARTUP_GRACE_TIMER, until))
        return True, effects
