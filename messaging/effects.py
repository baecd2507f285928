"""Effects: what a pure core asks its shell to do, and the timer event that comes back.

A core's `handle(event) -> list[Effect]` never performs I/O; `messaging.runtime.Runner`
performs these common effects for every daemon (and the simulator performs the same ones).
Timers are requested by key with an absolute monotonic deadline; re-arming a key replaces
the old deadline, and the runner answers with `TimerFired(key, now)`.

Destinations are typed, never strings that may mean a node, everyone or a client:
`Node(name)`, `ALL_NODES` (every node of the cluster, this one included), `Client(token)`
(a local client connection; the token is opaque to cores and is minted by the IPC server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Node:
    """One cluster node, by name."""

    name: str


@dataclass(frozen=True, slots=True)
class AllNodes:
    """Every node of the cluster (a broadcast), this node included."""


ALL_NODES = AllNodes()


@dataclass(frozen=True, slots=True)
class Client:
    """A local client of this daemon: the token its request arrived with (opaque)."""

    token: str


Destination = Node | AllNodes | Client


@dataclass(frozen=True, slots=True)
class Send:
    """Send `message` to `destination` (a node, all nodes, or a local client)."""

    destination: Destination
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
class Persist:
    """Store `data` under `name` in the daemon's state (atomically replacing older data)."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Log:
    """A structured log event a core wants recorded (event name in snake_case plus fields)."""

    event: str
    level: str = "info"
    fields: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The event a shell feeds back when an armed timer expires (`wall`: epoch seconds at
    that moment, for cores that stamp results; not part of the timer's identity)."""

    key: str
    now: float
    wall: float | None = field(default=None, compare=False)


Effect = Send | Publish | ArmTimer | CancelTimer | Persist | Log
