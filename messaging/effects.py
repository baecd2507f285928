"""Effects: what a pure core asks its shell to do, and the timer event that comes back.

A core's `handle(event) -> list[Effect]` never performs I/O; the shell performs these.
Timers are requested by key with an absolute monotonic deadline; re-arming a key replaces
the old deadline, and the shell answers with `TimerFired(key, now)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Send:
    """Send `message` to one destination (a node name, a daemon address, '*' for everyone)."""

    destination: str
    message: Any


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish `event` to local subscribers of `topic`."""

    topic: str
    event: Any


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """Ask for `TimerFired(key, ...)` at monotonic time `deadline` (replaces a same-key timer)."""

    key: str
    deadline: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget the timer `key`, if any."""

    key: str


@dataclass(frozen=True, slots=True)
class Log:
    """A structured log event a core wants recorded (event name in snake_case plus fields)."""

    event: str
    level: str = "info"
    fields: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The event a shell feeds back when an armed timer expires."""

    key: str
    now: float


Effect = Send | Publish | ArmTimer | CancelTimer | Log
