"""The action set once every action and ordering exists: a read-only view for later stages.

The scheduler creates actions and orderings up to and including `ordering.resolve` (which
still creates a missing "first" action, as Pacemaker's rsc_order_first does); from then on
it hands this view to flag propagation, the graph and the summary.

Invariants: the view's collections are immutable (tuples and mapping proxies over copies),
so nothing can add an action or an ordering through it; `new` and `order` raise
InternalError. Sealing also freezes the Work objects themselves: any attribute write on
one raises InternalError. Flag propagation keeps the flags it settles in its own
SettlingFlags (per action id) and hands them on as a FlagsTable, which is immutable too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, NoReturn

from messaging.errors import InternalError
from pengine.actions import ActionSet, OrderSpec, Work


class _SealedWork(Work):
    """A Work of a sealed set: it refuses every attribute write (checked by class, so the
    creating stages, which write Work attributes all the time, pay nothing for it)."""

    __slots__ = ()  # Work's own slots: reading a sealed action stays as fast as before

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise InternalError(f"action {self.key} ({name}) changed after the action set "
                            "was sealed")


class SealedActions:
    """All actions and orderings of one run, no longer growing."""

    __slots__ = ("actions", "by_rsc_task", "index", "min_runnable", "orders")

    def __init__(self, source: ActionSet) -> None:
        self.actions: tuple[Work, ...] = tuple(source.actions)
        self.orders: tuple[OrderSpec, ...] = tuple(source.orders)
        self.index: Mapping[tuple[str, str | None], Work] = MappingProxyType(
            dict(source.index))
        self.by_rsc_task: Mapping[tuple[str | None, str], tuple[Work, ...]] = \
            MappingProxyType({key: tuple(works) for key, works in source.by_rsc_task.items()})
        self.min_runnable: Mapping[int, int] = MappingProxyType(dict(source.min_runnable))

    def find(self, key: str, node: str | None) -> Work | None:
        return self.index.get((key, node))

    def of(self, rsc: str, task: str, node: str | None = None) -> list[Work]:
        """Non-recurring actions of a resource for a task (on a node), creation order."""
        return [a for a in self.by_rsc_task.get((rsc, task), ())
                if a.interval_ms == 0 and (node is None or a.node == node)]

    def new(self, key: str, *_args: object, **_kw: object) -> NoReturn:
        raise InternalError(f"action {key} created after the action set was sealed")

    def order(self, first_rsc: str | None, first_task: str, *_args: object,
              **_kw: object) -> NoReturn:
        raise InternalError(f"ordering after {first_rsc} {first_task} added after the "
                            "action set was sealed")


def seal(action_set: ActionSet) -> SealedActions:
    """The read-only view of `action_set` as it is now; later changes to it do not show,
    and its actions refuse any change from now on."""
    for work in action_set.actions:
        work.__class__ = _SealedWork
    return SealedActions(action_set)


class ActionFlags(NamedTuple):
    """An action's flags once propagation settled them."""

    optional: bool  # not required in this transition
    runnable: bool
    reason: str | None  # the summary's "due to" text


class FlagsTable:
    """Action id -> its settled flags (what propagation returns); immutable.

    `optional`, `runnable` and `reason` are tuples indexed by action id (ids count from 1
    in creation order, ActionSet.new; index 0 is unused).
    """

    __slots__ = ("optional", "reason", "runnable")

    def __init__(self, optional: Iterable[bool], runnable: Iterable[bool],
                 reason: Iterable[str | None]) -> None:
        self.optional: tuple[bool, ...] = tuple(optional)
        self.runnable: tuple[bool, ...] = tuple(runnable)
        self.reason: tuple[str | None, ...] = tuple(reason)

    def __getitem__(self, action_id: int) -> ActionFlags:
        if not 0 < action_id < len(self.optional):
            raise KeyError(action_id)
        return ActionFlags(self.optional[action_id], self.runnable[action_id],
                           self.reason[action_id])

    def __len__(self) -> int:
        return len(self.optional) - 1

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"FlagsTable.{name} is read-only")
        object.__setattr__(self, name, value)


class SettlingFlags:
    """Flag propagation's own state: per action id, the flags as propagation has set them
    so far, starting from the sealed actions' creation flags (which stay as they are)."""

    __slots__ = ("optional", "reason", "runnable")

    def __init__(self, actions: Sequence[Work]) -> None:
        if any(work.id != index for index, work in enumerate(actions, 1)):
            raise InternalError("action ids do not count from 1 in creation order")
        self.optional: list[bool] = [True, *(work.optional for work in actions)]
        self.runnable: list[bool] = [False, *(work.runnable for work in actions)]
        self.reason: list[str | None] = [None, *(work.reason for work in actions)]

    def settled(self) -> FlagsTable:
        return FlagsTable(self.optional, self.runnable, self.reason)
