"""The action set once every action and ordering exists: a read-only view for later stages.

The scheduler creates actions and orderings up to and including `ordering.resolve` (which
still creates a missing "first" action, as Pacemaker's rsc_order_first does); from then on
it hands this view to flag propagation, the graph and the summary.

Invariants: the view's collections are immutable (tuples and mapping proxies over copies),
so nothing can add an action or an ordering through it; `new` and `order` raise
InternalError. The Work objects themselves are shared and still carry the flags that
propagation settles.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NoReturn

from messaging.errors import InternalError
from pengine.actions import ActionSet, OrderSpec, Work


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
    """The read-only view of `action_set` as it is now; later changes to it do not show."""
    return SealedActions(action_set)
