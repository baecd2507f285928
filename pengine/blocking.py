"""Colocation blocking (pcmk__block_colocation_dependents), called inside the ordering walk.

Invariant: only a start or promote that has just become unrunnable, when no child of its
top resource can run that task any more, blocks dependents (of INFINITY colocations with
that top resource), with the reason `colocation with <resource of that action>`.
"""

from __future__ import annotations

from typing import Protocol

from messaging.types import Role
from pengine.actions import Work
from pengine.constraints import Colocation
from pengine.scores import INF
from pengine.sealed_actions import SettlingFlags
from pengine.state import Unpacked


class Updater(Protocol):
    """The ordering walk: updates an action through the orderings before it."""

    def update(self, then: Work) -> None: ...


class DependentBlock:
    """pcmk__block_colocation_dependents, called by the ordering walk as soon as a start
    or promote becomes unrunnable: when no child of the action's top resource can run that
    task any more, every INFINITY colocation with the top resource blocks its dependent's
    start (or promote): the dependent's own action, then its children's, each naming the
    resource of the action that blocked it and updated at once through the orderings
    before it (corpus promoted-with-blocked: "colocation with rsc1" on an instance)."""

    def __init__(self, u: Unpacked, colocations: tuple[Colocation, ...],
                 by_rsc_task: dict[tuple[str | None, str], list[Work]],
                 flags: SettlingFlags) -> None:
        self.u, self.by_rsc_task, self.flags = u, by_rsc_task, flags
        self.colocations = [c for c in colocations if c.score >= INF]

    def __call__(self, act: Work, walk: Updater) -> None:
        if act.rsc is None or act.task not in ("start", "promote") \
                or self.flags.runnable[act.id] or not self.u.has_rsc(act.rsc):
            return
        top = act.rsc
        while self.u.rsc(top).parent is not None:
            top = self.u.rsc(top).parent or top
        for child in self._children(top):
            found = [a for a in self.by_rsc_task.get((child, act.task), ())
                     if a.node is not None or a.pseudo]
            if not found or self.flags.runnable[found[0].id]:
                return
        for c in self.colocations:
            if c.primary != top or (act.task != "start" and c.primary_role != Role.PROMOTED):
                continue
            task = "promote" if c.dependent_role == Role.PROMOTED else "start"
            self._mark(c.dependent, task, act.rsc, walk)

    def _children(self, top: str) -> list[str]:
        """A clone's children include its orphan instances (create_child_clone)."""
        inside = set(self.u.primitives_under(top))
        return list(self.u.rsc(top).children) \
            + [p for p in self.u.instance_primitives(top) if p not in inside]

    def _mark(self, rid: str, task: str, because: str, walk: Updater) -> None:
        runnable, reason = self.flags.runnable, self.flags.reason
        for act in self.by_rsc_task.get((rid, task), ()):
            if runnable[act.id]:
                runnable[act.id] = False
                if reason[act.id] is None:
                    reason[act.id] = f"colocation with {because}"
                self(act, walk)
                walk.update(act)
        if self.u.has_rsc(rid):
            for child in self.u.rsc(rid).children:
                self._mark(child, task, because, walk)
