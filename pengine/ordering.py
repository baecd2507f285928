"""Orderings: user rsc_order constraints, resolution to actions, flag propagation.

Invariants: orderings are resolved in creation order (a missing "first" action becomes an
optional nodeless, hence unrunnable, action); flags only ever move from optional to
required and from runnable to unrunnable, so propagation reaches a fixpoint; the first
reason set on an action wins (scheduler.md §4.3). Propagation reads and sets flags only in
ctx.flags (a SettlingFlags indexed by action id): the Work objects are sealed by then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from messaging.types import Role
from pengine.actions import (
    ASYMMETRICAL,
    IMPLIES_THEN,
    OPTIONAL,
    PROMOTED_IMPLIES_FIRST,
    RESTART,
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
    UNPLACED_PAIR,
    Placed,
    interleaved,
)
from pengine.order_links import Link, member_links
from pengine.ordering_context import read_group_action
from pengine.required_wave import REMAPPED, RequiredWave, application_order
from pengine.runnable_pass import runnable_pass, unrunnable_collective_firsts
from pengine.sealed_actions import FlagsTable, SettlingFlags
from pengine.state import Unpacked
from pengine.unpack_resources import RscConfig
from pengine.xmlin import is_true

PRINTED = "implies_then_printed"


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
    firsts = [o.first] if rsc.kind != "clone" else list(rsc.children)
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
            links.extend(interleaved(u, acts, spec, assigned, placed or Placed(), len(links)))
            links.extend(_clone_level_links(u, acts, spec, kinds))
            continue
        created = len(acts.actions)
        firsts = _firsts(u, acts, spec, kinds)
        if "phantom" in spec.flags:
            phantoms.update(a.id for a in acts.actions[created:])
        if not firsts:
            continue
        if spec.first_action is None and firsts[0].task != spec.first_task:
            spec = dataclasses.replace(spec, flags=spec.flags | {REMAPPED})
        thens = _thens(u, acts, spec, kinds, firsts, links)
        if spec.first_rsc == spec.then_rsc and spec.first_task == "stop":
            # Pacemaker applies a member's own stop -> start ordering before its group's
            # orderings create a missing (unassigned) start: it never reaches that start.
            thens = [t for t in thens if t.id not in phantoms]
        links.extend(Link(f, t, spec.flags) for f in firsts for t in thens if f is not t)
    return links


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
        member_thens = [t for member in _updated_members(u, spec.then_rsc or "", spec.then_task)
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
    if firsts or not ({"user", "phantom"} & spec.flags) \
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


def _updated_members(u: Unpacked, rid: str, task: str) -> list[str]:
    """The resources whose actions an ordering on collective `rid` also updates, in
    Pacemaker's order: each member or instance, and a group instance's own members
    right after it (group_update_actions updates the group's action, then theirs).

    Not a group instance's start or promote: our group start -> member start ordering
    stands in for that update of the members with runnable-left (Pacemaker's has none),
    so an instance told directly would pass its unrunnability on a second way."""
    out: list[str] = []
    for child in u.rsc(rid).children:
        if u.rsc(child).kind == "primitive":
            out.append(child)
            continue
        if task not in ("start", "promote"):
            out.append(child)
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


def _set_reason(reason: list[str | None], then: Work, first: Work, text: str) -> None:
    if reason[then.id] is not None or first.rsc == then.rsc:
        return
    reason[then.id] = f"{text} {first.rsc} {first.task}" if first.rsc else \
        f"{text} {first.task}"


@dataclass
class Context:
    """What flag propagation needs besides the links themselves."""

    managed: dict[str, bool]
    blocked: set[str]
    collective_children: dict[int, list[Work]]
    location: dict[int, str | None]
    min_runnable: Mapping[int, int]
    all_actions: Sequence[Work]
    flags: SettlingFlags  # what propagation sets: the sealed actions keep their own
    block: Callable[[], bool] | None = None
    requires: dict[str, str] = field(default_factory=dict)
    running_on: dict[str, list[str]] = field(default_factory=dict)
    group_members: dict[int, list[Work]] = field(default_factory=dict)

    def read(self, f: Work) -> None:
        read_group_action(f, self.group_members.get(f.id, ()), self.flags, _saved)

    def first_required(self, f: Work, t: Work, any_child: bool = False) -> bool:
        optional = self.flags.optional
        self.read(f)
        children = self.collective_children.get(f.id)
        if any_child:
            # The first clone's flags summarised over all its instances (no node): any
            # required instance counts.
            return not optional[f.id] or any(not optional[c.id] for c in children or ())
        node = self.location.get(t.id, t.node)
        if children is None or node is None:
            return not optional[f.id]
        return any(not optional[c.id] for c in children if c.node == node)


def _implies_then(link: Link, ctx: Context) -> bool:
    """Does this link make its then-action required now?"""
    f, t = link.first, link.then
    if IMPLIES_THEN not in link.flags or not ctx.flags.optional[t.id] \
            or not ctx.first_required(f, t, "any_child" in link.flags):
        return False
    if t.rsc is not None and not ctx.managed.get(t.rsc, True):
        return False  # an unmanaged resource's actions stay optional (custom_action)
    if f.migrating and f.rsc != t.rsc:
        return False  # a live migration's start/stop does not restart what follows it
    if f.dangling and f.rsc == t.rsc:
        return False  # stopping a finished migration's source does not restart it
    # A stop implied by fencing does not force a restart of a resource that does not need
    # fencing and keeps running on another, clean node; if the fenced node was its only
    # one, the resource has to start again.
    return not (f.implied_by_fencing and f.rsc == t.rsc and t.task == "start"
                and ctx.requires.get(f.rsc or "") not in ("fencing", "unfencing")
                and any(node != f.node for node in ctx.running_on.get(f.rsc or "", ())))


def _apply_required(link: Link, ctx: Context) -> bool:
    """The requiredness half of a link (applied before runnability each round)."""
    f, t, flags = link.first, link.then, link.flags
    optional, reason = ctx.flags.optional, ctx.flags.reason
    if "member_flags" in flags:
        if not optional[f.id] and optional[t.id] and _saved(f):
            optional[t.id] = False
            return True
        return False
    if _implies_then(link, ctx):
        optional[t.id] = False
        _set_reason(reason, t, f, "required")
        return True
    if (RESTART in flags or PROMOTED_IMPLIES_FIRST in flags) and not optional[t.id] \
            and optional[f.id]:
        # handle_restart_ordering / pe_order_promoted_implies_first: a required 'then'
        # makes 'first' required even when 'first' cannot run (a blocked later member's
        # stop), naming 'then'
        optional[f.id] = False
        _set_reason(reason, f, t, "required")
        return True
    return False


def _saved(member: Work) -> bool:
    """Is a member's action among its resource's actions (which group_action_flags reads)?
    A nodeless one made for an ordering's missing 'first' is not (rsc_order_first does
    not save it); the nodeless start standing for a pending one is."""
    return member.node is not None or member.pseudo or member.print_pending


def _apply(link: Link, ctx: Context) -> bool:
    managed, blocked = ctx.managed, ctx.blocked
    f, t, flags = link.first, link.then, link.flags
    optional, runnable, reason = ctx.flags.optional, ctx.flags.runnable, ctx.flags.reason
    changed = False
    if "member_flags" in flags:
        if not optional[f.id] and optional[t.id] and _saved(f):
            optional[t.id] = False
            changed = True
        return changed
    if _implies_then(link, ctx):
        optional[t.id] = False
        _set_reason(reason, t, f, "required")
        changed = True
    ctx.read(f)
    if RUNNABLE_LEFT in flags and not runnable[f.id] and runnable[t.id]:
        runnable[t.id] = False
        _set_reason(reason, t, f, "unrunnable")
        changed = True
    if RESTART in flags:
        changed |= _restart(f, t, managed, ctx.flags)
    if PROMOTED_IMPLIES_FIRST in flags and not optional[t.id] and optional[f.id]:
        optional[f.id] = False
        _set_reason(reason, f, t, "required")
        changed = True
    if f.task == "stop" and not runnable[f.id] and runnable[t.id] and f.rsc is not None \
            and not managed.get(f.rsc, True) and f.rsc in blocked and link.via is None \
            and {IMPLIES_THEN, "implies_first", RESTART} & flags:
        # Pacemaker clears 'then' runnable here without giving a reason, and only on
        # 'then' itself: a group's members are not told (update_action_for_ordering_flags
        # does this outside the resource's update_ordered_actions method), and only for
        # an ordering that implies 'then', implies 'first' or restarts (an optional one,
        # such as an ordered clone's instance chain, does not block: seed 1656).
        runnable[t.id] = False
        changed = True
    if ASYMMETRICAL in flags and not runnable[f.id] and runnable[t.id] \
            and not (t.task == "start" and optional[t.id]):
        runnable[t.id] = False
        optional[t.id] = False
        _set_reason(reason, t, f, "unrunnable")
        changed = True
    return changed


def _restart(f: Work, t: Work, managed: dict[str, bool], flags: SettlingFlags) -> bool:
    optional, runnable, reason = flags.optional, flags.runnable, flags.reason
    trigger = not optional[t.id] or (
        not runnable[t.id] and f.rsc == t.rsc and managed.get(t.rsc or "", True))
    if not trigger:
        return False
    changed = False
    if optional[f.id] and (runnable[f.id] or not optional[t.id]):
        # handle_restart_ordering: 'first' becomes required because of 'then' and is
        # told so ("required <then>") when they belong to different resources.
        optional[f.id] = False
        _set_reason(reason, f, t, "required")
        changed = True
    if not optional[f.id] and not runnable[f.id] and runnable[t.id]:
        runnable[t.id] = False
        _set_reason(reason, t, f, "unrunnable")  # pe_action_implies names the first action
        changed = True
    return changed


def propagate(links: list[Link], ctx: Context) -> FlagsTable:
    """Apply every link until nothing changes; returns the flags settled in ctx.flags."""
    changed, rounds = True, 0
    any_links, thens = _any_runnable_links(links, ctx)
    by_then = application_order(links)
    wave = RequiredWave(links, lambda link: _apply_required(link, ctx), ctx.flags,
                        lambda link: _restart(link.first, link.then, ctx.managed, ctx.flags))
    _apply_unplaced_pairs(links, ctx)
    unrunnable_collective_firsts(links, lambda link: _apply(link, ctx), ctx.flags, wave)
    while changed and rounds < 1000:
        changed = False
        rounds += 1
        inner = True
        while inner:
            inner = False
            for link in by_then:
                first_optional = ctx.flags.optional[link.first.id]
                if _apply_required(link, ctx):
                    inner = changed = True
                    if link.via is not None:
                        # pcmk__update_ordered_actions re-updates a changed member at
                        # once through its own orderings
                        wave.update(link.then)
                    elif first_optional and not ctx.flags.optional[link.first.id]:
                        wave.after(link.first)
                        wave.update(link.first)
                    else:
                        wave.update(link.then)
                        wave.after(link.then)
        changed |= runnable_pass(links, lambda link: _apply(link, ctx), ctx.flags, wave,
                                 ctx.running_on)
        if ctx.block is not None and ctx.block():
            changed = True
        for tid, firsts in any_links.items():
            changed |= _any_runnable(thens[tid], firsts, ctx)
    _print_pseudo_actions(links, ctx.flags.optional)
    return ctx.flags.settled()


def _apply_unplaced_pairs(links: list[Link], ctx: Context) -> None:
    """An interleaved link to an instance the ordering unassigned applies while Pacemaker
    unassigns it, before the instance's own stop reaches its start, with a group first's
    flags read from its members (pcmk__group_action_flags; seed 1031)."""
    for link in links:
        if UNPLACED_PAIR not in link.flags:
            continue
        for member in links:
            if member.then is link.first and IMPLIES_THEN in member.flags:
                _apply_required(member, ctx)
        _apply_required(link, ctx)


def _any_runnable_links(links: list[Link], ctx: Context
                        ) -> tuple[dict[int, list[Work]], dict[int, Work]]:
    """Actions that run once enough of their firsts can (then id -> firsts, then id ->
    then); those with no first at all are made unrunnable here."""
    any_links: dict[int, list[Work]] = {}
    thens: dict[int, Work] = {}
    for link in links:
        if "any_runnable" in link.flags:
            any_links.setdefault(link.then.id, []).append(link.first)
            thens[link.then.id] = link.then
    for act in ctx.all_actions:
        if act.id in ctx.min_runnable:
            any_links.setdefault(act.id, [])
            thens[act.id] = act
    for tid, firsts in any_links.items():
        if not firsts:
            # A clone action none of whose instances has that action is unrunnable from
            # the start (summary_action_flags finds no runnable instance action).
            _any_runnable(thens[tid], firsts, ctx)
    return any_links, thens


def _print_pseudo_actions(links: list[Link], optional: list[bool]) -> None:
    """A required first puts its one-or-more pseudo action in the graph, once every flag
    is settled (pe_order_implies_then_printed only marks it pe_action_print_always)."""
    for link in links:
        if PRINTED in link.flags and not optional[link.first.id]:
            optional[link.then.id] = False


def _any_runnable(then: Work, firsts: list[Work], ctx: Context) -> bool:
    """'then' runs once enough of its 'firsts' can (a clone's summary flags, clone-min)."""
    need = ctx.min_runnable.get(then.id, 1)
    runnable = ctx.flags.runnable
    if runnable[then.id] and (firsts or then.id in ctx.min_runnable) \
            and sum(runnable[f.id] for f in firsts) < need:
        runnable[then.id] = False
        if firsts:
            _set_reason(ctx.flags.reason, then, firsts[0], "unrunnable")
        return True
    return False
