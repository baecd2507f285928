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
from pengine.xmlin import is_true

# pe_order_apply_first_non_migratable: the graph keeps the ordering only while 'first' is
# not itself part of a live migration (should_add_input_to_graph)
FIRST_NON_MIGRATABLE = "first_non_migratable"


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


def migration_equivalents(u: Unpacked, acts: ActionSet) -> None:
    """The orderings of migration actions that Pacemaker adds for each ordering between two
    unrelated resources, either of them allowed to migrate (pcmk__order_migration_equivalents,
    run as each ordering is created): "A start then B start" also orders A's migrate_from
    (both migratable) and A's start (unless A migrates) before B's migrate_to; "A stop then
    B stop" orders A's stop (unless A migrates) before B's migrate_to, and before its
    migrate_from when B's migration is partial; "A promote then B start" and "A demote then
    B stop" order A's action before B's migrate_to (and a demote before a partial
    migration's migrate_from). The new orderings are optional: they only order.

    Confirmed with Debian's crm_simulate 2.1.5 on made-up CIBs (tests/differential/
    executing/migrating-*.xml, shutdown-waits-for-a-migrating-stop.xml): a migrating
    resource waits for the start ordered before it, a migrating group member for the
    previous member's migrate_from.
    """
    for spec in list(acts.orders):
        first, then = _order_resources(spec)
        if first is None or then is None or first == then or not u.has_rsc(first) \
                or not u.has_rsc(then) or _related(u, first, then):
            continue
        first_migratable, then_migratable = _allows_migration(u, first), _allows_migration(u, then)
        for first_task, then_task, flags in _equivalents(
                _task(spec, "first"), _task(spec, "then"), first_migratable, then_migratable,
                u.states[then].partial_migration is not None if then in u.states else False):
            acts.order(first, first_task, then, then_task, "user", OPTIONAL, *flags)


def _equivalents(first_task: str, then_task: str, first_migratable: bool,
                 then_migratable: bool, then_partial: bool
                 ) -> list[tuple[str, str, tuple[str, ...]]]:
    """(first task, then task, extra flags) of the migration orderings one ordering adds."""
    unless_migrating = (FIRST_NON_MIGRATABLE,) if first_migratable else ()
    out: list[tuple[str, str, tuple[str, ...]]] = []
    if (first_task, then_task) == ("start", "start"):
        if first_migratable and then_migratable:
            out.append(("migrate_from", "migrate_to", ()))
        if then_migratable:
            out.append(("start", "migrate_to", unless_migrating))
    elif then_migratable and (first_task, then_task) == ("stop", "stop"):
        out.append(("stop", "migrate_to", unless_migrating))
        if then_partial:
            out.append(("stop", "migrate_from", unless_migrating))
    elif then_migratable and (first_task, then_task) == ("promote", "start"):
        out.append(("promote", "migrate_to", ()))
    elif then_migratable and (first_task, then_task) == ("demote", "stop"):
        out.append(("demote", "migrate_to", ()))
        if then_partial:
            out.append(("demote", "migrate_from", ()))
    return out


def _order_resources(spec: OrderSpec) -> tuple[str | None, str | None]:
    """An ordering's resources: given, else those of its actions (pcmk__new_ordering)."""
    first = spec.first_rsc or (spec.first_action.rsc if spec.first_action else None)
    then = spec.then_rsc or (spec.then_action.rsc if spec.then_action else None)
    return first, then


def _task(spec: OrderSpec, side: str) -> str:
    action = spec.first_action if side == "first" else spec.then_action
    if action is not None:
        return action.task
    return spec.first_task if side == "first" else spec.then_task


def _allows_migration(u: Unpacked, rid: str) -> bool:
    """pe_rsc_allow_migrate: the resource's allow-migrate meta attribute."""
    return is_true(u.rsc(rid).meta.get("allow-migrate"))


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
