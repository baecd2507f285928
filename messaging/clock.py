"""Time for hacluster: a Clock protocol, the real monotonic clock and a FakeClock for tests.

Pure cores never read a clock: every event carries `now`. Only service shells (and tests
driving cores) hold a Clock. Times are float seconds.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time in seconds."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class MonotonicClock:
    """The real clock: `time.monotonic` for intervals, `time.time` for timestamps."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class FakeClock:
    """A clock that moves only when told to; wall time is a fixed offset from monotonic."""

    def __init__(self, start: float = 0.0, wall_offset: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_offset

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def step_wall(self, seconds: float) -> float:
        """The wall clock is set (an administrator, NTP stepping it), by `seconds` either
        way; monotonic time does not move. Returns the new wall time."""
        self._wall_offset += seconds
        return self.wall()

    def advance(self, seconds: float) -> float:
        """Move time forward and return the new monotonic time."""
        if seconds < 0:
            raise ValueError("a FakeClock never goes backwards")
        self._now += seconds
        return self._now
