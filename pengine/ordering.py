"""Orderings: user rsc_order constraints, resolution to actions, flag propagation.

Invariants: orderings are resolved in creation order (a missing "first" action becomes an
optional nodeless, hence unrunnable, action); flags only ever move from optional to
required and from runnable to unrunnable, so propagation reaches a fixpoint; the first
reason set on an action wins (scheduler.md §4.3).
"""

from __future__ import annotations

from collections.abc import Callable
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
from pengine.collective_actions import notified_action
from pengine.constraints import Constraints, Ordering
from pengine.required_wave import RequiredWave
from pengine.state import Unpacked
from pengine.unpack_resources import RscConfig
from pengine.xmlin import is_true

_INVERSE = {"start": "stop", "stop": "start", "promote": "demote", "demote": "promote",
            "running": "stopped", "stopped": "running", "promoted": "demoted",
            "demoted": "promoted"}
_COMPLETE = {"start": "running", "stop": "stopped", "promote": "promoted", "demote": "demoted"}


@dataclass(frozen=True)
class Link:
    first: Work
    then: Work
    flags: frozenset[str]
    via: Work | None = None  # the group/clone action a member link was derived from
    origin: int = -1  # which order spec a derived member link came from


def user_orderings(u: Unpacked, cons: Constraints, acts: ActionSet) -> None:
    """Record rsc_order constraints (and their inverses) as order specs.

    Every user ordering carries Pacemaker's "optional" bit, and order_actions drops an
    ordering between two actions already ordered with a shared bit: of several
    constraints between the same pair of actions, only the first one created counts.
    """
    seen: set[tuple[str, str, str, str]] = set()
    for o in cons.orderings:
        if o.via is not None:
            _via_ordering(u, acts, o)
            continue
        forward = (o.first, o.first_task, o.then, o.then_task)
        if forward not in seen:
            seen.add(forward)
            acts.order(o.first, o.first_task, o.then, o.then_task, "user", *_user_flags(u, o))
        inverse = (o.then, _INVERSE.get(o.then_task, o.then_task), o.first,
                   _INVERSE.get(o.first_task, o.first_task))
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


def collective_children(u: Unpacked, acts: ActionSet) -> dict[int, list[Work]]:
    """Clone pseudo action id -> the instances' primitive actions of the matching task.

    An ordering reads a clone "first" action's flags on the 'then' action's node
    (action_flags_for_ordering -> the clone's summary over instance actions on that node),
    so promote/promoted and demote/demoted count only the instances promoted or demoted
    there, like start/running and stop/stopped.
    """
    base = {"running": "start", "start": "start", "stopped": "stop", "stop": "stop",
            "promoted": "promote", "promote": "promote", "demoted": "demote",
            "demote": "demote"}
    out: dict[int, list[Work]] = {}
    for act in acts.actions:
        task = act.task
        if task == "notified":  # <clone>_confirmed-post_notify_<done>_0
            task = act.key.rsplit("_", 2)[-2]
        if act.node is None and act.rsc is not None and task in base \
                and u.has_rsc(act.rsc) and u.rsc(act.rsc).kind == "clone":
            out[act.id] = [a for p in _primitives(u, act.rsc) for a in acts.of(p, base[task])
                           if a.node is not None]
    return out


def group_locations(u: Unpacked, acts: ActionSet, assigned: dict[str, str | None]
                    ) -> dict[int, str | None]:
    """A group's start/stop pseudo actions are located where the group is assigned."""
    out: dict[int, str | None] = {}
    for act in acts.actions:
        if act.pseudo and act.rsc is not None and act.task == "start":
            rsc = u.rsc(act.rsc)
            if rsc.kind == "group" and rsc.children:
                out[act.id] = assigned.get(_primitives(u, rsc.id)[0])
    return out


def _via_ordering(u: Unpacked, acts: ActionSet, o: Ordering) -> None:
    """first -> one-or-more pseudo action -> then (runnable once enough firsts are)."""
    via = o.via or ""
    pseudo, created = acts.new(via, via, None, None, True, pseudo=True)
    if created:
        acts.min_runnable[pseudo.id] = o.via_min
        acts.order(None, via, o.then, o.then_task, "user", IMPLIES_THEN, RUNNABLE_LEFT,
                   first_action=pseudo)
    rsc = u.rsc(o.first)
    firsts = [o.first] if rsc.kind != "clone" else list(rsc.children)
    for first in firsts:
        task = o.first_task if u.rsc(first).kind == "primitive" else \
            _COMPLETE.get(o.first_task, o.first_task)
        acts.order(first, task, None, via, "any_runnable", "member_flags",
                   then_action=pseudo)


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


def _instance_node(u: Unpacked, inst: str, assigned: dict[str, str | None],
                   task: str) -> str | None:
    prims = _primitives(u, inst)
    if task in ("stop", "demote", "stopped", "demoted"):
        for p in prims:
            if u.states[p].running_on:
                return u.states[p].running_on[0]
    return next((assigned.get(p) for p in prims if assigned.get(p)), None)


def _interleave_links(u: Unpacked, acts: ActionSet, spec: OrderSpec,
                      assigned: dict[str, str | None]) -> list[Link]:
    """interleave=true: each then-instance waits only for the first-instance on its node."""
    out: list[Link] = []
    first_insts = u.rsc(spec.first_rsc or "").children
    for then_inst in u.rsc(spec.then_rsc or "").children:
        node = _instance_node(u, then_inst, assigned, spec.then_task)
        if node is None:
            continue
        thens = acts.of(then_inst, spec.then_task)
        for first_inst in first_insts:
            if _instance_node(u, first_inst, assigned, spec.first_task) != node:
                continue
            task = spec.first_task
            if u.rsc(first_inst).kind != "primitive":
                task = _COMPLETE.get(task, task)
            for f in acts.of(first_inst, task):
                out.extend(Link(f, t, spec.flags) for t in thens)
    return out


def resolve(u: Unpacked, acts: ActionSet,
            assigned: dict[str, str | None] | None = None) -> list[Link]:
    """Turn order specs into links between actions (creation order)."""
    assigned = assigned or {}
    links: list[Link] = []
    kinds = {r.id: r.kind for r in u.resources}
    for spec in list(acts.orders):
        if "user" in spec.flags and _interleaved(u, spec):
            links.extend(_interleave_links(u, acts, spec, assigned))
            continue
        firsts = _firsts(u, acts, spec, kinds)
        if not firsts:
            continue
        if spec.then_action is not None:
            thens = [spec.then_action]
        else:
            thens = acts.of(spec.then_rsc or "", spec.then_task, spec.then_node)
            then_kind = kinds.get(spec.then_rsc or "")
            origin = -1
            if then_kind in ("group", "clone") and "user" in spec.flags \
                    and spec.first_rsc != spec.then_rsc:
                for member in _primitives(u, spec.then_rsc or ""):
                    for t in acts.of(member, spec.then_task):
                        for f in firsts:
                            flags = spec.flags | {"nograph"}
                            if then_kind == "clone" and f.rsc is None:
                                flags = flags - {IMPLIES_THEN}
                            elif then_kind == "clone" and kinds.get(f.rsc or "") == "clone":
                                # Not interleaved: the first clone's action as a whole (any
                                # instance) decides for every then-instance.
                                flags = flags | {"any_child"}
                            links.append(Link(f, t, flags, thens[0] if thens else None,
                                              len(links) if origin < 0 else origin))
                            origin = links[-1].origin
        for f in firsts:
            for t in thens:
                if f is not t:
                    links.append(Link(f, t, spec.flags))
    return links


def _firsts(u: Unpacked, acts: ActionSet, spec: OrderSpec, kinds: dict[str, str]) -> list[Work]:
    """The "first" actions of an order spec; a missing one is created when Pacemaker does."""
    if spec.first_action is not None:
        return [spec.first_action]
    task = spec.first_task
    if kinds.get(spec.first_rsc or "") in ("group", "clone") \
            and spec.first_rsc != spec.then_rsc and task in _COMPLETE and "user" in spec.flags:
        task = _COMPLETE[task]
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


def _create_missing(u: Unpacked, rid: str | None, task: str) -> bool:
    """rsc_order_first creates a missing "first" action (nodeless, so unrunnable)."""
    if rid is None or not any(r.id == rid for r in u.resources):
        return False
    running = any(u.states[p].running_on for p in _primitives(u, rid))
    if task == "stop" and not running:
        return False
    # Only a first whose current role (a collective's: its highest member's) is Unpromoted
    # has its missing demote ignored.
    return task != "demote" or max((u.states[p].role for p in _primitives(u, rid)),
                                        default=Role.UNKNOWN) != Role.UNPROMOTED


def _set_reason(then: Work, first: Work, text: str) -> None:
    if then.reason is not None or first.rsc == then.rsc:
        return
    then.reason = f"{text} {first.rsc} {first.task}" if first.rsc else f"{text} {first.task}"


@dataclass
class Context:
    """What flag propagation needs besides the links themselves."""

    managed: dict[str, bool]
    blocked: set[str]
    collective_children: dict[int, list[Work]]
    location: dict[int, str | None]
    min_runnable: dict[int, int]
    all_actions: list[Work]
    block: Callable[[], bool] | None = None
    requires: dict[str, str] = field(default_factory=dict)
    running_on: dict[str, list[str]] = field(default_factory=dict)

    def first_required(self, f: Work, t: Work, any_child: bool = False) -> bool:
        children = self.collective_children.get(f.id)
        if any_child:
            # The first clone's flags summarised over all its instances (no node): any
            # required instance counts.
            return not f.optional or any(not c.optional for c in children or ())
        node = self.location.get(t.id, t.node)
        if children is None or node is None:
            return not f.optional
        return any(not c.optional for c in children if c.node == node)


def _implies_then(link: Link, ctx: Context) -> bool:
    """Does this link make its then-action required now?"""
    f, t = link.first, link.then
    if IMPLIES_THEN not in link.flags or not t.optional \
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
    if "member_flags" in flags:
        if not f.optional and t.optional and (f.node is not None or f.pseudo):
            t.optional = False
            return True
        return False
    if _implies_then(link, ctx):
        t.optional = False
        _set_reason(t, f, "required")
        return True
    if (RESTART in flags or PROMOTED_IMPLIES_FIRST in flags) and not t.optional \
            and f.optional and f.runnable:
        f.optional = False
        _set_reason(f, t, "required")  # handle_restart_ordering names 'then'
        return True
    return False


def _apply(link: Link, ctx: Context) -> bool:
    managed, blocked = ctx.managed, ctx.blocked
    f, t, flags = link.first, link.then, link.flags
    changed = False
    if "member_flags" in flags:
        if not f.optional and t.optional and (f.node is not None or f.pseudo):
            t.optional = False
            changed = True
        return changed
    if _implies_then(link, ctx):
        t.optional = False
        _set_reason(t, f, "required")
        changed = True
    if RUNNABLE_LEFT in flags and not f.runnable and t.runnable:
        t.runnable = False
        _set_reason(t, f, "unrunnable")
        changed = True
    if RESTART in flags:
        changed |= _restart(f, t, managed)
    if PROMOTED_IMPLIES_FIRST in flags and not t.optional and f.optional:
        f.optional = False
        _set_reason(f, t, "required")
        changed = True
    if f.task == "stop" and not f.runnable and t.runnable and f.rsc is not None \
            and not managed.get(f.rsc, True) and f.rsc in blocked and link.via is None:
        # Pacemaker clears 'then' runnable here without giving a reason, and only on
        # 'then' itself: a group's members are not told (update_action_for_ordering_flags
        # does this outside the resource's update_ordered_actions method).
        t.runnable = False
        changed = True
    if ASYMMETRICAL in flags and not f.runnable and t.runnable \
            and not (t.task == "start" and t.optional):
        t.runnable = False
        t.optional = False
        _set_reason(t, f, "unrunnable")
        changed = True
    return changed


def _restart(f: Work, t: Work, managed: dict[str, bool]) -> bool:
    trigger = not t.optional or (
        not t.runnable and f.rsc == t.rsc and managed.get(t.rsc or "", True))
    if not trigger:
        return False
    changed = False
    if f.optional and (f.runnable or not t.optional):
        # handle_restart_ordering: 'first' becomes required because of 'then' and is
        # told so ("required <then>") when they belong to different resources.
        f.optional = False
        _set_reason(f, t, "required")
        changed = True
    if not f.optional and not f.runnable and t.runnable:
        t.runnable = False
        _set_reason(t, f, "unrunnable")  # pe_action_implies names the first action
        changed = True
    return changed


def _application_order(links: list[Link]) -> tuple[list[Link], dict[int, list[Link]]]:
    """The order requiredness is applied in, and the plain links out of each action.

    order_actions prepends to actions_before: of two orderings that make the same action
    required, the later one is seen first and names the reason. But members of a group
    or clone "then" are updated along with the collective action, which is created
    before them, so links derived from a collective's ordering are seen first, member
    by member (in member order within one ordering, later orderings first); a member
    whose action changes is updated at once (Pacemaker's lf#1421 recursion), so its
    successors hear from it before the collective reaches them.
    """
    runs: list[list[Link]] = []
    for link in links:
        if link.via is None:
            continue
        if runs and runs[-1][-1].origin == link.origin:
            runs[-1].append(link)
        else:
            runs.append([link])
    plain = [link for link in reversed(links) if link.via is None]
    after: dict[int, list[Link]] = {}
    for link in plain:
        after.setdefault(link.first.id, []).append(link)
    return [link for run in reversed(runs) for link in run] + plain, after


def _cascade_required(act: Work, after: dict[int, list[Link]], ctx: Context) -> None:
    """Depth first, like Pacemaker: an action that just became required updates the
    actions plainly ordered after it at once (naming itself as their reason), before the
    ordering that changed it moves on to its next member. Only plain links pass it on,
    and only a member link starts it: cascading from and through every link makes
    corpus cloned-group-stop name the clone instead of the member's predecessor."""
    stack = [iter(after.get(act.id, ()))]
    while stack:
        link = next(stack[-1], None)
        if link is None:
            stack.pop()
        elif _apply_required(link, ctx):
            stack.append(iter(after.get(link.then.id, ())))


def propagate(links: list[Link], ctx: Context) -> None:
    """Apply every link until nothing changes."""
    changed = True
    rounds = 0
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
    by_then, after = _application_order(links)
    wave = RequiredWave(links, lambda link: _apply_required(link, ctx))
    while changed and rounds < 1000:
        changed = False
        rounds += 1
        inner = True
        while inner:
            inner = False
            for link in by_then:
                first_optional = link.first.optional
                if _apply_required(link, ctx):
                    inner = changed = True
                    if link.via is not None:
                        _cascade_required(link.then, after, ctx)
                    elif first_optional and not link.first.optional:
                        wave.after(link.first)
                        wave.update(link.first)
                    else:
                        wave.update(link.then)
                        wave.after(link.then)
        for link in links:
            if _apply(link, ctx):
                changed = True
        if ctx.block is not None and ctx.block():
            changed = True
        for tid, firsts in any_links.items():
            then = thens[tid]
            need = ctx.min_runnable.get(tid, 1)
            if then.runnable and (firsts or tid in ctx.min_runnable) \
                    and sum(f.runnable for f in firsts) < need:
                then.runnable = False
                if firsts:
                    _set_reason(then, firsts[0], "unrunnable")
                changed = True
