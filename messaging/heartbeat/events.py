"""Events fed to the heartbeat core and the effects it returns (beyond messaging.effects).

The core's input is `Started`, `PacketReceived`, `SendRequest`, `KeysReloaded`, `Stopping` and
`messaging.effects.TimerFired`; its output is `SendDatagram`, `ArmTimer`, `Publish` and `Log`.
Every event carries `now` (monotonic seconds); the core never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from messaging.auth import KeyRing
from messaging.effects import ArmTimer, CancelTimer, Log, Persist, Publish, TimerFired

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Started:
    """The shell is ready: sockets bound. The core sends its first heartbeat (`wall`: epoch
    seconds then, to join the cluster's keepalive grid; unknown when absent)."""

    now: float
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class Stopping:
    """Clean shutdown: the core tells peers it is leaving."""

    now: float


@dataclass(frozen=True, slots=True)
class PacketReceived:
    """A datagram arrived on `link` from `addr`."""

    link: str
    data: bytes
    addr: Address
    now: float


@dataclass(frozen=True, slots=True)
class SendRequest:
    """An upper layer asks to send `payload` on `channel` to node `dst` or everyone ("*")."""

    dst: str
    channel: str
    payload: bytes
    now: float


@dataclass(frozen=True, slots=True)
class KeysReloaded:
    """authkeys was re-read (SIGHUP): sign with the new active key, accept the new list."""

    keys: KeyRing
    now: float


@dataclass(frozen=True, slots=True)
class SendDatagram:
    """Send `data` on `link`: to `dest`, or to the link's usual destinations when None."""

    link: str
    dest: Address | None
    data: bytes


Event = Started | Stopping | PacketReceived | SendRequest | KeysReloaded | TimerFired
Effect = SendDatagram | ArmTimer | CancelTimer | Publish | Persist | Log

__all__ = [
    "Address",
    "ArmTimer",
    "CancelTimer",
    "Effect",
    "Event",
    "KeysReloaded",
    "Log",
    "PacketReceived",
    "Persist",
    "Publish",
    "SendDatagram",
    "SendRequest",
    "Started",
    "Stopping",
    "TimerFired",
]
