"""Messages addressed to one node go to that node alone: which fragments were unicast, and
how the other receivers learn to step over them.

Every node's data stream is one sequence (mseq) for all its messages, so that each
receiver gets a sender's messages in the order they were sent, whatever their
destination. Sent to everyone, a message for one node cost every other node a signature
check and a decode to find it was not theirs (at 16 nodes, the cib master's diff to each
replica reached 15 nodes 15 times). Heartbeat's own ucast media send to a configured peer;
here the core sends an addressed fragment by unicast to the address its node's packets
come from (per link), and notes the range as a `Skip`. The next fragment it sends to
everyone carries the skips noted since the previous one (so does each unicast fragment:
its node finds the gaps that fragments for others left too), and each keepalive's Status
repeats those of the last `RECENT_BEATS` keepalives, so a receiver advances past them
(`stream.InStream.note_skips`) instead of asking for them. A receiver that still finds a
gap asks as before, and gets the fragments (addressed to another node, not delivered).

Invariants: a unicast range is always announced, first on the next fragment to everyone
(`take_pending`); the skips pending stay small enough to ride on one datagram (at most
`MAX_PENDING` runs, `MAX_PENDING_NAMES` bytes of names): when full, the next addressed
message goes to everyone, as it did before, and carries them. Pure data, no I/O.
"""

from __future__ import annotations

from collections import deque

from messaging.heartbeat.events import Address
from messaging.heartbeat.peers import Peer
from messaging.wire import BROADCAST, Skip

RECENT_BEATS = 3
MAX_PENDING = 16
MAX_PENDING_NAMES = 256
MAX_RECENT = 32


class DirectLedger:
    """The sender's record of its unicast fragments, until every receiver was told."""

    def __init__(self) -> None:
        self.pending: list[Skip] = []  # since the last fragment sent to everyone
        self.recent: deque[tuple[int, Skip]] = deque()  # (keepalive number, run)
        self.beat = 0

    def room(self, dst: str) -> bool:
        """Whether a unicast to `dst` can still be announced on one datagram."""
        if self.pending and self.pending[-1].dst == dst:
            return True
        names = sum(len(skip.dst) for skip in self.pending) + len(dst)
        return len(self.pending) < MAX_PENDING and names <= MAX_PENDING_NAMES

    def record(self, dst: str, first: int, last: int) -> None:
        """Fragments first..last went to `dst` alone."""
        self.pending = _merged(self.pending, Skip(dst, first, last))
        if self.recent and _joins(self.recent[-1][1], dst, first):
            self.recent[-1] = (self.beat, Skip(dst, self.recent[-1][1].first, last))
        else:
            self.recent.append((self.beat, Skip(dst, first, last)))
        while len(self.recent) > MAX_RECENT:
            self.recent.popleft()

    def take_pending(self) -> tuple[Skip, ...]:
        """The skips to put on a fragment that goes to everyone (then none are pending)."""
        taken, self.pending = tuple(self.pending), []
        return taken

    def for_status(self) -> tuple[Skip, ...]:
        """The skips a keepalive's Status repeats: those of the last RECENT_BEATS beats."""
        self.beat += 1
        while self.recent and self.recent[0][0] < self.beat - RECENT_BEATS:
            self.recent.popleft()
        return tuple(skip for _, skip in self.recent)


def unicast_routes(peer: Peer | None, dst: str,
                   links: tuple[str, ...]) -> list[tuple[str, Address]]:
    """Where a fragment for `dst` can go by unicast: each link's address its packets came
    from. Empty (send to everyone) for a broadcast or a node never heard from."""
    if dst == BROADCAST or peer is None:
        return []
    return [(link, peer.endpoints[link]) for link in links if link in peer.endpoints]


def _joins(run: Skip, dst: str, first: int) -> bool:
    return run.dst == dst and run.last + 1 == first


def _merged(runs: list[Skip], skip: Skip) -> list[Skip]:
    if runs and _joins(runs[-1], skip.dst, skip.first):
        return [*runs[:-1], Skip(skip.dst, runs[-1].first, skip.last)]
    return [*runs, skip]
