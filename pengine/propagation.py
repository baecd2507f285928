"""Flag propagation along resolved orderings: requiredness and runnability.

Invariants: flags only ever move from optional to required and from runnable to
unrunnable, so propagation reaches a fixpoint; the first reason set on an action wins
(Pacemaker's pe_action_set_reason without overwrite). Propagation reads and sets flags
only in ctx.flags (a SettlingFlags indexed by action id): the Work objects are sealed by
then. The order the links are applied in decides which reason an action is given: that
order is pengine.walk's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pengine.actions import (
    ASYMMETRICAL,
    IMPLIES_THEN,
    PROMOTED_IMPLIES_FIRST,
    RESTART,
    RUNNABLE_LEFT,
    Work,
)
from pengine.order_links import FIRST_PRINTED, PRINTED, Link
from pengine.ordering_context import read_group_action
from pengine.sealed_actions import FlagsTable, SettlingFlags
from pengine.walk import Shape, Walk


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
    collective_children: dict[int, list[Work]]  # a clone action's placed instance actions
    instance_actions: dict[int, list[Work]]  # the same, unplaced instances' too
    location: dict[int, str | None]
    min_runnable: Mapping[int, int]
    all_actions: Sequence[Work]
    flags: SettlingFlags  # what propagation sets: the sealed actions keep their own
    shape: Shape
    block_for: Callable[[Work, Walk], None]  # blocks an action's colocation dependents
    requires: dict[str, str] = field(default_factory=dict)
    running_on: dict[str, list[str]] = field(default_factory=dict)
    group_members: dict[int, list[Work]] = field(default_factory=dict)
    # an inhibited instance's primitive -> the (first, then) clones of its ordering
    inhibited_by: dict[str, tuple[str, str]] = field(default_factory=dict)

    def unassign(self, link: Link) -> bool:
        """update_interleaved_actions unassigns a then-instance with no first-instance
        beside it when the walk applies the clone-level ordering (pcmk__finalize_assignment
        with no node): its stop becomes required, its start and recurring actions
        unrunnable, with no reason. True if that changed any flag."""
        if link.via is not None or link.first.rsc is None or not self.inhibited_by:
            return False
        ordering = (link.first.rsc, link.then.rsc)
        prims = {p for p, by in self.inhibited_by.items() if by == ordering}
        if not prims:
            return False
        for prim in prims:
            del self.inhibited_by[prim]
        optional, runnable = self.flags.optional, self.flags.runnable
        changed = False
        for act in self.all_actions:
            if act.rsc not in prims:
                continue
            if act.task == "stop" and not act.interval_ms:
                changed |= optional[act.id]
                optional[act.id] = False
            elif _unrunnable_unassigned(act):
                changed |= runnable[act.id]
                runnable[act.id] = False
        return changed

    def read(self, f: Work) -> None:
        read_group_action(f, self.group_members.get(f.id, ()), self.flags, _saved)
        self._read_clone_action(f)

    def _read_clone_action(self, act: Work) -> None:
        """Reading a clone action's flags (summary_action_flags without a node) changes
        the action itself, counted as no change: required once an instance's matching
        action is, unrunnable once none can run. Both read each instance's own action
        (a group instance's pseudo action through its members: a required member start
        makes the group's start, and so the clone's, required; seed 23)."""
        children = self.collective_children.get(act.id)
        if children is None:
            return
        optional, runnable = self.flags.optional, self.flags.runnable
        if optional[act.id] and any(not optional[c.id] for c in self._instances(act, children)):
            optional[act.id] = False
        if runnable[act.id] and not self._any_instance_runnable(act, children):
            runnable[act.id] = False

    def _instances(self, act: Work, children: Sequence[Work]) -> Sequence[Work]:
        """Each instance's action read as summary_action_flags reads it (without the
        instances' own actions, the placed primitives')."""
        instances = self.instance_actions.get(act.id)
        if instances is None:
            return children
        for inst in instances:
            self.read(inst)
        return instances

    def _any_instance_runnable(self, act: Work, children: Sequence[Work]) -> bool:
        """Is any instance's action (a group instance's read from its members) runnable?"""
        return any(self.flags.runnable[inst.id] for inst in self._instances(act, children))

    def first_runnable(self, f: Work) -> bool:
        """A clone action read as an ordering's 'first' is runnable while any instance's
        matching action is, whatever its own flag (the clone's summary flags without a
        node); with none left, reading it clears its own flag too (summary_action_flags).
        """
        runnable = self.flags.runnable
        children = self.collective_children.get(f.id)
        if children is None:
            return runnable[f.id]
        if self._any_instance_runnable(f, children):
            return True
        runnable[f.id] = False
        return False

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


def _unrunnable_unassigned(act: Work) -> bool:
    """An unassigned resource's start, and every action carrying an interval (the cancel
    of a monitor too), cannot run (pcmk__finalize_assignment)."""
    if act.task == "start":
        return not act.interval_ms
    return act.task in ("monitor", "cancel") and act.interval_ms > 0


def _implies_then(link: Link, ctx: Context) -> bool:
    """Does this link make its then-action required now?"""
    f, t = link.first, link.then
    if IMPLIES_THEN not in link.flags or not ctx.flags.optional[t.id] \
            or not ctx.first_required(f, t, "any_child" in link.flags):
        return False
    # An unmanaged resource's actions are created optional (custom_action), but an
    # ordering still makes them required: what follows restarts (seed 1369).
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


def _saved(member: Work) -> bool:
    """Is a member's action among its resource's actions (which group_action_flags reads)?
    One made for an ordering's missing 'first' is not (rsc_order_first does not save
    it); every action the resource created is, nodeless ones too (group11: a definition
    change's forced start of an unassigned member makes the group's start required)."""
    return not member.unsaved


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
    if RUNNABLE_LEFT in flags and not ctx.first_runnable(f) and runnable[t.id]:
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
    if ASYMMETRICAL in flags and not ctx.first_runnable(f) and runnable[t.id] \
            and not (t.task == "start" and optional[t.id]):
        # clear_action_flag_because: 'then' is made required first, so an optional
        # 'then' is "required" by 'first' and only one already required "unrunnable"
        if optional[t.id]:
            optional[t.id] = False
            _set_reason(reason, t, f, "required")
        runnable[t.id] = False
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
    """Walk the links as Pacemaker does (pengine.walk); returns the flags settled in
    ctx.flags."""
    any_links, thens = _any_runnable_links(links, ctx)

    def count(act: Work) -> None:
        # pe_action_requires_any: a set's one-or-more pseudo action (no resource). A
        # clone's own actions are runnable as their summary says, read by the walk.
        if act.id in any_links and act.rsc is None:
            _any_runnable(thens[act.id], any_links[act.id], ctx)

    Walk(links, ctx.flags, lambda link: _apply(link, ctx), ctx.shape, ctx.block_for, count,
         ctx.read, ctx.unassign).run(ctx.all_actions)
    _print_pseudo_actions(links, ctx.flags)
    return ctx.flags.settled()


def _any_runnable_links(links: list[Link], ctx: Context
                        ) -> tuple[dict[int, list[Work]], dict[int, Work]]:
    """Actions that run once enough of their firsts can (then id -> firsts, then id ->
    then). Each is counted when the walk updates it, not before: a set's one-or-more
    pseudo action, created with the constraints, stays runnable until then."""
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
    return any_links, thens


def _print_pseudo_actions(links: list[Link], flags: SettlingFlags) -> None:
    """A required, runnable first puts its one-or-more pseudo action in the graph, once
    every flag is settled (pe_order_implies_then_printed only marks it
    pe_action_print_always, and only for a runnable first: seed 120's missing start).
    A required member action puts its group's own action before it in the graph
    (pe_order_implies_first_printed), even a nodeless start an ordering created, which
    the group's summary flags do not read (crm_simulate: a group that stops for good
    runs g_start_0 when its member's start is the first of an ordering)."""
    for link in links:
        first, then = link.first.id, link.then.id
        if PRINTED in link.flags and not flags.optional[first] and flags.runnable[first]:
            flags.optional[then] = False
        if FIRST_PRINTED in link.flags and not flags.optional[then]:
            flags.optional[first] = False


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

