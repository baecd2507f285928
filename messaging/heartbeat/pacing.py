"""When the heartbeat daemon may leave its link sockets unread for a moment (pure).

At 16 nodes and a 200 ms keepalive a node receives 75 keepalives a second, each one a
process wake-up of its own: most of an idle node's CPU, and on a loaded host each wake-up
costs far more than the work it does (a cold cache). When the datagrams come that densely
and nothing is going on, the daemon reads what queued every `snooze` seconds instead of
waking for each one. Silence is never judged on a snooze: the liveness check reads the
sockets first, and every datagram carries the kernel's arrival time (SO_TIMESTAMPNS), so a
peer counts as heard when its packet arrived, not when it was read.

Invariants (times are the caller's monotonic seconds, passed in):
- no snooze unless the last full second brought at least `dense_rate` datagrams (below
  that a snooze would save no wake-up: the timer that ends it is one);
- no snooze within `awake_after_send` of this node sending something of its own (an
  answer is likely on its way) nor within `awake_after_change` of a change of any node's
  status (a membership round and the controller's recovery follow a death or a join, and
  must not wait for a snooze at any hop);
- a snooze ends at most `snooze` seconds after it started.
"""

from __future__ import annotations

from dataclasses import dataclass

SNOOZE = 0.04
RATE_WINDOW = 1.0


@dataclass
class ReadPacing:
    """Decides, after each read of the sockets, whether to read again at once or later."""

    snooze: float = SNOOZE
    dense_rate: float = 2 / SNOOZE  # datagrams/s: two or more per snooze on average
    awake_after_send: float = 0.3
    awake_after_change: float = 10.0
    awake_until: float = 0.0
    rate: float = 0.0  # datagrams/s over the last full window
    _window_start: float | None = None
    _window_count: int = 0

    def read(self, count: int, now: float) -> float | None:
        """`count` datagrams were just read at `now`: when to read next (the end of a
        snooze), or None to read each datagram as it comes."""
        if self._window_start is None:
            self._window_start = now
        elif now - self._window_start >= RATE_WINDOW:
            self.rate = self._window_count / (now - self._window_start)
            self._window_start, self._window_count = now, 0
        self._window_count += count
        if now < self.awake_until or self.rate < self.dense_rate:
            return None
        return now + self.snooze

    def sent(self, now: float) -> None:
        """This node sent a message of its own (or asked for a retransmission)."""
        self.awake_until = max(self.awake_until, now + self.awake_after_send)

    def status_changed(self, now: float) -> None:
        """Some node's status changed (a death, a join, a link)."""
        self.awake_until = max(self.awake_until, now + self.awake_after_change)
