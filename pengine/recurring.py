"""Recurring monitors for the role a resource is to have where it is placed.

Owns the active-role half of Pacemaker's pcmk__create_recurring_actions (recurring_op_for_active):
each enabled recurring monitor configured for the resource's next role (no role: any role but
Promoted) becomes an action on the chosen node, optional while it already runs there and the
start is optional. A monitor configured for another role is not created; one that already runs
there is cancelled before the role change (promote, demote or stop) that makes it wrong.

Also owns the inactive half (recurring_op_for_inactive): a Stopped-role monitor runs on every
node where the resource is not to be active, expecting "not running".

Invariants: only actions and orderings are recorded (in the ActionSet the caller owns); no
monitor is created whose name and interval another operation of the resource repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.unpack_resources import OpConfig
from pengine.xmlin import Element, is_true

if TYPE_CHECKING:
    from pengine.actions import ActionSet, PrimitiveActions
    from pengine.state import Unpacked
    from pengine.unpack_nodes import NodeWork


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
            for reload in acts.of(rid, "reload-agent", node):  # recurring_op_for_active
                acts.order(rid, "reload-agent", rid, "monitor", IMPLIES_THEN, RUNNABLE_LEFT,
                           first_action=reload, then_action=act)
            if next_role == Role.PROMOTED:
                acts.order(rid, "promote", rid, "monitor", OPTIONAL, RUNNABLE_LEFT,
                           then_action=act)
            elif role == Role.PROMOTED:
                acts.order(rid, "demote", rid, "monitor", OPTIONAL, RUNNABLE_LEFT,
                           then_action=act)


def create_stopped_monitors(pa: PrimitiveActions, rid: str, chosen: str | None) -> None:
    """The Stopped-role monitors of `rid` on every node but `chosen`, where it is cancelled.

    Pacemaker 2.1.5 (recurring_op_for_inactive; confirmed with crm_simulate on made-up
    two- and three-node CIBs): the monitor is optional where it already runs (an active
    entry of that node's history), else required; it waits for the node's probe and, where
    the resource is active, for its stop (which makes it required); it cannot run on an
    offline or unclean node. Anonymous clone instances get none. On the node the resource
    is to be active on, a running Stopped-role monitor is cancelled before the start.
    """
    from pengine.actions import IMPLIES_THEN, RUNNABLE_LEFT, op_key

    acts, st = pa.acts, pa.u.states[rid]
    ops = () if _anonymous(pa, rid) else pa.u.rsc(rid).ops
    for op in ops:
        if op.name != "monitor" or op.interval_ms <= 0 or not op.enabled \
                or op.role != Role.STOPPED or _duplicated(ops, op):
            continue
        key = op_key(rid, "monitor", op.interval_ms)
        for node in pa.u.nodes:
            running = _stopped_running(unpacked_recurring(st.history.get(node.name, [])), op)
            if node.name == chosen:
                if running:
                    _cancel_stopped(pa, rid, node.name, op, pa.p.next_role.get(rid, Role.STOPPED))
                continue
            act, _ = acts.new(key, "monitor", rid, node.name, running, interval_ms=op.interval_ms)
            act.runnable = node.online and not node.unclean
            managed = pa.p.managed.get(rid, True)
            if managed:
                for probe in [a for a in acts.of(rid, "monitor", node.name) if a is not act]:
                    acts.order(rid, "monitor", rid, "monitor", RUNNABLE_LEFT,
                               first_action=probe, then_action=act)
            for stop in acts.of(rid, "stop", node.name):
                act.runnable = act.runnable and stop.runnable
                if managed:
                    acts.order(rid, "stop", rid, "monitor", IMPLIES_THEN, RUNNABLE_LEFT,
                               first_action=stop, then_action=act)


def create_unpacked_recurring(u: Unpacked, acts: ActionSet, rid: str, node: NodeWork) -> None:
    """The optional actions Pacemaker's unpacker creates for the recurring operations of
    `rid` that still run on an online `node` (process_recurring). They schedule nothing by
    themselves; a later action with the same key and node is the same action (custom_action
    finds it), so a cancel of a running monitor, or a monitor scheduled again where it runs,
    keeps this early id, which orders its synapse in the graph."""
    from pengine.actions import op_key

    if not node.online:
        return
    for entry in unpacked_recurring(u.states[rid].history.get(node.name, [])):
        task, interval = entry.get("operation") or "", int(entry.get("interval") or 0)
        acts.new(op_key(rid, task, interval), task, rid, node.name, True, interval_ms=interval)


def unpacked_recurring(history: list[Element]) -> list[Element]:
    """The recurring entries of one node's history (call-id order) that Pacemaker's unpacker
    makes optional actions of (process_recurring): those since the last start, or when a
    stop ended that run, those after the stop (a Stopped-role monitor started since;
    confirmed with crm_simulate: it is not scheduled again), not pending ones."""
    from pengine.digests import entries_since_last_start

    active = entries_since_last_start(history)
    if not active:
        stops = [i for i, h in enumerate(history)
                 if h.get("operation") == "stop" and h.get("op-status") == "0"]
        active = history[stops[-1] + 1:] if stops else []
    return [h for h in active if h.get("interval", "0") != "0" and h.get("op-status") != "-1"]


def _stopped_running(history: list[Element], op: OpConfig) -> bool:
    """The unpacker makes every recurring entry since the last start an (optional) action,
    whatever its result: a Stopped-role monitor that found the resource running (rc 0)
    runs there too."""
    return any(h.get("operation") == "monitor" and h.get("interval") == str(op.interval_ms)
               for h in history)


def _anonymous(pa: PrimitiveActions, rid: str) -> bool:
    """An instance of an anonymous clone (not pe_rsc_unique): Pacemaker ignores its
    Stopped-role monitors ("not supported for anonymous clones")."""
    parent = pa.u.rsc(rid).parent
    while parent is not None:
        rsc = pa.u.rsc(parent)
        if rsc.kind == "clone":
            return not is_true(rsc.meta.get("globally-unique"), False)
        parent = rsc.parent
    return False


def _cancel_stopped(pa: PrimitiveActions, rid: str, node: str, op: OpConfig,
                    next_role: Role) -> None:
    """cancel_if_running: a start (Started or Unpromoted next) waits for the cancel."""
    from pengine.actions import RUNNABLE_LEFT, op_key

    cancel, _ = pa.acts.new(op_key(rid, "monitor", op.interval_ms), "cancel", rid, node, False,
                            interval_ms=op.interval_ms)
    if next_role in (Role.STARTED, Role.UNPROMOTED):
        pa.acts.order(rid, "cancel", rid, "start", RUNNABLE_LEFT, first_action=cancel)


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
