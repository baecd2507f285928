"""Which fencers take part: the peer set of a fencer follows the cluster membership.

`PeerSet` is pure. The heartbeat transport feeds it every `MembershipChanged` ccm
publishes (ccm repeats the current view every 2 s) and gets back a `PeersChanged` event
for the fencer core only when the set of members really changed, so a node that leaves
the view stops being waited for at once (see `Fencer`'s handling of `PeersChanged`).
Before the first view only this node is known; messages to nodes outside the view are
refused by `reachable`, which makes the core's `Send` fail fast instead of queueing.
"""

from __future__ import annotations

from collections.abc import Iterable

from stonithd.core import PeersChanged


class PeerSet:
    """The current members as the fencer sees them."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.view_id: int | None = None
        self.members: tuple[str, ...] = (node,)
        self.changed_at: float | None = None

    def on_view(self, view_id: int, members: Iterable[str], now: float) -> PeersChanged | None:
        """Take a (possibly repeated) view; the event for the core if the members changed.

        A view that does not contain this node (ccm still forming, or we were excluded)
        keeps only this node, so nothing waits for fencers we cannot hear.
        """
        names = set(members)
        wanted = tuple(sorted(names | {self.node})) if self.node in names else (self.node,)
        self.view_id = view_id
        if wanted == self.members:
            return None
        self.members = wanted
        self.changed_at = now
        return PeersChanged(wanted, now)

    def reachable(self, node: str) -> bool:
        return node in self.members and node != self.node

    def others(self) -> tuple[str, ...]:
        return tuple(n for n in self.members if n != self.node)


__all__ = ["PeerSet"]
