"""crmd's CIB writes in flight: several at once, applied in the order the controller asked.

The controller's writes to its node's cib are numbered (`write` -> sequence number) and
leave in that order; up to `window` are outstanding at once, so a transition's results do
not wait for each other's replicated round trip (Pacemaker's controller issues its CIB
updates asynchronously, `cib_conn->cmds->modify` with a callback, never one at a time).
A run of queued status modifications is sent as one request (`merged_status`), as
Pacemaker's controller batches its status updates.

The cib daemon takes one client's requests in the order they arrive and applies them in
that order on the master; what can reorder them is a resend: a write answered "outcome
unknown" (`resend_refused`: the view or the master changed) or not answered at all (the
cib restarting) must go again, and later writes may already have been applied. So a
resend never goes alone: once every outstanding request is answered, the refused one and
every one sent after it are sent again, in order (each controller write is idempotent:
merges of absolute values, deletes by xpath), so the last application of every write is
in sequence order. A write still refused `retry_for` seconds after it was first sent is
given up (`Lost`), as is one refused for good (`Dropped`: bad XML, schema; it would fail
again).

Invariants: pure (time in the calls, no I/O); requests leave in sequence order, and after a
rewind the resent ones in sequence order again; a write completes (`completed_through`)
only after every earlier one did; a barrier (`barrier`) is released once every write asked
for before it completed; at most `window` requests are outstanding.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from cib.api import WireRequest
from crmd.cib_events import merged_status

MERGE_AT_MOST = 64
WINDOW = 8  # requests outstanding at once
RETRY_FOR_S = 30.0  # a write refused (outcome unknown) or unanswered this long is given up


class Outcome(enum.Enum):
    DONE = "done"  # answered with exit 0
    DROPPED = "dropped"  # refused with a code a resend would meet again
    RESEND = "resend"  # outcome unknown (the view or master changed): send again
    UNANSWERED = "unanswered"  # the cib did not answer (restarting): send again later


@dataclass(slots=True)
class _Request:
    seqs: list[int]
    send_id: int
    first_sent: float
    outcome: Outcome | None = None


@dataclass(frozen=True, slots=True)
class Send:
    """Send `request` now; answer with `answered(send_id, ...)`."""

    send_id: int
    request: WireRequest
    seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    """What an answer settled: writes given up, barriers released, whether to rewind."""

    lost: tuple[tuple[int, WireRequest], ...] = ()
    released: tuple[object, ...] = ()
    rewind_after_delay: bool = False  # the rewind waits a retry interval (cib restarting)


@dataclass(slots=True)
class WritePipeline:
    window: int = WINDOW
    retry_for: float = RETRY_FOR_S
    writes: dict[int, WireRequest] = field(default_factory=dict)  # not yet completed
    queue: deque[int] = field(default_factory=deque)  # sequence numbers not sent
    outstanding: list[_Request] = field(default_factory=list)
    first_sent: dict[int, float] = field(default_factory=dict)
    barriers: list[tuple[int, object]] = field(default_factory=list)
    last_seq: int = 0
    completed_through: int = 0
    rewinding: bool = False
    _send_ids: int = 0

    def write(self, request: WireRequest) -> int:
        """Queue a write; its sequence number."""
        self.last_seq += 1
        self.writes[self.last_seq] = request
        self.queue.append(self.last_seq)
        return self.last_seq

    def barrier(self, token: object) -> tuple[object, ...]:
        """Release `token` once every write queued so far completed (now, if they did)."""
        if self.completed_through >= self.last_seq:
            return (token,)
        self.barriers.append((self.last_seq, token))
        return ()

    def unanswered(self) -> list[WireRequest]:
        """The writes not completed yet, in sequence order (queued, outstanding or lost
        in a rewind)."""
        return [self.writes[seq] for seq in sorted(self.writes)]

    def sendable(self, now: float) -> list[Send]:
        """The requests to send now, in order (none while a rewind waits for answers)."""
        sends: list[Send] = []
        while not self.rewinding and self.queue and len(self.outstanding) < self.window:
            seqs = [self.queue.popleft()]
            while self.queue and len(seqs) < MERGE_AT_MOST and merged_status(
                    [self.writes[seqs[0]], self.writes[self.queue[0]]]) is not None:
                seqs.append(self.queue.popleft())
            request = merged_status([self.writes[s] for s in seqs]) or self.writes[seqs[0]]
            self._send_ids += 1
            first = min(self.first_sent.setdefault(s, now) for s in seqs)
            self.outstanding.append(_Request(seqs, self._send_ids, first))
            sends.append(Send(self._send_ids, request, tuple(seqs)))
        return sends

    def answered(self, send_id: int, outcome: Outcome, now: float) -> Finished:
        """The cib answered request `send_id` (or failed to). Completes what can complete
        in order; when a resend is due and every outstanding request is answered, puts
        the refused request and every later one back at the head of the queue."""
        found = next((r for r in self.outstanding if r.send_id == send_id), None)
        if found is None:
            return Finished()  # an answer to a request a rewind already replaced
        found.outcome = outcome
        lost: list[tuple[int, WireRequest]] = []
        released: list[object] = []
        while self.outstanding and self.outstanding[0].outcome is not None:
            head = self.outstanding[0]
            if head.outcome in (Outcome.RESEND, Outcome.UNANSWERED):
                if now <= head.first_sent + self.retry_for:
                    break
                lost += [(s, self.writes[s]) for s in head.seqs]  # given up: complete it
            self.outstanding.pop(0)
            released += self._complete(head.seqs)
        delayed = self._rewind_if_answered()
        return Finished(tuple(lost), tuple(released), delayed)

    def _rewind_if_answered(self) -> bool:
        """A refused head request waits for every outstanding answer, then it and all
        later ones go back to the queue (in order, before what was never sent)."""
        if not self.outstanding or self.outstanding[0].outcome is None:
            return False
        self.rewinding = True
        if any(r.outcome is None for r in self.outstanding):
            return False
        delayed = any(r.outcome is Outcome.UNANSWERED for r in self.outstanding)
        for request in reversed(self.outstanding):
            self.queue.extendleft(reversed(request.seqs))
        self.outstanding.clear()
        if not delayed:
            self.rewinding = False
        return delayed

    def resume(self) -> None:
        """The retry interval after an unanswered request is over: send again."""
        self.rewinding = False

    def _complete(self, seqs: list[int]) -> list[object]:
        for seq in seqs:
            self.writes.pop(seq, None)
            self.first_sent.pop(seq, None)
        self.completed_through = max(self.completed_through, *seqs)
        due = [token for seq, token in self.barriers if seq <= self.completed_through]
        self.barriers = [(seq, token) for seq, token in self.barriers
                         if seq > self.completed_through]
        return due


__all__ = ["RETRY_FOR_S", "WINDOW", "Finished", "Outcome", "Send", "WritePipeline"]
