"""The DC's fencing bookkeeping: what a successful fencing writes, and when to give up.

`fenced_updates` is Pacemaker's `send_stonith_update` plus the clean-up after it: the
target's node_state gets join=down expected=down, and everything below it (``lrm`` and
``transient_attributes``) is deleted, since a fenced node runs nothing and starts afresh.
``in_ccm`` and ``crmd`` are left to the membership writes (`post_cache_update`,
`peer_update_callback`), because the node may already be back by the time the result
arrives; only a node this controller never saw in a view gets ``in_ccm="false"`` here
(Pacemaker: peer state unknown -> cluster flag too), or the scheduler would keep it
UNCLEAN ("peer has not been seen by the cluster") and fence it again. A lost node's final
entry is thus in_ccm="false" crmd="offline" join="down" expected="down" (crm_mon: OFFLINE).
`FencingAttempts` is `too_many_st_failures`: after `stonith-max-attempts` (default 10)
failed fencings of a target, the DC stops asking for it and waits for something else to
change instead of replanning the same fencing forever. `FencingAttempts.external` is
Pacemaker's `tengine_stonith_notify` for a fencing the DC did not ask for (stonith_admin,
another node's controller): the DC writes the target cleanly down and the transition is
aborted ("External Fencing Operation"), so the scheduler replans from a node known to be
safely down instead of fencing it again when it leaves (and quickly rejoins) the view.
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crmd.join import JoinCoordinator, JoinPhase, node_state_xml
from crmd.messages import (
    ActionResult,
    CrmdEffect,
    DeleteCib,
    ExecuteFencing,
    FenceCompleted,
    ModifyCib,
    NodeFenced,
)
from messaging.effects import Log

DEFAULT_MAX_ATTEMPTS = 10
POWER_DOWN_ACTIONS = ("off", "reboot")  # "on" (unfencing) leaves a node as it was
OWN_CLIENT = "crmd"  # the client name this controller's fencing requests carry


def fenced_updates(node_id: str, target: str, *, seen: bool = True) -> list[CrmdEffect]:
    """The CIB writes after `target` was fenced (off/reboot); `seen`: this controller has
    had the target in a membership view (else in_ccm="false" is written too)."""
    base = f"/cib/status/node_state[@id='{node_id}']"
    in_ccm = None if seen else False
    return [ModifyCib("status", node_state_xml(node_id, target, "send_stonith_update",
                                               in_ccm=in_ccm, join=JoinPhase.NONE,
                                               expected="down")),
            DeleteCib(f"{base}/lrm"), DeleteCib(f"{base}/transient_attributes")]


@dataclass(slots=True)
class FencingAttempts:
    """Failed fencing attempts per target (a success resets the target)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    failures: dict[str, int] = field(default_factory=dict)
    given_up: set[str] = field(default_factory=set)  # transition keys refused here
    fenced_dcs: set[str] = field(default_factory=set)  # fenced while no DC could record it
    seen: set[str] = field(default_factory=set)  # nodes ever in this controller's views

    def record(self, target: str, ok: bool) -> None:
        if ok:
            self.failures.pop(target, None)
        else:
            self.failures[target] = self.failures.get(target, 0) + 1

    def exhausted(self, target: str) -> bool:
        return self.failures.get(target, 0) >= self.max_attempts

    def completed(self, event: FenceCompleted, node_ids: Mapping[str, str],
                  coordinator: JoinCoordinator | None
                  ) -> tuple[list[CrmdEffect], ActionResult]:
        """stonithd answered: the CIB writes (after a success; the join coordinator learns
        the target is down, as Pacemaker's `crmd_peer_down`) and the graph's result."""
        self.record(event.target, event.ok)
        effects = self._cleanly_down(event.target, node_ids, coordinator) if event.ok else []
        return effects, ActionResult(event.transition_key, event.target,
                                     0 if event.ok else 1, 0, event.now, wall=event.wall)

    def external(self, event: NodeFenced, local: str, dc: str | None,
                 node_ids: Mapping[str, str], coordinator: JoinCoordinator | None
                 ) -> list[CrmdEffect]:
        """A published fencing result: for a successful off/reboot of another cluster
        node that this controller did not ask for (its own come as `FenceCompleted`),
        the DC's clean-down writes; else nothing. The join coordinator learns the node
        is expected down, so its loss from the view that follows is a clean departure,
        not a failure to fence. Without a DC, or when the DC itself was fenced, the
        target is remembered until this node's next join as DC ends (`cleanup`), as
        Pacemaker's controller keeps its stonith cleanup list for its DC takeover."""
        if not event.ok or event.action not in POWER_DOWN_ACTIONS \
                or event.target == local or event.target not in node_ids \
                or (event.origin == local and event.client == OWN_CLIENT):
            return []
        self.record(event.target, True)
        if dc != local:
            if dc is None or dc == event.target:
                self.fenced_dcs.add(event.target)
            return []
        log = Log("external_fencing", "warning", (("target", event.target),
                                                  ("action", event.action),
                                                  ("origin", event.origin),
                                                  ("client", event.client)))
        return [log, *self._cleanly_down(event.target, node_ids, coordinator)]

    def cleanup(self, node_ids: Mapping[str, str], coordinator: JoinCoordinator,
                online: set[str]) -> list[CrmdEffect]:
        """This DC's join ended (after its CIB sync, which could have undone earlier
        writes): targets fenced while there was no DC, or the DC itself, are written
        cleanly down unless they joined again meanwhile."""
        targets, self.fenced_dcs = sorted(self.fenced_dcs - online), set()
        effects: list[CrmdEffect] = []
        for target in targets:
            effects += [Log("fenced_node_cleanup", "warning", (("target", target),)),
                        *self._cleanly_down(target, node_ids, coordinator)]
        return effects

    def _cleanly_down(self, target: str, node_ids: Mapping[str, str],
                      coordinator: JoinCoordinator | None) -> list[CrmdEffect]:
        if coordinator is not None:
            coordinator.phases[target] = JoinPhase.NONE
            coordinator.expected[target] = "down"
            if coordinator.controllers is not None:  # the controllers the DC knows to run
                # Powered off or rebooted: its controller died with it (Pacemaker's
                # `crmd_peer_down` resets its join; the power-down goes further). Until a
                # controller of its next boot is offered a join, the join's node_state
                # says it is out (crmd offline, in_ccm false), not pending: a reboot faster
                # than deadtime, back before the view changes, must not block the starts.
                coordinator.controllers.discard(target)
            coordinator.powered_down.add(target)
        effects = fenced_updates(node_ids.get(target, target), target, seen=target in self.seen)
        self.seen.add(target)  # Pacemaker's `crmd_peer_down`: peer state lost from now on
        return effects

    def give_up(self, effect: ExecuteFencing, now: float) -> tuple[Log, ActionResult]:
        """The target failed too often: the action fails here, stonithd is not asked."""
        self.given_up.add(effect.transition_key)
        return (Log("fencing_given_up", "error", (("target", effect.target),)),
                ActionResult(effect.transition_key, effect.target, 1, 0, now))
