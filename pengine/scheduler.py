"""The fixed list of scheduler stages (scheduler.md §0), each a pure step.

unpack -> constraints -> placement -> actions -> fencing -> orderings -> summary/graph.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from lxml import etree

from messaging.errors import HAError, ValidationError
from pengine.actions import (
    OPTIONAL,
    ActionSet,
    PrimitiveActions,
    clone_actions,
    group_actions,
    op_key,
)
from pengine.api import Transition
from pengine.blocking import block_dependents
from pengine.constraints import unpack_constraints
from pengine.digests import config_changes, orphan_recurring
from pengine.failcount_clear import EXPIRED, failcount_clears
from pengine.fencing import (
    create_unpack_fencing,
    schedule_fencing_and_shutdowns,
    schedule_unfencing,
    unfence_changed_devices,
)
from pengine.graph import freeze, graph_edges
from pengine.migration_orders import cancel_blocked_migrations
from pengine.ordering import (
    Context,
    collective_children,
    group_locations,
    propagate,
    resolve,
    user_orderings,
)
from pengine.placement import place
from pengine.probes import probes
from pengine.state import Unpacked
from pengine.status import build_status, unpack_cib
from pengine.summary import summarise

CibInput = str | bytes | etree._Element


def run(cib: CibInput, now: datetime.datetime | None, default_now: datetime.datetime,
        transition_id: int) -> Transition:
    u = unpack_cib(cib, now, default_now)
    try:
        return _schedule(u, transition_id)
    except HAError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"unusable CIB: {exc}") from None


def _clear_failcounts(acts: ActionSet, clears: list[tuple[str, str, str]],
                      managed: Mapping[str, bool]) -> None:
    """Cluster actions that reset a fail count; the controller does not wait for them.

    Like any action of an unmanaged resource, the clearing stays optional (out of the graph).
    """
    for rsc, node, reason in clears:
        action, _ = acts.new(op_key(rsc, "clear_failcount"), "clear_failcount", rsc, node,
                             not managed.get(rsc, True))
        action.reason = reason
        action.no_wait = True


def _cancel_orphan_recurring(u: Unpacked, acts: ActionSet) -> None:
    """Cancel recurring monitors that are no longer configured (or are paused)."""
    for rid, node, task, interval, _why in orphan_recurring(u):
        cancel, _ = acts.new(op_key(rid, task, interval), "cancel", rid, node, False,
                             interval_ms=interval)
        acts.order(rid, "stop", rid, "cancel", OPTIONAL, then_action=cancel)


def _apply_config_changes(u: Unpacked, acts: ActionSet, prim: PrimitiveActions) -> set[str]:
    """Restart, stop or reload what changed definition (a changed fencing device also
    unfences its node); returns the resources to reload."""
    changes = config_changes(u)
    unfence_changed_devices(u, acts, changes)
    reloads: set[str] = set()
    for rid, per_node in changes.items():
        for node, change in per_node.items():
            if change == "restart":
                prim.force_restart(rid)
            elif change == "agent":
                prim.action(rid, "stop", node, False)
            else:
                reloads.add(rid)
    return reloads


def _schedule(u: Unpacked, transition_id: int) -> Transition:
    cons = unpack_constraints(u)
    placement = place(u, cons)
    acts = ActionSet()
    create_unpack_fencing(u, acts)
    clears = failcount_clears(u)
    _clear_failcounts(acts, [c for c in clears if c[2] == EXPIRED], placement.managed)
    prim = PrimitiveActions(u, placement, acts)
    for rsc in u.primitives:  # Pacemaker creates a recovery's stop while unpacking the failure
        for node in u.states[rsc.id].recover_on:
            prim.action(rsc.id, "stop", node, False)
    user_orderings(u, cons, acts)
    _clear_failcounts(acts, [c for c in clears if c[2] != EXPIRED], placement.managed)
    _cancel_orphan_recurring(u, acts)  # before probes, as Pacemaker
    probes(u, placement, acts)
    reloads = _apply_config_changes(u, acts, prim)
    for rsc in u.resources:
        if rsc.kind == "primitive":
            prim.create(rsc.id)
        elif rsc.kind == "group":
            group_actions(u, acts, rsc.id)
        elif rsc.kind == "clone":
            clone_actions(u, acts, rsc.id)
    cancel_blocked_migrations(u, acts)
    schedule_unfencing(u, acts)
    schedule_fencing_and_shutdowns(u, placement, acts)
    links = resolve(u, acts, dict(placement.assigned))
    ctx = Context(dict(placement.managed), {rid for rid, st in u.states.items() if st.blocked},
                  collective_children(u, acts), group_locations(u, acts, dict(placement.assigned)),
                  acts.min_runnable, acts.actions,
                  lambda: block_dependents(u, cons.colocations, acts.by_rsc_task),
                  dict(u.requires), {rid: st.running_on for rid, st in u.states.items()})
    propagate(links, ctx)
    actions = freeze(u, acts.actions)
    return Transition(
        edges=graph_edges(actions, links), actions=actions,
        summary=summarise(u, placement, acts.actions, reloads), scores=placement.score_lines,
        status=build_status(u), now=u.now, transition_id=transition_id,
        options=u.options.raw,
        resource_order=placement.order,
    )
