"""Flag propagation along resolved orderings: requiredness and runnability.

Invariants: flags only ever move from optional to required and from runnable to
unrunnable, so propagation reaches a fixpoint; the first reason set on an action wins
(Pacemaker's pe_action_set_reason without overwrite). Propagation reads and sets flags
only in ctx.flags (a SettlingFlags indexed by action id): the Work objects are sealed by
then. The order the links are applied in decides only which reason an action is given
(required_wave and runnable_pass own that order).
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
from pengine.interleave_partner import UNPLACED_PAIR
from pengine.order_links import PRINTED, Link
from pengine.ordering_context import read_group_action
from pengine.required_wave import RequiredWave, application_order
from pengine.runnable_pass import runnable_pass, unrunnable_collective_firsts
from pengine.sealed_actions import FlagsTable, SettlingFlags


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
