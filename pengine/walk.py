"""Pacemaker's ordering walk over our links (pcmk__update_action_for_orderings).

Pacemaker updates every action once, newest first. Updating an action applies each
ordering before it, newest ordering first; whenever an ordering changes its 'first'
action, the actions after 'first' and 'first' itself are updated at once. An ordering on
a group's or clone's action also reaches its members' matching actions (the collective's
update_ordered_actions): a clone instance's action changed that way has its followers
updated at once, and an interleaved ordering's instance pair becomes an ordering of its
own when first applied, while a then-instance with no partner is unassigned. An ordering
remapped to a collective's completion action stays among the followers of the action it
named. An action of a resource with a parent that changes is updated again at once
through the orderings before it. When the updated action changed, it blocks its
colocation dependents if it became unrunnable, is updated again, and then every action
after it is. The first reason set on an action wins, so this order decides
the "due to" text of the Transition Summary.

Like Pacemaker's, the walk updates every action once: flags are only ever set as
Pacemaker sets them at that point (a flag read from a collective's summary changes the
action without counting as a change, so what follows it is not updated again).

Invariant: flags only move one way (optional -> required, runnable -> unrunnable), so the
recursion follows changes and ends. The walk only orders the applications: what one
ordering does is the caller's `apply`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pengine.actions import UNFENCE, WITH_ACTIONS, Work
from pengine.order_links import PAIRED, REMAPPED, Link
from pengine.sealed_actions import SettlingFlags

_COMPLETION = ("running", "stopped", "promoted", "demoted")
_NAMED = {"running": "start", "stopped": "stop", "promoted": "promote", "demoted": "demote"}


@dataclass(frozen=True)
class Shape:
    """What the walk needs to know about the resources behind the actions."""

    kinds: Mapping[str, str]  # resource id -> primitive, group or clone
    ancestors: Mapping[str, tuple[str, ...]]  # resource id -> its parents, nearest first


def creation_order(actions: Sequence[Work], shape: Shape) -> list[Work]:
    """The actions in Pacemaker's creation order.

    A group or clone creates its members' actions before its own pseudo actions (ours are
    created first): each collective action moves after the run of its members' actions
    that follows it, a nested collective's before its parent's."""
    keys: dict[int, tuple[int, int, int]] = {}
    for index, act in enumerate(actions):
        rsc = act.rsc
        if rsc is None or shape.kinds.get(rsc, "primitive") == "primitive":
            keys[act.id] = (act.id, 0, act.id)
            continue
        end = index
        while end + 1 < len(actions) and _within(actions[end + 1], rsc, shape):
            end += 1
        keys[act.id] = (actions[end].id, 100 - len(shape.ancestors.get(rsc, ())), act.id)
    return sorted(actions, key=lambda act: keys[act.id])


def _within(act: Work, rsc: str, shape: Shape) -> bool:
    return act.rsc is not None and (act.rsc == rsc or rsc in shape.ancestors.get(act.rsc, ()))


def ordering_age(link: Link) -> int:
    """The stage that created an ordering, newest (seen first) lowest: Pacemaker orders
    probes last (before their resource's start), before that each resource's internal
    orderings (a group's member chain after the member's own stop -> start), and the
    user's constraints first; unfencing orderings come with the fencing actions. Oldest
    of all are those made together with the actions (an ordered clone's instance chain)."""
    if WITH_ACTIONS in link.flags:
        return 5
    if UNFENCE in link.flags:
        return 4
    if "user" in link.flags:
        return 3
    if link.first.task == "monitor" and link.first.key.endswith("_monitor_0"):
        return 0
    return 2 if link.first.rsc == link.then.rsc else 1


class Walk:
    """One walk over the links; `apply` applies one link, `block` blocks the colocation
    dependents of an action that just became unrunnable, `count` settles an action that
    runs once enough of its firsts can (pe_action_requires_any), `read` gives a group
    action the flags reading it as a 'first' gives it (no change counted)."""

    def __init__(self, links: Sequence[Link], flags: SettlingFlags,
                 apply: Callable[[Link], object], shape: Shape,
                 block: Callable[[Work, Walk], None], count: Callable[[Work], object],
                 read: Callable[[Work], None], unassign: Callable[[Link], bool]) -> None:
        self.flags, self.apply, self.shape = flags, apply, shape
        self.block, self.count, self.read = block, count, read
        self.unassign = unassign
        # Our member -> group/clone start/stop/promote/demote links stand for the
        # collective's summary flags, which Pacemaker computes when it reads the action
        # (`read`): no such ordering exists. A member's action does come before the
        # collective's completion action (running, stopped, ...), without passing flags.
        plain = [link for link in links if link.via is None and not (
            "member_flags" in link.flags and link.then.task not in _COMPLETION)]
        self.befores: dict[int, list[Link]] = {}
        for link in sorted(reversed(plain), key=ordering_age):
            self.befores.setdefault(link.then.id, []).append(link)
        self.plain = plain
        self.afters: dict[int, list[Link]] = {}
        self.members: dict[int, list[Link]] = {}
        for link in links:
            if link.via is not None:
                self.members.setdefault(link.via.id, []).append(link)
        self.remapped: set[int] = set()  # id() of the remapped links already ordered anew
        self.paired: set[int] = set()  # id() of the instance pairs already ordered

    def run(self, actions: Sequence[Work]) -> None:
        """Update every action once, newest first (deep recursion: chains of changes)."""
        self._order_afters(actions)
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20000))
        order = list(reversed(creation_order(actions, self.shape)))
        try:
            for act in order:
                self.update(act)
            for act in order:
                # Pacemaker reads a collective's action again whenever an ordering meets
                # it (building the graph too); its members' flags are final only now
                self.read(act)
        finally:
            sys.setrecursionlimit(limit)

    def _order_afters(self, actions: Sequence[Work]) -> None:
        """Each action's followers, newest ordering first. A remapped ordering stays among
        the followers of the collective action it named: Pacemaker only disables that
        wrapper when it orders the completion action anew (corpus cloned-group-stop:
        keystone-clone_start_0's change updates glance-clone_start_0)."""
        collective: dict[tuple[str | None, str], Work] = {
            (act.rsc, act.task): act for act in actions if act.node is None and act.rsc}
        for link in reversed(self.plain):
            first: Work | None = link.first
            if REMAPPED in link.flags:
                first = collective.get((link.first.rsc, _NAMED.get(link.first.task, "")))
            if first is not None:
                self.afters.setdefault(first.id, []).append(link)

    def _state(self, act: Work) -> tuple[bool, bool]:
        return self.flags.optional[act.id], self.flags.runnable[act.id]

    def update(self, then: Work) -> None:
        """pcmk__update_action_for_orderings for one action."""
        was_runnable = self.flags.runnable[then.id]
        changed = False
        for link in list(self.befores.get(then.id, ())):
            if REMAPPED in link.flags and id(link) not in self.remapped:
                # action_for_ordering: the collective's completion action is ordered anew
                # (ahead of the others) and 'then' processed again, not applied now
                self.remapped.add(id(link))
                self.befores[then.id].remove(link)
                self.befores[then.id].insert(0, link)
                self.afters.setdefault(link.first.id, []).insert(0, link)
                changed = True
                continue
            changed |= self._apply(link)
        counted = self._state(then)
        self.count(then)
        changed |= self._state(then) != counted
        if changed:
            if was_runnable and not self.flags.runnable[then.id]:
                self.block(then, self)
            self.update(then)
            self.after(then)

    def after(self, act: Work) -> None:
        """Update every action ordered after `act`, newest ordering first."""
        for link in list(self.afters.get(act.id, ())):
            self.update(link.then)

    def _apply(self, link: Link) -> bool:
        """Apply one ordering (and the member actions it reaches); True if 'then' or one
        of its members changed. A changed 'first' is followed at once."""
        first = link.first
        self.read(first)
        first_before = self._state(first)
        # an interleaved ordering unassigns then-instances with no partner as it is applied
        changed = self.unassign(link)
        changed |= self._apply_one(link)
        changed |= self._apply_members(link)
        if self._state(first) != first_before:
            self.after(first)
            self.update(first)
        return changed

    def _apply_members(self, link: Link) -> bool:
        """A collective's update_ordered_actions: the members' (or paired instances')
        matching actions, and a group instance's members after that instance."""
        if self.shape.kinds.get(link.then.rsc or "") == "clone":
            return self._apply_instances(link)
        changed = False
        for member in self.members.get(link.then.id, ()):
            if _reaches(link, member):
                self._order(member)
                changed |= self._apply_one(member)
                changed |= self._apply_members(member)
        return changed

    def _apply_instances(self, link: Link) -> bool:
        """pcmk__multi_update_actions for an ordering on a clone's action: each
        instance's matching action (with its group's members) is updated, and once it
        changed, every action after it is updated at once, before the next instance. An
        interleaved ordering's instance pairs become orderings of their own instead."""
        clone = link.then.rsc
        changed = False
        instance: Work | None = None  # the instance action being updated
        instance_changed = skipped = False
        for member in self.members.get(link.then.id, ()):
            if not _reaches(link, member):
                continue
            if PAIRED not in member.flags \
                    and self.shape.ancestors.get(member.then.rsc or "", ())[:1] == (clone,):
                self._after_changed(instance, instance_changed)
                instance, instance_changed = member.then, False
                # pcmk__multi_update_actions updates an instance's action (and a group
                # instance's members through it) only while that action is runnable
                self.read(member.then)
                skipped = not self.flags.runnable[member.then.id]
            if skipped and PAIRED not in member.flags:
                continue
            self._order(member)
            one = self._apply_one(member)
            one |= self._apply_members(member)
            changed |= one
            instance_changed |= one
        self._after_changed(instance, instance_changed)
        return changed

    def _after_changed(self, instance: Work | None, changed: bool) -> None:
        if instance is not None and changed:
            self.after(instance)

    def _order(self, link: Link) -> None:
        """An interleaved instance pair becomes an ordering of its own when first applied
        (order_actions prepends it to both actions' lists)."""
        if PAIRED not in link.flags or id(link) in self.paired:
            return
        self.paired.add(id(link))
        self.befores.setdefault(link.then.id, []).insert(0, link)
        self.afters.setdefault(link.first.id, []).insert(0, link)

    def _apply_one(self, link: Link) -> bool:
        """One ordering between two actions, both read first as Pacemaker reads them
        (action_flags_for_ordering, no change counted); True if 'then' changed."""
        then = link.then
        self.read(link.first)
        self.read(then)
        if "member_flags" in link.flags:
            return False
        before = self._state(then)
        self.apply(link)
        if self._state(then) == before:
            return False
        if then.rsc is not None and self.shape.ancestors.get(then.rsc):
            # pcmk__update_ordered_actions re-processes a changed action with a parent
            self.update(then)
        return True


def _reaches(link: Link, member: Link) -> bool:
    """Does applying `link` reach `member` (a link derived from it)? A user ordering's
    member links and an interleaved ordering's instance pairs share its origin (the
    pairs start from the paired first instance); a probe's links through a clone
    (origin -1) start from the same probe."""
    if member.origin < 0:
        return member.first is link.first
    if member.origin != link.origin:
        return False
    return member.first is link.first or member.first.rsc != link.first.rsc
