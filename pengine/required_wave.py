"""Depth-first requiredness updates in Pacemaker's order (pcmk__update_action_for_orderings).

When an ordering changes an action, Pacemaker updates the actions after it at once, each
through all the orderings before it, newest first, before the ordering that changed it
moves on. Only the reason an action is given depends on this order (the first reason set
wins); the flags themselves still reach the caller's fixpoint.

Also owns the order the caller applies requiredness in (application_order).

Invariant: flags only move from optional to required, so the recursion follows changes
and ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from pengine.actions import RESTART, UNFENCE, Work
from pengine.sealed_actions import SettlingFlags


class Ordered(Protocol):
    """An ordering between two actions with its flags (ordering.Link)."""

    @property
    def first(self) -> Work: ...

    @property
    def then(self) -> Work: ...

    @property
    def flags(self) -> frozenset[str]: ...

    @property
    def via(self) -> Work | None: ...

    @property
    def origin(self) -> int: ...


L = TypeVar("L", bound=Ordered)
# A link whose collective 'first' was remapped to its completion action (start -> running)
REMAPPED = "remapped"


class RequiredWave(Generic[L]):
    """Pacemaker creates a member's own stop -> start ordering before its group's, both
    after the user's constraints, and walks each action's orderings newest first: so a
    member's group orderings are seen first, then its own, then user orderings."""

    def __init__(self, links: Sequence[L], apply: Callable[[L], bool],
                 flags: SettlingFlags, restart: Callable[[L], bool] = lambda link: False
                 ) -> None:
        self.apply = apply
        self.optional = flags.optional  # action id -> optional, as `apply` updates it
        self.runnable = flags.runnable  # action id -> runnable, as propagation updates it
        self.restart = restart
        self.afters: dict[int, list[L]] = {}
        self.befores: dict[int, list[L]] = {}
        # Our member -> group/clone links stand for the collective's summary flags,
        # which Pacemaker computes when asked, not for orderings it walks.
        plain = [link for link in links
                 if link.via is None and "member_flags" not in link.flags]
        for link in reversed(plain):
            self.afters.setdefault(link.first.id, []).append(link)
        for link in sorted(reversed(plain), key=_age):
            self.befores.setdefault(link.then.id, []).append(link)

    def after(self, act: Work) -> None:
        """Update every action ordered after `act`."""
        for link in self.afters.get(act.id, ()):
            self.update(link.then)

    def unrunnable(self, link: L) -> None:
        """`link` just made its 'then' unrunnable: Pacemaker re-updates a changed action
        through its own orderings before the actions after it (the lf#1421 recursion), so
        a restart ordering makes its resource's stop required, and the stop its start,
        before a later ordering reads the start (requiredness arrives before
        unrunnability: "required X start" names the reason, not "unrunnable X start").
        A remapped collective ordering (start -> running) too: Pacemaker orders it anew
        and re-processes 'then' at once, recursing the same way (corpus bug-1718 and
        complex_enforce_colo: "required cinder-api start")."""
        if self.runnable[link.then.id]:
            return
        for before in self.befores.get(link.then.id, ()):
            if RESTART in before.flags and self.restart(before):
                self.apply(before)  # the now required stop makes its start required

    def update(self, then: Work) -> None:
        """Apply the orderings before `then`; follow whatever became required."""
        optional = self.optional
        was_optional = optional[then.id]
        for link in self.befores.get(then.id, ()):
            first_optional = optional[link.first.id]
            if self.apply(link) and first_optional and not optional[link.first.id]:
                self.after(link.first)
                self.update(link.first)
        if was_optional and not optional[then.id]:
            self.after(then)


def _age(link: Ordered) -> int:
    if UNFENCE in link.flags:
        return 3
    if "user" in link.flags:
        return 2
    return 1 if link.first.rsc == link.then.rsc else 0


def application_order(links: list[L]) -> list[L]:
    """The order requiredness is applied in (propagation.propagate).

    order_actions prepends to actions_before: of two orderings that make the same action
    required, the later one is seen first and names the reason. But members of a group
    or clone "then" are updated along with the collective action, which is created
    before them, so links derived from a collective's ordering are seen first, member
    by member (in member order within one ordering, later orderings first); a member
    whose action changes is updated at once through its own orderings (Pacemaker's
    lf#1421 recursion), before the collective reaches the next member.
    """
    runs: list[list[L]] = []
    for link in links:
        if link.via is None:
            continue
        if runs and runs[-1][-1].origin == link.origin:
            runs[-1].append(link)
        else:
            runs.append([link])
    plain = sorted((link for link in reversed(links) if link.via is None),
                   key=lambda link: (-link.then.id, _age(link)))
    plain = [link for link in plain if UNFENCE not in link.flags] \
        + [link for link in plain if UNFENCE in link.flags]
    # action_for_ordering remaps a collective 'first' (start -> running) when 'then' is
    # first updated and orders it anew instead of applying it: the others name the reason.
    return _remapped_last([link for run in reversed(runs) for link in run]) \
        + _remapped_last(plain)


def _remapped_last(links: list[L]) -> list[L]:
    return [link for link in links if REMAPPED not in link.flags] \
        + [link for link in links if REMAPPED in link.flags]
