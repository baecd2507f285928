"""The order in which orderings make actions unrunnable, as far as the reason depends on it.

Pacemaker updates actions newest first and, when an ordering changes an action, updates
the actions after it at once (pcmk__update_action_for_orderings); the first reason set on
an action wins. propagation.propagate applies links in creation order; these two helpers
reproduce the parts of Pacemaker's order that decide a reason it would otherwise get
wrong. They only set flags propagation would set anyway (flags move one way only), so the
fixpoint is unchanged: only which reason an action is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pengine.actions import RESTART, RUNNABLE_LEFT, Work
from pengine.order_links import Link
from pengine.required_wave import REMAPPED, RequiredWave
from pengine.sealed_actions import SettlingFlags


def unrunnable_collective_firsts(links: Sequence[Link], apply: Callable[[Link], bool],
                                 flags: SettlingFlags, wave: RequiredWave[Link]) -> None:
    """A group's or clone's action after an already unrunnable first tells its members
    before their own orderings do: Pacemaker visits actions newest first, the collective's
    after its members', and passes each ordering before it on to each member, newest
    ordering first (implies_then before runnable_left, as update_action_for_ordering_flags
    does); a missing first is created last, so it is updated first (seed 520: "unrunnable
    r1 start", not "required m4:0 start"; seed 758: a newer "required r6 start" wins)."""
    settle = _Settler(links, wave)
    afters = _afters(links)
    by_member: dict[int, list[Link]] = {}
    for link in links:
        # A set's one-or-more pseudo action is created with the constraints, before any
        # resource action, so it is updated last, and only then does it become unrunnable:
        # the members have settled their requiredness by then (seed 953: "required m12:0
        # start", not the clone-one-or-more pseudo action).
        if link.via is not None and RUNNABLE_LEFT in link.flags \
                and not (link.first.rsc is None and link.first.pseudo):
            by_member.setdefault(link.then.id, []).append(link)
    for member_links in by_member.values():
        if all(flags.runnable[link.first.id] for link in member_links):
            continue
        for link in reversed(member_links):
            settle(link.first)
            was_optional = flags.optional[link.then.id]
            if not apply(link):
                continue
            # A member whose action changed is updated again at once: a running member's
            # restart makes its stop and then its start required, and a start that
            # became required updates the actions after it before the next member is
            # told (seed 520: "unrunnable m4:0 start" after a running m4:0).
            wave.unrunnable(link)
            if was_optional and not flags.optional[link.then.id]:
                for after in afters.get(link.then.id, ()):
                    if after.via is None:
                        apply(after)


class _Settler:
    """Updates an action's requiredness after that of every action before it, once: the
    firsts created missing are the newest actions, updated before the collective's."""

    def __init__(self, links: Sequence[Link], wave: RequiredWave[Link]) -> None:
        self.wave = wave
        self.befores: dict[int, list[Work]] = {}
        for link in links:
            self.befores.setdefault(link.then.id, []).append(link.first)
        self.settled: set[int] = set()

    def __call__(self, act: Work) -> None:
        if act.id in self.settled:
            return
        self.settled.add(act.id)
        for first in self.befores.get(act.id, ()):
            self(first)
        self.wave.update(act)


def _afters(links: Sequence[Link]) -> dict[int, list[Link]]:
    afters: dict[int, list[Link]] = {}
    for link in links:
        afters.setdefault(link.first.id, []).append(link)
    return afters


def runnable_pass(links: Sequence[Link], apply: Callable[[Link], bool], flags: SettlingFlags,
                  wave: RequiredWave[Link], running_on: Mapping[str, Sequence[str]]) -> bool:
    """Apply every link once, in creation order; returns whether any flag changed.

    A collective 'first' remapped to its completion action (start -> running) is applied
    only when Pacemaker re-processes the changed 'then', and a changed 'then' has the
    actions after it updated at once: an inactive resource after it names it ("unrunnable
    r4 start", not the collective: seed 681).
    """
    afters = _afters(links)
    changed = False
    spread = _Spreader(afters, apply, wave, flags)

    def visit(link: Link, follow: bool) -> None:
        nonlocal changed
        was_runnable = flags.runnable[link.then.id]
        was_optional = flags.optional[link.then.id]
        if not apply(link):
            return
        changed = True
        if link.via is not None and was_optional:
            # A member action that changed is updated at once through its own orderings
            # (pcmk__update_ordered_actions, for any resource with a parent): a running
            # member's restart makes its start required, which reaches the next member
            # before the collective does (seed 904: "required m4 start", not the
            # clone-min pseudo action).
            spread.changed(link, lambda: not flags.optional[link.then.id])
        else:
            wave.unrunnable(link)
        if not follow or not was_runnable or flags.runnable[link.then.id]:
            return
        for after in afters.get(link.then.id, ()):
            # Pacemaker visits actions newest first: one created after 'then' was already
            # reached from the collective. A running resource's start also hears of
            # requiredness from its restart, which our requiredness rounds apply first.
            if after.then.id < link.then.id and not running_on.get(after.then.rsc or ""):
                visit(after, follow)

    for link in links:
        visit(link, REMAPPED in link.flags and link.via is None)
    return changed



class _Spreader:
    """Depth-first updates after a changed action, as pcmk__update_action_for_orderings
    does them: a changed action's restart first (its stop becomes required), then every
    action after it, and theirs when they change, then the orderings before the stop
    (seed 953: "unrunnable m12:0 start" reaches m13:0 before the clone does, and m13:0's
    stop hears "required m12:0 stop" only after m12:0's start changed m13:0's start)."""

    def __init__(self, afters: Mapping[int, Sequence[Link]], apply: Callable[[Link], bool],
                 wave: RequiredWave[Link], flags: SettlingFlags) -> None:
        self.afters, self.apply, self.wave, self.flags = afters, apply, wave, flags

    def changed(self, link: Link, follow: Callable[[], bool] = lambda: True) -> None:
        """`link` just changed its 'then'; `follow` says whether Pacemaker goes on."""
        optional = self.flags.optional
        restarts = [before.first for before in self.wave.befores.get(link.then.id, ())
                    if RESTART in before.flags and optional[before.first.id]]
        was_optional = optional[link.then.id]
        self.wave.unrunnable(link)
        if not follow():
            return
        if was_optional and not optional[link.then.id]:
            # the stop's 'after' actions come first: its start, now required, and the
            # actions after that start
            self._afters(link.then)
            self._befores(restarts)
        else:
            self._befores(restarts)
            self._afters(link.then)

    def _afters(self, act: Work) -> None:
        for after in self.afters.get(act.id, ()):
            if after.via is None and self.apply(after):
                self.changed(after)

    def _befores(self, stops: list[Work]) -> None:
        for stop in stops:
            if not self.flags.optional[stop.id]:
                self.wave.update(stop)
