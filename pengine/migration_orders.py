"""Planned live migrations that an ordering with a restarting resource cancels.

Pacemaker 2.1.5 (observed with crm_simulate, corpus 5-am-then-bm-a-not-migratable,
7-migrate-group-one-unmigratable, 11-a-then-bm-b-move-a-clone-starting): when a mandatory
ordering "X start then B start|stop" leads into a resource B that would migrate, and X (a
resource that is not itself migrating, or a group or clone containing one) is restarting
there, i.e. it has both a required stop and a required start, B moves by stop and start
instead: `Move B ( n1 -> n2 )  due to unrunnable X stop` (the reason only when the ordering
leads to B's start). X only starting, or only stopping, leaves the migration alone. A
mandatory "X stop then B start" with X starting (not migrating) also makes B move:
`due to unrunnable X start`.

Invariants: runs after every resource's actions exist and before orderings are resolved;
only migrate_to/migrate_from actions (made unrunnable and optional, so out of the graph) and
the start's reason change; a cancelled migration can cancel the next one along a chain.
"""

from __future__ import annotations

from pengine.actions import IMPLIES_THEN, OPTIONAL, ActionSet, OrderSpec, Work
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
            rid, reason = blocked
            for action in _planned_migration(acts, rid):
                action.runnable = False
                action.optional = True
            for action in acts.of(rid, "start") + acts.of(rid, "stop"):
                action.migrating = False
            if reason is not None:
                for stop in acts.of(rid, "stop"):
                    stop.reason = reason
            changed = True


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
    if order.first_task == "start" and order.then_task in ("start", "stop") \
            and IMPLIES_THEN in order.flags \
            and _planned_migration(acts, then) and _restarting(u, acts, first):
        return then, f"unrunnable {first} stop" if order.then_task == "start" else None
    # The inverse of a mandatory "X stop then B start": a required start of X that is not
    # migrating takes migrate_runnable from B's stop (pcmk__update_ordered_actions), so B
    # moves, its stop "due to unrunnable X start" (seed 443).
    if order.first_task == "stop" and order.then_task == "start" \
            and "implies_first" in order.flags \
            and _planned_migration(acts, first) and _starting(u, acts, then):
        return first, f"unrunnable {then} start"
    return None


def _planned_migration(acts: ActionSet, rid: str) -> list[Work]:
    actions = [a for task in ("migrate_to", "migrate_from") for a in acts.of(rid, task)]
    return actions if any(a.runnable for a in actions) else []


def _restarting(u: Unpacked, acts: ActionSet, rid: str) -> bool:
    """Some primitive of rid stops and starts (both required) without migrating."""
    for prim in u.primitives_under(rid):
        if _planned_migration(acts, prim):
            continue
        stops = [a for a in acts.of(prim, "stop") if not a.optional]
        starts = [a for a in acts.of(prim, "start") if not a.optional]
        if stops and starts:
            return True
    return False


def _starting(u: Unpacked, acts: ActionSet, rid: str) -> bool:
    """Some primitive of rid has a required start without migrating."""
    return any(not a.optional for prim in u.primitives_under(rid)
               if not _planned_migration(acts, prim) for a in acts.of(prim, "start"))


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
