"""Recurring monitors for the role a resource is to have where it is placed.

Owns the active-role half of Pacemaker's pcmk__create_recurring_actions (recurring_op_for_active):
each enabled recurring monitor configured for the resource's next role (no role: any role but
Promoted) becomes an action on the chosen node, optional while it already runs there and the
start is optional. A monitor configured for another role is not created; one that already runs
there is cancelled before the role change (promote, demote or stop) that makes it wrong.

Invariants: only actions and orderings are recorded (in the ActionSet the caller owns); a
Stopped-role monitor is never created here, nor one whose name and interval another
operation of the resource repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.unpack_resources import OpConfig
from pengine.xmlin import Element

if TYPE_CHECKING:
    from pengine.actions import PrimitiveActions


def wrong_role(op_role: Role | None, next_role: Role) -> bool:
    """recurring_op_for_active: a role-less monitor serves every role but Promoted; one with a
    role serves exactly that role (so a Started monitor does not run on an Unpromoted
    instance of a promotable clone)."""
    if op_role in (None, Role.UNKNOWN):
        return next_role == Role.PROMOTED
    return op_role != next_role


def create_monitors(pa: PrimitiveActions, rid: str, node: str, next_role: Role) -> None:
    """The recurring monitors of `rid` on `node` for `next_role` (cancels for the others)."""
    from pengine.actions import IMPLIES_THEN, OPTIONAL, RUNNABLE_LEFT, active_recurring, op_key

    acts = pa.acts
    starts = acts.of(rid, "start", node)
    start_required = any(not a.optional for a in starts)
    history = active_recurring(pa.u.states[rid].history.get(node, []))
    managed = pa.p.managed.get(rid, True)
    role = pa.u.states[rid].role
    if not managed and pa.u.states[rid].running_on:
        next_role = role  # an unmanaged resource keeps its role (pcmk__primitive_assign)
    ops = pa.u.rsc(rid).ops
    for op in ops:
        if op.name != "monitor" or op.interval_ms <= 0 or not op.enabled \
                or op.role == Role.STOPPED or _duplicated(ops, op):
            continue
        key = op_key(rid, "monitor", op.interval_ms)
        prior = acts.find(key, node)
        optional = _running(history, key, op) and not start_required \
            and not (prior is not None and prior.rescheduled)
        if wrong_role(op.role, next_role):
            if optional:  # it runs there: cancel it before the role change
                _cancel_wrong_role(pa, rid, node, op, role, next_role)
            continue
        act, _ = acts.new(key, "monitor", rid, node, optional, interval_ms=op.interval_ms)
        act.runnable = (bool(starts) and all(a.runnable for a in starts)) or (
            not starts and pa.nodes[node].online)
        if managed:  # an unmanaged one's monitor waits for nothing
            acts.order(rid, "start", rid, "monitor", IMPLIES_THEN, RUNNABLE_LEFT,
                       then_action=act)
            if next_role == Role.PROMOTED:
                acts.order(rid, "promote", rid, "monitor", OPTIONAL, RUNNABLE_LEFT,
                           then_action=act)
            elif role == Role.PROMOTED:
                acts.order(rid, "demote", rid, "monitor", OPTIONAL, RUNNABLE_LEFT,
                           then_action=act)


def _duplicated(ops: Sequence[OpConfig], op: OpConfig) -> bool:
    """is_op_dup: an operation whose name and interval another one repeats (say a Promoted
    and an Unpromoted monitor of the same interval) gets no recurring action at all, for
    neither role (corpus promoted-notify, bug-lf-2606: no monitor in Pacemaker's graph)."""
    return sum(1 for o in ops if o.name == op.name and o.interval_ms == op.interval_ms) > 1


def _running(history: list[Element], key: str, op: OpConfig) -> bool:
    """The monitor already runs on the node (an entry of the resource's current activity).
    An anonymous instance's entry may carry another instance number in its key; a Promoted
    one then counts with its rc 8 (CRM_EX_PROMOTED, what it expects: seed 250)."""
    ok = ("0", "8", None) if op.role == Role.PROMOTED else ("0", None)
    return any(h.get("operation_key") == key or (
        h.get("operation") == "monitor" and h.get("interval") == str(op.interval_ms)
        and h.get("rc-code") in ok) for h in history)


def _cancel_wrong_role(pa: PrimitiveActions, rid: str, node: str, op: OpConfig, role: Role,
                       next_role: Role) -> None:
    """Cancel a running monitor of another role, ordered before the promote (an active
    Unpromoted/Started one going up), the stop (going down) or the demote (a Promoted one)."""
    from pengine.actions import RUNNABLE_LEFT, op_key

    cancel, _ = pa.acts.new(op_key(rid, "monitor", op.interval_ms), "cancel", rid, node, False,
                            interval_ms=op.interval_ms)
    after = None
    if role in (Role.UNPROMOTED, Role.STARTED):
        after = {Role.PROMOTED: "promote", Role.STOPPED: "stop"}.get(next_role)
    elif role == Role.PROMOTED:
        after = "demote"
    if after is not None:
        pa.acts.order(rid, "cancel", rid, after, RUNNABLE_LEFT, first_action=cancel)
