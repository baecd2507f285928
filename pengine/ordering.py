"""Orderings: user rsc_order constraints and their resolution to links between actions.

Invariants: orderings are resolved in creation order (a missing "first" action becomes an
optional nodeless, hence unrunnable, action). Flag propagation along the links is
pengine.propagation's.
"""

from __future__ import annotations

import dataclasses

from messaging.types import Role
from pengine.actions import (
    ASYMMETRICAL,
    IMPLIES_THEN,
    OPTIONAL,
    RUNNABLE_LEFT,
    ActionSet,
    OrderSpec,
    Work,
    op_key,
)
from pengine.anti_colocation import ANTI_COLOCATION
from pengine.collective_actions import notified_action
from pengine.constraints import Constraints, Ordering, inverse_key
from pengine.interleave_partner import (
    COMPLETE,
    Placed,
    interleaved,
)
from pengine.order_links import PAIRED, PRINTED, REMAPPED, THROUGH_CLONE, Link, member_links
from pengine.state import Unpacked
from pengine.unpack_resources import RscConfig
from pengine.xmlin import is_true


def user_orderings(u: Unpacked, cons: Constraints, acts: ActionSet) -> None:
    """Record rsc_order constraints (and their inverses) as order specs.

    Every user ordering carries Pacemaker's "optional" bit, and order_actions drops an
    ordering between two actions already ordered with a shared bit: of several
    constraints between the same pair of actions, only the first one created counts.
    """
    seen: set[tuple[str, str, str, str]] = set()
    for o in cons.orderings:
        forward = (o.first, o.first_task, o.then, o.then_task)
        if o.via is not None:
            # The inverse of a one-or-more (require-all="false" or clone-min) ordering is a
            # plain one: Pacemaker's inverse takes require-all from the 'then' side.
            _via_ordering(u, acts, o, seen)
        elif forward not in seen:
            seen.add(forward)
            acts.order(o.first, o.first_task, o.then, o.then_task, "user", *_user_flags(u, o))
        inverse = inverse_key(o)
        if o.symmetrical and o.kind != "Serialize" and inverse not in seen:
            seen.add(inverse)
            inv_flags = ("user", "implies_first") if o.kind == "Mandatory" else ("user", OPTIONAL)
            acts.order(*inverse, *inv_flags)


def _user_flags(u: Unpacked, o: Ordering) -> tuple[str, ...]:
    if o.kind == "Optional":
        if (u.rsc(o.then).meta.get("restart-type") or "").lower() == "restart":
            return (OPTIONAL, IMPLIES_THEN)
        return (OPTIONAL,)
    if o.kind == "Serialize":
        return (OPTIONAL, "serialize")
    if o.symmetrical:
        return (IMPLIES_THEN,) + ((RUNNABLE_LEFT,) if o.first_task in ("start", "promote")
                                  else ())
    return (ASYMMETRICAL,)


def _via_ordering(u: Unpacked, acts: ActionSet, o: Ordering,
                  seen: set[tuple[str, str, str, str]]) -> None:
    """first -> one-or-more pseudo action -> then (runnable once enough firsts are).

    order_rsc_sets orders the pseudo action before every member of the 'then' set.
    """
    via = o.via or ""
    pseudo, created = acts.new(via, via, None, None, True, pseudo=True)
    if created:
        acts.min_runnable[pseudo.id] = o.via_min
    if (via, via, o.then, o.then_task) not in seen:
        seen.add((via, via, o.then, o.then_task))
        acts.order(None, via, o.then, o.then_task, "user", IMPLIES_THEN, RUNNABLE_LEFT,
                   first_action=pseudo)
    if (o.first, via, via, via) in seen:
        return
    seen.add((o.first, via, via, via))
    rsc = u.rsc(o.first)
    # clone_min_ordering orders each instance's action before the pseudo action (creating
    # a missing one: a stopping instance's start, which its stop makes required); a set
    # with require-all=false orders each member's own action (order_rsc_sets), a clone's
    # own start (seeds 7080 7270), its runnability read from its instances' as the clone's
    # summary flags are
    instances = rsc.kind == "clone" and via.startswith("clone-one-or-more:")
    firsts = list(rsc.children) if instances else [o.first]
    for first in firsts:
        # pe_order_one_or_more|implies_then_printed: no requiredness passes on. A pseudo
        # 'then' has no resource: a group's start is not remapped (action_for_ordering).
        acts.order(first, o.first_task, None, via, "any_runnable", PRINTED, then_action=pseudo)


def _interleaved(u: Unpacked, spec: OrderSpec) -> bool:
    kinds = {r.id: r for r in u.resources}
    first = kinds.get(spec.first_rsc or "")
    then = kinds.get(spec.then_rsc or "")
    return first is not None and then is not None and spec.first_action is None \
        and interleaves(first, then, spec.then_task)


def interleaves(first: RscConfig, then: RscConfig, then_task: str) -> bool:
    """can_interleave_actions: two different clones, and the `then` clone's interleave
    decides, except before a stop or demote, where the `first` clone's does."""
    if first.kind != "clone" or then.kind != "clone" or first.id == then.id:
        return False
    return (first if then_task in ("stop", "demote") else then).interleave


def _clone_level_links(u: Unpacked, acts: ActionSet, spec: OrderSpec,
                       kinds: dict[str, str]) -> list[Link]:
    """An interleaved ordering still orders the two clones' own actions in the graph
    (a notifying first clone's through its confirmed post-notification): only flags go
    instance by instance. The link carries no flags (graph edge only)."""
    firsts = _firsts(u, acts, spec, kinds)
    thens = acts.of(spec.then_rsc or "", spec.then_task)
    return [Link(f, t, frozenset({OPTIONAL})) for f in firsts for t in thens]


def resolve(u: Unpacked, acts: ActionSet, assigned: dict[str, str | None] | None = None,
            placed: Placed | None = None) -> list[Link]:
    """Turn order specs into links between actions (creation order)."""
    assigned = assigned or {}
    links: list[Link] = []
    kinds = {r.id: r.kind for r in u.resources}
    phantoms: set[int] = set()
    for spec in list(acts.orders):
        if "user" in spec.flags and _interleaved(u, spec):
            acts.resolved_with.append(len(acts.actions))
            links.extend(_interleaved_links(u, acts, spec, kinds, assigned, placed, len(links)))
            continue
        created = len(acts.actions)
        firsts = _firsts(u, acts, spec, kinds)
        acts.resolved_with.append(len(acts.actions))
        if "phantom" in spec.flags:
            phantoms.update(a.id for a in acts.actions[created:])
        if not firsts:
            continue
        if spec.first_action is None and firsts[0].task != spec.first_task:
            spec = dataclasses.replace(spec, flags=spec.flags | {REMAPPED})
        origin = len(links)
        thens = _thens(u, acts, spec, kinds, firsts, links)
        if spec.first_rsc == spec.then_rsc and spec.first_task == "stop":
            # Pacemaker applies a member's own stop -> start ordering before its group's
            # orderings create a missing (unassigned) start: it never reaches that start.
            thens = [t for t in thens if t.id not in phantoms]
        via = _clone_start(u, acts, thens[0]) if THROUGH_CLONE in spec.flags and thens else None
        links.extend(Link(f, t, spec.flags, via=via, origin=origin if via is None else -1)
                     for f in firsts for t in thens if f is not t)
    return links


def _clone_start(u: Unpacked, acts: ActionSet, member: Work) -> Work | None:
    top = member.rsc
    while top is not None and u.rsc(top).kind != "clone":
        top = u.rsc(top).parent
    starts = acts.of(top, "start") if top is not None else []
    return starts[0] if starts else None


def _interleaved_links(u: Unpacked, acts: ActionSet, spec: OrderSpec, kinds: dict[str, str],
                       assigned: dict[str, str | None], placed: Placed | None,
                       origin: int) -> list[Link]:
    """The clone-level links of an interleaved ordering, and the instance pairs the
    clones' update_ordered_actions reaches through them (derived from the clone-level
    'then', sharing its origin)."""
    level = _clone_level_links(u, acts, spec, kinds)
    if level and level[0].first.task != spec.first_task:
        level = [dataclasses.replace(link, flags=link.flags | {REMAPPED}) for link in level]
    level = [dataclasses.replace(link, origin=origin) for link in level]
    via = level[0].then if level else None
    pairs = [dataclasses.replace(link, via=link.via or via, origin=origin,
                                 flags=link.flags if link.via else link.flags | {PAIRED})
             for link in interleaved(u, acts, spec, assigned, placed or Placed(), origin)]
    return pairs + level


def _thens(u: Unpacked, acts: ActionSet, spec: OrderSpec, kinds: dict[str, str],
           firsts: list[Work], links: list[Link]) -> list[Work]:
    """The "then" actions of an order spec; a user ordering on another collective first
    appends its member links to `links` (they precede the spec's own links)."""
    if spec.then_action is not None:
        return [spec.then_action]
    thens = acts.of(spec.then_rsc or "", spec.then_task, spec.then_node)
    then_kind = kinds.get(spec.then_rsc or "")
    if then_kind in ("group", "clone") and "user" in spec.flags \
            and spec.first_rsc != spec.then_rsc:
        member_thens = [t for member in _updated_members(u, spec.then_rsc or "")
                        for t in acts.of(member, spec.then_task)]
        links.extend(member_links(spec, firsts, member_thens, then_kind, kinds,
                                  thens[0] if thens else None, len(links)))
    return thens


def _firsts(u: Unpacked, acts: ActionSet, spec: OrderSpec, kinds: dict[str, str]) -> list[Work]:
    """The "first" actions of an order spec; a missing one is created when Pacemaker does."""
    if spec.first_action is not None:
        return [spec.first_action]
    task = spec.first_task
    if kinds.get(spec.first_rsc or "") in ("group", "clone") \
            and spec.first_rsc != spec.then_rsc and task in COMPLETE \
            and {"user", ANTI_COLOCATION} & spec.flags:
        task = COMPLETE[task]
    firsts = acts.of(spec.first_rsc or "", task, spec.first_node)
    if firsts and task != spec.first_task and kinds.get(spec.first_rsc or "") == "clone" \
            and is_true(u.rsc(spec.first_rsc or "").meta.get("notify")):
        # A notifying clone's phase is complete once its post-notifications are confirmed.
        return [notified_action(acts, spec.first_rsc or "", task)]
    if not firsts and task != spec.first_task:
        # Only remapped when the collective has the completion action (a clone that is
        # not promotable has no "promoted"): else the plain key is used.
        task = spec.first_task
        firsts = acts.of(spec.first_rsc or "", task, spec.first_node)
    # A set's member -> one-or-more pseudo ordering (PRINTED) is a resource ordering too:
    # its missing start is created, and counts as an unrunnable first (seed 214).
    if firsts or not ({"user", "phantom", PRINTED} & spec.flags) \
            or not _create_missing(u, spec.first_rsc, task):
        return firsts
    act, _ = acts.new(op_key(spec.first_rsc or "", task), task, spec.first_rsc, None, True)
    act.runnable = False
    return [act]


def _primitives(u: Unpacked, rid: str) -> list[str]:
    rsc = u.rsc(rid)
    if rsc.kind == "primitive":
        return [rid]
    return [p for child in rsc.children for p in _primitives(u, child)]


def _updated_members(u: Unpacked, rid: str) -> list[str]:
    """The resources whose actions an ordering on collective `rid` also updates, in
    Pacemaker's order: each member or instance, and a group instance's own members
    right after it (group_update_actions updates the group's action, then theirs; corpus
    cloned-group-stop: a group instance's start made unrunnable so stays out of the
    graph)."""
    out: list[str] = []
    for child in u.rsc(rid).children:
        out.append(child)
        if u.rsc(child).kind != "primitive":
            out.extend(_primitives(u, child))
    return out


def _create_missing(u: Unpacked, rid: str | None, task: str) -> bool:
    """rsc_order_first creates a missing "first" action (nodeless, so unrunnable)."""
    if rid is None or not any(r.id == rid for r in u.resources):
        return False
    running = any(u.states[p].running_on for p in u.instance_primitives(rid))
    if task == "stop" and not running:
        return False
    # Only a first whose current role (a collective's: its highest member's, orphan
    # instances included) is Unpromoted has its missing demote ignored.
    return task != "demote" or max((u.states[p].role for p in u.instance_primitives(rid)),
                                        default=Role.UNKNOWN) != Role.UNPROMOTED
