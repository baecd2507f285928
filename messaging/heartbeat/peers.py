"""What the heartbeat core remembers about each sender, and what survives a restart.

Pure data and decisions, no I/O. `Peer` is the live replay and stream state of one sender.
`PeerMark` is the part worth persisting (like Heartbeat's host cache): the sender's last
generation, the highest sequence number accepted from it, and the source address pinned
per link. A receiver that restarts loads its marks, so packets captured earlier and
replayed later are recognised as old: an older generation, or a sequence number not above
the mark.

The mark is a high-water mark written ahead: it records `highest accepted + MARK_AHEAD`,
and is rewritten only once the highest accepted seq comes within MARK_AHEAD // 2 of it
(`Peer.mark_due`), not at every packet or keepalive. After a crash the restarted receiver
takes the mark as its floor, so everything it accepted before stays refused, however
late the last rewrite was. The sender's next packets are below that floor too, which is
why a sender that sees a known peer restart (a new generation) jumps its own sequence
counter by MARK_AHEAD (`HeartbeatCore._restarted`): past any floor that peer can have written.

`source_refusal` checks where a packet came from: a link made only of `ucast` lines
accepts only its configured peer addresses, and a node's packets must come from the
address first seen for it on that link; a new address is taken only with a newer
generation while the node is not up (a node restarted elsewhere), never for a replay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from messaging.heartbeat.stream import InStream

MAX_MARKS = 4096
# How far ahead of the highest accepted seq a persisted mark is written. Half of it is the
# headroom the writer thread has before the seqs reach the mark on disk (a keepalive every
# 100 ms and a few ccm messages a second: about half a minute). It stays below the core's
# SEQ_WINDOW, so the packets a sender had in flight when it jumped by MARK_AHEAD are not
# taken for old replays by receivers that see the jumped ones first.
MARK_AHEAD = 512
_MAX_COUNTER = 1 << 63


@dataclass(frozen=True, slots=True)
class PeerMark:
    """The persisted replay floor of one sender."""

    node: str
    generation: int
    seq: int
    addresses: tuple[tuple[str, str], ...] = ()  # (link, source IP)


@dataclass
class Peer:
    """Replay and stream state for one sender (reset when its generation changes)."""

    generation: int = 0
    highest_seq: int = 0
    seen: set[int] = field(default_factory=set)
    link_seq: dict[str, int] = field(default_factory=dict)
    reply_to: tuple[str, tuple[str, int]] | None = None
    stream: InStream | None = None
    floor: int = 0  # sequence numbers at or below it were accepted before a restart
    addresses: dict[str, str] = field(default_factory=dict)
    # per link, the (address, port) its packets came from: where unicast to it goes
    endpoints: dict[str, tuple[str, int]] = field(default_factory=dict)
    persisted: int = 0  # the seq floor last handed to be written (0: none this generation)
    last_status: object = None  # the last keepalive (wire.Status) its stream was told

    def heard(self) -> bool:
        """True once a packet of this generation was accepted by this process: a peer
        restored from the persisted marks alone was never heard."""
        return bool(self.link_seq)

    def mark_due(self) -> bool:
        """True when the highest accepted seq came within half of MARK_AHEAD of the mark."""
        return self.highest_seq > self.persisted - MARK_AHEAD // 2

    def mark_ahead(self, node: str) -> PeerMark:
        """The mark to persist now (MARK_AHEAD above the highest accepted seq)."""
        self.persisted = self.highest_seq + MARK_AHEAD
        return PeerMark(node, self.generation, self.persisted,
                        tuple(sorted(self.addresses.items())))

    @classmethod
    def restored(cls, mark: PeerMark, local: str) -> Peer:
        return cls(mark.generation, mark.seq, stream=InStream(local), floor=mark.seq,
                   addresses=dict(mark.addresses), persisted=mark.seq)


def source_refusal(peer: Peer | None, generation: int, link: str, ip: str,
                   allowed: Mapping[str, frozenset[str]], node_up: bool) -> str | None:
    """Why a packet from `ip` on `link` cannot be the sender's, or None when it can."""
    permitted = allowed.get(link)
    if permitted is not None and ip not in permitted:
        return "unknown_address"
    if peer is None:
        return None
    pinned = peer.addresses.get(link)
    if pinned is None or pinned == ip:
        return None
    if generation > peer.generation and not node_up:
        return None  # the node restarted with another address
    return "wrong_address"


def encode_marks(marks: list[PeerMark]) -> str:
    """The persisted form (JSON, one object per sender)."""
    return json.dumps([{"node": m.node, "generation": m.generation, "seq": m.seq,
                        "addresses": [list(pair) for pair in m.addresses]} for m in marks])


def decode_marks(text: str) -> tuple[PeerMark, ...]:
    """Marks from `encode_marks` text; anything malformed is skipped, never raised."""
    try:
        items = json.loads(text)
    except ValueError:
        return ()
    marks = []
    for item in items[:MAX_MARKS] if isinstance(items, list) else ():
        mark = _mark(item)
        if mark is not None:
            marks.append(mark)
    return tuple(marks)


def _counter(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_COUNTER


def _mark(item: object) -> PeerMark | None:
    if not isinstance(item, dict):
        return None
    node, generation, seq = item.get("node"), item.get("generation"), item.get("seq")
    pairs = item.get("addresses", [])
    if not (isinstance(node, str) and node.isprintable() and 0 < len(node) <= 253
            and _counter(generation) and _counter(seq) and isinstance(pairs, list)):
        return None
    addresses = tuple((str(p[0]), str(p[1])) for p in pairs
                      if isinstance(p, list) and len(p) == 2
                      and all(isinstance(x, str) for x in p))
    assert isinstance(generation, int) and isinstance(seq, int)
    return PeerMark(node, generation, seq, addresses)
