"""The events a fencer core (`stonithd.core.Fencer`) is fed besides timers and agent results.

Plain frozen records: every one carries the shell's monotonic `now`; `wall` (epoch seconds
at that `now`) is always given for requests and peer messages, optionally for the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stonithd.devices import FencingConfig

__all__ = ["ClientRequest", "ConfigChanged", "PeerMessage", "PeersChanged"]


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """Event: a local client (opaque token `client`) sent `message`."""

    client: str
    message: Any
    now: float
    wall: float


@dataclass(frozen=True, slots=True)
class PeerMessage:
    """Event: fencer `sender` (possibly this node) sent `message`."""

    sender: str
    message: Any
    now: float
    wall: float


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """Event: a new fencing configuration (and what each agent's metadata offers)."""

    config: FencingConfig
    agent_actions: dict[str, frozenset[str]]
    now: float
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class PeersChanged:
    """Event: the fencers that take part in queries (this node is always added)."""

    peers: tuple[str, ...]
    now: float
    wall: float | None = None
