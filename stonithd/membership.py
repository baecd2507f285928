"""Which fencers take part: members of the cluster view whose fencer has announced itself.

`PeerSet` is pure. The heartbeat transport feeds it every `MembershipChanged` ccm
publishes (ccm repeats the current view every 2 s) and every `FencerHello` it receives,
and gets back a `PeersChanged` event for the fencer core only when the set of peers really
changed. A peer is a node that is in the current view AND whose fencer said hello: a node
that has just booted is a member a moment before its stonithd runs, and querying it then
would only wait for the query timeout. A node that leaves the view stops being a peer at
once (and must say hello again when it comes back), so nothing waits for it.

`joined` (set by `on_view`) names the members that are new in this view: the transport
then broadcasts its own hello, so fencers that were cut off from us (partition) or booted
learn about us; a hello with `answer` set is answered with a hello of ours.
"""

from __future__ import annotations

from collections.abc import Iterable

from stonithd.events import PeersChanged


class PeerSet:
    """The current view, the fencers that announced themselves, and the peers they give."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.view_id: int | None = None
        self.members: frozenset[str] = frozenset({node})
        self.announced: set[str] = set()
        self.peers: tuple[str, ...] = (node,)
        self.joined: frozenset[str] = frozenset()
        self.changed_at: float | None = None

    def on_view(self, view_id: int, members: Iterable[str], now: float) -> PeersChanged | None:
        """Take a (possibly repeated) view. A view without this node (ccm still forming,
        or we were excluded) keeps only this node, so nothing waits for unheard fencers."""
        names = set(members)
        view = frozenset(names) if self.node in names else frozenset({self.node})
        self.joined = view - self.members
        self.announced -= self.members - view  # who left must announce itself again
        self.members = view
        self.view_id = view_id
        return self._update(now)

    def on_hello(self, node: str, now: float) -> PeersChanged | None:
        """A fencer announced itself (possibly before the view includes its node)."""
        if node == self.node:
            return None
        self.announced.add(node)
        return self._update(now)

    def _update(self, now: float) -> PeersChanged | None:
        peers = tuple(sorted({self.node} | (self.members & self.announced)))
        if peers == self.peers:
            return None
        self.peers = peers
        self.changed_at = now
        return PeersChanged(peers, now)

    def reachable(self, node: str) -> bool:
        """Whether to hand a message for `node` to heartbeat: a member, or a fencer that
        said hello before our view caught up (its replies must not be lost)."""
        return node != self.node and (node in self.members or node in self.announced)

    def should_answer(self, node: str) -> bool:
        """Answer a hello only from a member: before our view includes it, our own
        broadcast (on `joined`) announces us, once we can also hear its queries."""
        return node in self.members and node != self.node

    def others(self) -> tuple[str, ...]:
        return tuple(n for n in self.peers if n != self.node)


__all__ = ["PeerSet"]
