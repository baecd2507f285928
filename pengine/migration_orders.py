"""Planned live migrations that an ordering with a non-migrating resource cancels.

Pacemaker 2.1.5 marks a planned migration's start and stop migrate_runnable. An ordering
"B start|stop then X task" with pe_order_implies_first (the inverse of a mandatory,
symmetrical "X ... then B ...") or pe_order_restart (a group member's stop before the
previous member's) whose 'then' is required and not migrate_runnable clears
migrate_runnable from B's action (pcmk__update_ordered_actions), which makes its
migrate_from unrunnable (pe_order_implies_first_migratable) and the start real again: B
moves by stop and start, its stop "due to unrunnable X task" when the cleared action was the
stop. Only a migrating primitive's start and stop are migrate_runnable, and a clone's stop
unless an instance restarts (clone_create_pseudo_actions: allow_dependent_migrations); a
group's actions never are. Observed with crm_simulate: a recovering primitive, group or clone
instance before B, through a plain ordering or a require-all="false" set, cancels B's
migration; a clone instance that only stops, or a restart behind an asymmetrical ordering,
does not (corpus 5-am-then-bm-a-not-migratable, 7-migrate-group-one-unmigratable).

Invariants: runs after every resource's actions exist and before orderings are resolved
(so requiredness is the one actions were created with); only migrate_to/migrate_from actions
(made unrunnable and optional, so out of the graph) and the stop's reason change; a
cancelled migration can cancel the next one along a chain.
"""

from __future__ import annotations

from pengine.actions import OPTIONAL, RESTART, ActionSet, OrderSpec, Work
from pengine.state import Unpacked


def cancel_blocked_migrations(u: Unpacked, acts: ActionSet) -> None:
    orders = [o for o in acts.orders
              if o.first_rsc is not None and o.then_rsc is not None
              and u.has_rsc(o.first_rsc) and u.has_rsc(o.then_rsc)
              and not _related(u, o.first_rsc, o.then_rsc)]
    changed = True
    while changed:
        changed = False
        for order in orders:
            blocked = _blocked_migration(u, acts, order)
            if blocked is None:
                continue
            cancel_migration(acts, *blocked)
            changed = True


def cancel_migration(acts: ActionSet, rid: str, reason: str | None) -> None:
    """rid moves by stop and start: its migrate_to/migrate_from out of the graph, and its stop
    given `reason` when there is one."""
    for action in _planned_migration(acts, rid):
        action.runnable = False
        action.optional = True
    for action in acts.of(rid, "start") + acts.of(rid, "stop"):
        action.migrating = False
    if reason is not None:
        for stop in acts.of(rid, "stop"):
            stop.reason = reason


def migration_graph_orders(acts: ActionSet, migration: tuple[Work, Work], source: str,
                           target: str) -> None:
    """The graph's own orderings of a planned migration (pcmk__create_migration_actions):
    probes, then migrate_to, then migrate_from, then the source's stop and the start."""
    to, frm = migration
    rid = to.rsc
    acts.order(rid, "monitor", rid, "migrate_to", OPTIONAL, then_action=to)
    acts.order(rid, "migrate_from", rid, "stop", OPTIONAL, first_action=frm, then_node=source)
    acts.order(rid, "migrate_from", rid, "start", OPTIONAL, first_action=frm, then_node=target)


def _blocked_migration(u: Unpacked, acts: ActionSet,
                       order: OrderSpec) -> tuple[str, str | None] | None:
    """The resource whose planned migration `order` cancels, and the reason for its stop."""
    first, then = order.first_rsc or "", order.then_rsc or ""
    # pe_order_restart (a group member's stop before the previous member's) clears it the
    # same way (handle_restart_ordering: 'first' unmigratable if a required 'then' is).
    if not {"implies_first", RESTART} & order.flags or order.first_task not in ("start", "stop") \
            or not _planned_migration(acts, first) \
            or not _required_unmigratable(u, acts, then, order.then_task):
        return None
    return first, f"unrunnable {then} {order.then_task}" if order.first_task == "stop" else None


def _planned_migration(acts: ActionSet, rid: str) -> list[Work]:
    actions = [a for task in ("migrate_to", "migrate_from") for a in acts.of(rid, task)]
    return actions if any(a.runnable for a in actions) else []


def _required_unmigratable(u: Unpacked, acts: ActionSet, rid: str, task: str) -> bool:
    """Is rid's `task` action required and not migrate_runnable?"""
    rsc = u.rsc(rid)
    if rsc.kind == "primitive" and task in ("start", "stop") and _planned_migration(acts, rid):
        return False
    if rsc.kind == "clone" and task == "stop":
        return any(_restarting(u, acts, child) for child in rsc.children)
    if task == "stop":
        # A resource that only stops (its start cannot run) has "X start then B start"
        # make B's start unrunnable first: B stops, its stop with no reason of its own
        # (crm_simulate: "Stop B due to unrunnable X start").
        return _restarting(u, acts, rid)
    return any(not a.optional for prim in u.primitives_under(rid) for a in acts.of(prim, task))


def _restarting(u: Unpacked, acts: ActionSet, instance: str) -> bool:
    """clone_update_pseudo_status: the instance (its members together) has a required stop
    and a required, runnable start."""
    required = [a for prim in u.primitives_under(instance)
                for task in ("stop", "start") for a in acts.of(prim, task) if not a.optional]
    return any(a.task == "stop" and (a.runnable or a.pseudo) for a in required) \
        and any(a.task == "start" and a.runnable for a in required)


def _ancestors(u: Unpacked, rid: str) -> set[str]:
    found: set[str] = set()
    parent = u.rsc(rid).parent
    while parent is not None:
        found.add(parent)
        parent = u.rsc(parent).parent
    return found


def _related(u: Unpacked, first: str, then: str) -> bool:
    """One contains the other (orderings inside a collective do not count)."""
    return first == then or first in _ancestors(u, then) or then in _ancestors(u, first)
