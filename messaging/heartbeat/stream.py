"""Reliable, ordered per-sender message streams over lossy datagrams (NAK based).

Sender (`OutStream`): every fragment of every upper-layer message gets the next message
sequence number (mseq, from 1 per generation) and is kept in a bounded history so it can
be resent. Messages larger than one datagram are cut into fragments (`more=True` on all
but the last); fragments of one message have consecutive mseqs.

Receiver (`InStream`, one per sender generation): fragments are processed strictly in
mseq order; early ones wait in a bounded buffer. A gap is noticed from a later fragment or
from the sender's Status (which carries its last mseq), so a lost last message is found
within one keepalive. Missing ranges are requested from the sender; if the sender no
longer has them (`RetransmitGone`) the receiver skips ahead and counts them lost.
Every fragment is processed exactly once; fragments addressed to another node advance
the sequence but are not delivered. Those the sender unicast to their node alone never
reach us: the sender's later packets name them (`Skip`), and `note_skips` advances past
them as if they had arrived, so they are never asked for (asking would only cost).
A message whose first fragment was never seen (we joined mid-message, or skipped lost
history) is dropped whole, never delivered truncated.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from messaging.wire import BROADCAST, Data, Skip

HISTORY_MESSAGES = 2048
HISTORY_BYTES = 16 << 20
RECEIVE_WINDOW = 2048
_ELSEWHERE = Data(0, "", b"")  # stands in for a fragment unicast to another node


@dataclass(frozen=True, slots=True)
class Sent:
    """A fragment kept for retransmission, with the node it was addressed to."""

    dst: str
    data: Data


class OutStream:
    """Our own outgoing data stream."""

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.next_mseq = 1
        self.history: deque[Sent] = deque()
        self._bytes = 0

    @property
    def last_mseq(self) -> int:
        return self.next_mseq - 1

    @property
    def first_available(self) -> int:
        return self.history[0].data.mseq if self.history else self.next_mseq

    def fragments(self, dst: str, channel: str, payload: bytes,
                  skips: tuple[Skip, ...] = ()) -> list[Sent]:
        """Number and remember the fragments of one message (`skips` ride on the first,
        and stay in the history, so a resent fragment announces them again)."""
        pieces = [payload[i:i + self.chunk_size]
                  for i in range(0, len(payload), self.chunk_size)] or [b""]
        sent = []
        for index, piece in enumerate(pieces):
            item = Sent(dst, Data(self.next_mseq, channel, piece, index < len(pieces) - 1, index,
                                  skips if index == 0 else ()))
            self.next_mseq += 1
            self._remember(item)
            sent.append(item)
        return sent

    def _remember(self, item: Sent) -> None:
        self.history.append(item)
        self._bytes += len(item.data.chunk)
        while len(self.history) > HISTORY_MESSAGES or (
                self._bytes > HISTORY_BYTES and len(self.history) > 1):
            self._bytes -= len(self.history.popleft().data.chunk)

    def resend(self, first: int, last: int, limit: int = 64) -> list[Sent]:
        """History entries first..last that we still hold (at most `limit`)."""
        if not self.history:
            return []
        base = self.history[0].data.mseq
        start = max(first, base)
        stop = min(last, self.last_mseq, start + limit - 1)
        return [self.history[m - base] for m in range(start, stop + 1)]


@dataclass
class Delivery:
    """A complete message ready for the upper layer."""

    channel: str
    payload: bytes
    broadcast: bool


@dataclass
class InStream:
    """One sender's stream as this node receives it."""

    local: str
    expected: int | None = None
    buffer: dict[int, Sent] = field(default_factory=dict)
    known_last: int = 0
    partial: list[bytes] = field(default_factory=list)
    partial_channel: str | None = None
    lost: int = 0
    torn: int = 0
    requested_at: float | None = None
    requested_upto: int = 0

    def may_request(self, now: float, interval: float) -> bool:
        """Ask at once when the previous request was fully answered, else once per interval
        (the sender resends at most a batch per request, so big gaps go batch by batch)."""
        answered = self.expected is not None and self.expected > self.requested_upto
        return self.requested_at is None or answered or now - self.requested_at >= interval

    def requested(self, now: float, upto: int) -> None:
        self.requested_at = now
        self.requested_upto = upto

    def start_at(self, mseq: int) -> None:
        if self.expected is None:
            self.expected = mseq

    def on_status(self, last_mseq: int, first_available: int) -> list[Delivery]:
        """The sender's stream is at last_mseq; returns deliveries unblocked by a skip."""
        if self.expected is None:
            self.expected = last_mseq + 1
        self.known_last = max(self.known_last, last_mseq)
        if first_available > self.expected:
            return self.skip_to(first_available)
        return []

    def on_data(self, item: Sent) -> list[Delivery]:
        """A fragment arrived (first time or again); returns complete messages in order."""
        mseq = item.data.mseq
        self.start_at(mseq)
        assert self.expected is not None
        self.known_last = max(self.known_last, mseq)
        if mseq < self.expected or mseq >= self.expected + RECEIVE_WINDOW:
            return []
        self.buffer[mseq] = item
        return self._drain()

    def note_skips(self, skips: tuple[Skip, ...]) -> list[Delivery]:
        """The sender unicast these fragments to one node each: the ones meant for others
        count as received (not delivered); returns messages they unblock."""
        if self.expected is None:
            return []
        for skip in skips:
            if skip.dst in (BROADCAST, self.local):
                continue  # ours: it arrives, or the gap is asked for as usual
            last = min(skip.last, self.expected + RECEIVE_WINDOW - 1)
            for mseq in range(max(skip.first, self.expected), last + 1):
                self.buffer.setdefault(mseq, Sent(skip.dst, _ELSEWHERE))
            self.known_last = max(self.known_last, last)
        return self._drain()

    def skip_to(self, first_available: int) -> list[Delivery]:
        """The sender no longer holds messages before first_available: give them up."""
        if self.expected is None or first_available <= self.expected:
            return []
        self.lost += sum(1 for m in range(self.expected, first_available) if m not in self.buffer)
        for mseq in [m for m in self.buffer if m < first_available]:
            del self.buffer[mseq]
        self.expected = first_available
        self.partial, self.partial_channel = [], None
        self.known_last = max(self.known_last, first_available - 1)
        return self._drain()

    def _drain(self) -> list[Delivery]:
        out = []
        while self.expected is not None and self.expected in self.buffer:
            item = self.buffer.pop(self.expected)
            self.expected += 1
            delivery = self._assemble(item)
            if delivery is not None:
                out.append(delivery)
        return out

    def _assemble(self, item: Sent) -> Delivery | None:
        if item.dst not in (BROADCAST, self.local):
            return None
        data = item.data
        if data.index == 0:
            self.partial = []  # a new message starts; anything pending was torn
        elif not self.partial or self.partial_channel != data.channel:
            self.partial, self.partial_channel = [], None  # joined mid-message: drop it
            if not data.more:
                self.torn += 1
            return None
        self.partial.append(data.chunk)
        self.partial_channel = data.channel
        if data.more:
            return None
        payload = b"".join(self.partial)
        self.partial, self.partial_channel = [], None
        return Delivery(data.channel, payload, item.dst == BROADCAST)

    def gap(self) -> tuple[int, int] | None:
        """The first..last mseqs we are missing, if any."""
        if self.expected is None:
            return None
        last = min(self.buffer) - 1 if self.buffer else self.known_last
        if last < self.expected:
            return None
        return (self.expected, last)
