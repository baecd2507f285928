"""The values ccm's membership core (`ccm.core`) takes and gives: its input events and the
agreed view it installs. Plain frozen data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass

from messaging.effects import TimerFired

from .protocol import PeerMessage


@dataclass(frozen=True, slots=True)
class View:
    """An agreed membership: id, sorted member names and the coordinator that committed it."""

    view_id: int
    members: tuple[str, ...]
    coordinator: str


NO_VIEW = View(0, (), "")


@dataclass(frozen=True, slots=True)
class PeerStatusChanged:
    """The heartbeat layer now hears `node` (up or late) or not (dead)."""

    node: str
    up: bool
    now: float


@dataclass(frozen=True, slots=True)
class PeerMessageReceived:
    """A ccm protocol message from the core on node `src`."""

    src: str
    message: PeerMessage
    now: float


@dataclass(frozen=True, slots=True)
class ViewInstalled:
    """Published when this node installs a new agreed view."""

    view: View
    now: float


Event = PeerStatusChanged | PeerMessageReceived | TimerFired
