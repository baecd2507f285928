"""The fixed list of scheduler stages (scheduler.md §0), each a pure step.

unpack -> constraints -> placement -> actions -> fencing -> orderings -> summary/graph.

What each stage returns, each a value the later stages only read: unpack_cib an Unpacked,
unpack_constraints Constraints, place a Placement, create_actions a CreatedActions (every
action and ordering, sealed, with the orderings resolved to links), settle_flags a
FlagsTable (every action's propagated flags), freeze the public Actions, graph_edges and
summarise the Transition's edges and summary lines.
Invariants: nothing after create_actions can add an action or an ordering, nor change an
action (a sealed Work refuses writes): propagation sets flags in its own SettlingFlags.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from functools import partial
from typing import NamedTuple

from lxml import etree

from messaging.errors import HAError, ValidationError
from pengine.actions import OPTIONAL, ActionSet, PrimitiveActions, op_key
from pengine.anti_colocation import create_anti_colocation_orders
from pengine.api import Transition
from pengine.blocking import DependentBlock
from pengine.collective_actions import clone_actions, ordered_instance_chain
from pengine.constraints import Constraints, unpack_constraints
from pengine.digests import (
    CLEANUP,
    RERUN,
    RESCHEDULE,
    config_changes,
    orphan_recurring,
    recorded_call_id,
)
from pengine.discovery import Discovery
from pengine.failcount_clear import DEFINITION_CHANGED, EXPIRED, failcount_clears, orphan_clears
from pengine.fencing import (
    create_unpack_fencing,
    schedule_fencing_and_shutdowns,
    schedule_unfencing,
    unfence_allowed_nodes,
    unfence_changed_devices,
)
from pengine.graph import freeze, graph_edges, held_inputs
from pengine.group_actions import group_actions
from pengine.interleave_partner import Placed
from pengine.load_orders import create_load_orders
from pengine.migration_orders import cancel_blocked_migrations, migration_equivalents
from pengine.model import Action
from pengine.notifications import Expansion, expand_notifications
from pengine.order_links import Link
from pengine.ordering import resolve, user_orderings
from pengine.ordering_context import (
    clone_instance_actions,
    collective_children,
    group_locations,
    group_member_actions,
)
from pengine.placement import Placement, place
from pengine.probes import probe_then_links, probes
from pengine.propagation import Context, propagate
from pengine.recurring import create_unpacked_recurring
from pengine.reloads import cancel_reloads, schedule_reloads
from pengine.sealed_actions import FlagsTable, SealedActions, SettlingFlags, seal
from pengine.state import Unpacked
from pengine.status import build_status, unpack_cib
from pengine.summary import summarise
from pengine.unpack_resources import RscConfig
from pengine.walk import Shape
from pengine.xmlin import is_true

CibInput = str | bytes | etree._Element


def run(cib: CibInput, now: datetime.datetime | None, default_now: datetime.datetime,
        transition_id: int) -> Transition:
    unpacked = unpack_cib(cib, now, default_now)
    try:
        return _schedule(unpacked, transition_id)
    except HAError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"unusable CIB: {exc}") from None


def _unpacked_actions(unpacked: Unpacked, action_set: ActionSet,
                      primitive_actions: PrimitiveActions) -> None:
    """What Pacemaker's unpacker creates, node by node and resource by resource: the
    optional actions of the recurring operations that still run (process_recurring), then
    a recovery's stop (process_rsc_state, after them)."""
    for node in unpacked.nodes:
        for rsc in unpacked.primitives:
            create_unpacked_recurring(unpacked, action_set, rsc.id, node)
            if node.name in unpacked.states[rsc.id].recover_on:
                primitive_actions.action(rsc.id, "stop", node.name, False)


def _clear_failcounts(action_set: ActionSet, clears: list[tuple[str, str, str]],
                      managed: Mapping[str, bool]) -> None:
    """Cluster actions that reset a fail count; the controller does not wait for them.

    Like any action of an unmanaged resource, the clearing stays optional (out of the graph).
    """
    for rsc, node, reason in clears:
        action, _ = action_set.new(op_key(rsc, "clear_failcount"), "clear_failcount", rsc,
                                   node, not managed.get(rsc, True))
        action.reason = reason
        action.no_wait = True


def _clear_histories(action_set: ActionSet, clears: tuple[tuple[str, str], ...],
                     managed: Mapping[str, bool]) -> None:
    """pe__clear_resource_history: an lrm_delete (a CIB-only cluster action) of a
    resource's history on a node, required unless the resource is unmanaged."""
    for rsc, node in clears:
        action_set.new(op_key(rsc, "lrm_delete"), "lrm_delete", rsc, node,
                       not managed.get(rsc, True))


def _cancel_orphan_recurring(unpacked: Unpacked, action_set: ActionSet, placement: Placement,
                             primitive_actions: PrimitiveActions) -> None:
    """Cancel recurring monitors that are no longer configured (or are paused); mark those
    whose definition changed to be sent again (an optional action until the resource's
    recurring actions are created, which then makes it required).

    A resource that stops for good (assigned nowhere) gets no cancel of an unconfigured
    monitor: crm_simulate 2.1.5 leaves it out of the graph, and the stop ends the monitor
    anyway; one that moves or restarts still gets it.
    """
    for rid, node, task, interval, why in orphan_recurring(unpacked):
        if why == "orphan" and placement.assigned.get(rid, "") is None:
            continue
        if why == RESCHEDULE:
            again, _ = action_set.new(op_key(rid, task, interval), task, rid, node, True,
                                      interval_ms=interval)
            again.rescheduled = True
            continue
        if why == RERUN:
            # force_restart: required, on no node until the resource's recurring actions
            # are created (confirmed with crm_simulate: corpus failcount-block)
            action_set.require_any(op_key(rid, task, interval), task, rid, interval)
            continue
        if why == CLEANUP:  # a required clean-up: its orderings stay optional
            if node in unpacked.states[rid].running_on and not unpacked.rsc(rid).orphan:
                # pcmk__rsc_agent_changed: the agent changed where it runs; its stop is
                # created here, before the clean-up (and before the probes)
                primitive_actions.action(rid, "stop", node, False)
            cleanup, _ = action_set.new(op_key(rid, "delete"), "delete", rid, node, False)
            action_set.order(rid, "stop", rid, "delete", OPTIONAL, then_action=cleanup)
            action_set.order(rid, "delete", rid, "start", OPTIONAL, first_action=cleanup)
            continue
        cancel, _ = action_set.new(op_key(rid, task, interval), "cancel", rid, node, False,
                                   interval_ms=interval)
        cancel.call_id = recorded_call_id(unpacked.states[rid], node, task, interval)
        action_set.order(rid, "stop", rid, "cancel", OPTIONAL, then_action=cancel)


def _apply_config_changes(unpacked: Unpacked, action_set: ActionSet,
                          primitive_actions: PrimitiveActions,
                          changes: dict[str, dict[str, str]]) -> set[str]:
    """Restart or stop what changed definition (a changed fencing device also unfences
    its node); returns the resources to reload (schedule_reloads made their actions)."""
    unfence_changed_devices(unpacked, action_set, changes)
    reloads: set[str] = set()
    for rid, per_node in changes.items():
        for node, change in per_node.items():
            if change == "restart":
                primitive_actions.force_restart(rid)
            elif change == "agent":
                primitive_actions.action(rid, "stop", node, False)
            else:
                reloads.add(rid)
    return reloads


class CreatedActions(NamedTuple):
    """What the action-creating stages produce: every action and ordering, sealed."""

    actions: SealedActions
    links: list[Link]  # the orderings resolved to action pairs, creation order
    reloads: frozenset[str]  # resources whose definition changed only in reloadable ways


def _schedule(unpacked: Unpacked, transition_id: int) -> Transition:
    constraints = unpack_constraints(unpacked)
    placement = place(unpacked, constraints)
    created = create_actions(unpacked, constraints, placement)
    flags = settle_flags(unpacked, constraints, placement, created)
    expanded = expand_notifications(unpacked, placement, created.actions, created.links, flags)
    actions = freeze(unpacked, expanded.works, expanded.flags, expanded.meta,
                     expanded.priority, {**_collectives_managed(unpacked), **placement.managed})
    return Transition(
        edges=graph_edges(actions, expanded.links), actions=actions,
        summary=summarise(unpacked, placement, actions, set(created.reloads)),
        scores=placement.score_lines,
        status=build_status(unpacked), now=unpacked.now, transition_id=transition_id,
        options=unpacked.options.raw,
        resource_order=placement.order, held=_held(actions, expanded),
        instance_order=_instance_order(unpacked, placement),
    )


def _creation_order(u: Unpacked, placement: Placement) -> list[RscConfig]:
    """The resources in the order Pacemaker creates their actions: pcmk__create_actions
    walks the resource list as assignment sorted it (a placement strategy sorts the
    top-level resources: seed 1276, c14's actions before c3's), each top-level resource
    with everything under it."""
    rank = {rid: index for index, rid in enumerate(placement.order)}

    def top(rsc: RscConfig) -> str:
        while rsc.parent is not None and u.has_rsc(rsc.parent):
            rsc = u.rsc(rsc.parent)
        return rsc.id

    return sorted(u.resources, key=lambda rsc: rank.get(top(rsc), len(rank)))


def _instance_order(u: Unpacked, placement: Placement) -> dict[str, tuple[str, ...]]:
    """Each clone's children as Pacemaker leaves them for the graph: in assignment (and
    promotion) order, unless something sorted them by instance number since: probing a
    clone on a node (clone_create_probe sorts first; probes are scheduled after assignment
    on every online clean node when startup probes are enabled), or the clone being ordered
    (clone_internal_constraints sorts to chain the instances). Observed with Debian's
    crm_simulate: seed 7013's notifications follow the assignment order only because it
    disables startup probes; made ordered, they follow the numbers."""
    probed = u.options.startup_probes and any(n.online and not n.unclean for n in u.nodes)
    order = dict(placement.instance_order)
    for clone in u.resources:
        if clone.kind == "clone" and (probed or is_true(clone.meta.get("ordered"))):
            order[clone.id] = tuple(sorted(clone.children, key=_instance_number))
    return order


def _instance_number(instance: str) -> int:
    return int(instance.rsplit(":", 1)[1])


def _held(actions: tuple[Action, ...], expanded: Expansion) -> tuple[tuple[int, int], ...]:
    """The graph's inputs left out of it: an action standing for a pending one is printed
    always (pe_action_print_always) even when its resource is unmanaged."""
    printed = frozenset(w.id for w in expanded.works if w.print_always or w.print_pending)
    return held_inputs(actions, expanded.links, expanded.flags.optional, printed)


def _collectives_managed(u: Unpacked) -> dict[str, bool]:
    """A group's or clone's own managed flag (its pseudo actions stay out of the graph
    when it is unmanaged): its is-managed and maintenance meta, and maintenance-mode."""
    return {r.id: not u.options.maintenance_mode and is_true(r.meta.get("is-managed"), True)
            and not is_true(r.meta.get("maintenance"), False)
            for r in u.resources if r.kind != "primitive"}


def _resource_actions(unpacked: Unpacked, placement: Placement, action_set: ActionSet,
                      primitive_actions: PrimitiveActions) -> None:
    """Each resource's own actions, in the order Pacemaker creates them (assignment order
    under a placement strategy); a clone's orphan group instances before the clone's."""
    for rsc in _creation_order(unpacked, placement):
        if rsc.kind == "primitive":
            primitive_actions.create(rsc.id)
        elif rsc.kind == "group":
            group_actions(unpacked, action_set, rsc.id)
        elif rsc.kind == "clone":
            for orphan_group in unpacked.orphan_groups.get(rsc.id, ()):
                group_actions(unpacked, action_set, orphan_group.id)
            clone_actions(unpacked, action_set, rsc.id)


def create_actions(unpacked: Unpacked, constraints: Constraints,
                   placement: Placement) -> CreatedActions:
    """Every stage that creates actions or orderings, in Pacemaker's order; the result is
    sealed, so the stages after it (propagation, graph, summary) cannot add any."""
    action_set = ActionSet()
    create_unpack_fencing(unpacked, action_set)
    _clear_histories(action_set, unpacked.expired_locks, placement.managed)
    clears = failcount_clears(unpacked)
    _clear_failcounts(action_set, [c for c in clears if c[2] == EXPIRED], placement.managed)
    primitive_actions = PrimitiveActions(unpacked, placement, action_set)
    _unpacked_actions(unpacked, action_set, primitive_actions)
    _clear_histories(action_set, unpacked.cancelled_locks, placement.managed)
    user_orderings(unpacked, constraints, action_set)
    create_anti_colocation_orders(constraints, action_set)
    # internal constraints (before the checks): unfencing, then utilization, per resource
    create_load_orders(unpacked, placement, action_set, partial(
        unfence_allowed_nodes, unpacked, placement, action_set))
    unpacked_clears = [c for c in clears if c[2] not in (EXPIRED, DEFINITION_CHANGED)]
    _clear_failcounts(action_set, unpacked_clears, placement.managed)
    # before probes, as Pacemaker (pcmk__handle_rsc_config_changes)
    _cancel_orphan_recurring(unpacked, action_set, placement, primitive_actions)
    changes = config_changes(unpacked)
    schedule_reloads(unpacked, action_set, primitive_actions, changes)
    # force_restart creates the restart's start (on no node yet) in the same checks, so
    # its id precedes the probes': the graph lists it after them and the simulator runs it
    # in the pass that runs them (corpus params-1, bug-5025-3)
    reloads = _apply_config_changes(unpacked, action_set, primitive_actions, changes)
    # the deferred parameter checks (check_params) clear fail counts after those
    _clear_failcounts(action_set, [c for c in clears if c[2] == DEFINITION_CHANGED],
                      placement.managed)
    probes(unpacked, placement, action_set, Discovery(unpacked, constraints))
    orphaned = orphan_clears(unpacked)
    _clear_failcounts(action_set, orphaned, placement.managed)
    for rid, node, _ in orphaned:  # clear -> stop, optional (clear_failcounts_if_orphaned)
        action_set.order(rid, "clear_failcount", rid, "stop", OPTIONAL,
                         first_action=action_set.find(op_key(rid, "clear_failcount"), node))
    _resource_actions(unpacked, placement, action_set, primitive_actions)
    for rsc in unpacked.resources:
        if rsc.kind == "clone":
            ordered_instance_chain(unpacked, action_set, rsc.id)
    cancel_blocked_migrations(unpacked, action_set)
    schedule_unfencing(unpacked, action_set)
    schedule_fencing_and_shutdowns(unpacked, placement, action_set)
    migration_equivalents(unpacked, action_set)
    # resolve still creates a missing "first" action (rsc_order_first), so sealing waits
    links = resolve(unpacked, action_set, dict(placement.assigned),
                    Placed(placement.tables, placement.instance_order))
    links += probe_then_links(unpacked, action_set, placement.assigned)
    return CreatedActions(seal(action_set), links, frozenset(reloads))


def settle_flags(unpacked: Unpacked, constraints: Constraints, placement: Placement,
                 created: CreatedActions) -> FlagsTable:
    """Every action's flags once the orderings (and colocation blocking) have settled them.

    Propagation keeps what it sets in its own SettlingFlags: the sealed actions stay as
    created.
    """
    flags = SettlingFlags(created.actions.actions)
    settled = propagate(created.links, _ordering_context(unpacked, constraints, placement,
                                                         created.actions, flags))
    return cancel_reloads(created.links, settled)


def _ordering_context(unpacked: Unpacked, constraints: Constraints, placement: Placement,
                      actions: SealedActions, flags: SettlingFlags) -> Context:
    """What the ordering propagation reads besides the links themselves."""
    states = unpacked.states
    # the colocation block only reads this copy, built once
    by_rsc_task = {key: list(works) for key, works in actions.by_rsc_task.items()}
    return Context(
        dict(placement.managed), {rid for rid, state in states.items() if state.blocked},
        collective_children(unpacked, actions),
        clone_instance_actions(unpacked, actions),
        group_locations(unpacked, actions, dict(placement.assigned)),
        actions.min_runnable, actions.actions, flags, _shape(unpacked),
        DependentBlock(unpacked, constraints.colocations, by_rsc_task, flags),
        dict(unpacked.requires), {rid: state.running_on for rid, state in states.items()},
        group_member_actions(unpacked, actions), dict(placement.inhibited_by))


def _shape(u: Unpacked) -> Shape:
    """Each resource's kind and parents, for the walk's creation order."""
    ancestors: dict[str, tuple[str, ...]] = {}
    for rsc in u.resources:
        chain: list[str] = []
        parent = rsc.parent
        while parent is not None and u.has_rsc(parent):
            chain.append(parent)
            parent = u.rsc(parent).parent
        ancestors[rsc.id] = tuple(chain)
    return Shape({r.id: r.kind for r in u.resources}, ancestors)
