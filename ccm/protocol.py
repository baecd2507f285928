"""Messages the ccm cores of different nodes exchange (channel "ccm"), and their wire form.

Every node gossips `Reach` (its reachability report and every other report it knows, so
reports cross non-transitive links) to all nodes. A membership round: the coordinator sends
`Propose`; each addressed node answers `Ack` or `Nack`; when every addressed node acked,
the coordinator sends `Commit` and everyone named in it installs the view. Any node whose
installed view disagrees with its computed membership sends `Nudge` to its coordinator.
Proposals, nacks and nudges carry the sender's reports, so each exchange also spreads what
the sender knows. Wire form: a `messaging.envelope` event frame (tags of `PEER`), carried
in a heartbeat payload on channel "ccm"; unknown types, malformed or negative fields raise
`RemoteProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from messaging.envelope import Kind, decode, encode, protocol
from messaging.errors import RemoteProtocolError

CHANNEL = "ccm"


def _counts(message: Any, *names: str) -> None:
    """Counters, ids and rounds are never negative: a peer's garbage, not a message."""
    for name in names:
        if getattr(message, name) < 0:
            raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True, slots=True)
class Report:
    """What `node` (incarnation, counter) said it hears, and its installed view id."""

    node: str
    incarnation: int
    counter: int
    view_id: int
    reach: tuple[str, ...]

    @property
    def version(self) -> tuple[int, int]:
        return (self.incarnation, self.counter)

    def __post_init__(self) -> None:
        _counts(self, "incarnation", "counter", "view_id")


Reports = tuple[Report, ...]


@dataclass(frozen=True, slots=True)
class Reach:
    """Gossip: the reports the sender knows (its own first)."""

    reports: Reports


@dataclass(frozen=True, slots=True)
class Propose:
    """Coordinator -> members: please agree on view `view_id` with exactly `members`."""

    coordinator: str
    view_id: int
    members: tuple[str, ...]
    round: int
    reports: Reports = ()

    def __post_init__(self) -> None:
        _counts(self, "view_id", "round")


@dataclass(frozen=True, slots=True)
class Ack:
    """Member -> coordinator: I agree with the proposal (view_id, round)."""

    view_id: int
    round: int

    def __post_init__(self) -> None:
        _counts(self, "view_id", "round")


@dataclass(frozen=True, slots=True)
class Nack:
    """Member -> coordinator: I disagree; here is what I reach and the highest view id I saw."""

    view_id: int
    round: int
    reachable: tuple[str, ...]
    max_view_id: int
    reports: Reports = ()

    def __post_init__(self) -> None:
        _counts(self, "view_id", "round", "max_view_id")


@dataclass(frozen=True, slots=True)
class Commit:
    """Coordinator -> members (and excluded nodes): view `view_id` is agreed."""

    coordinator: str
    view_id: int
    members: tuple[str, ...]
    round: int

    def __post_init__(self) -> None:
        _counts(self, "view_id", "round")


@dataclass(frozen=True, slots=True)
class Nudge:
    """Member -> coordinator: my view does not match what I reach; please run a round."""

    view_id: int
    reachable: tuple[str, ...]
    max_view_id: int
    reports: Reports = ()

    def __post_init__(self) -> None:
        _counts(self, "view_id", "max_view_id")


PeerMessage = Reach | Propose | Ack | Nack | Commit | Nudge

PEER_TYPES = (Reach, Propose, Ack, Nack, Commit, Nudge)
PEER = protocol("ccm-peer")
for _tag, _cls in (("reach", Reach), ("propose", Propose), ("ack", Ack), ("nack", Nack),
                   ("commit", Commit), ("nudge", Nudge)):
    PEER.register(_tag)(_cls)


def to_wire(message: PeerMessage) -> bytes:
    """The bytes of `message` (an event envelope, carried in a heartbeat payload)."""
    return encode(PEER, Kind.EVENT, 0, message)


def from_wire(data: Any) -> PeerMessage:
    """Parse `to_wire` bytes; anything malformed raises `RemoteProtocolError`."""
    if not isinstance(data, bytes):
        raise RemoteProtocolError(f"ccm message is not bytes: {type(data).__name__}")
    envelope = decode(PEER, data)
    message = envelope.message
    if envelope.kind is not Kind.EVENT or not isinstance(message, PEER_TYPES):
        raise RemoteProtocolError(f"not a ccm peer message: {type(message).__name__}")
    return message

