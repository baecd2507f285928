"""Messages the ccm cores of different nodes exchange (channel "ccm"), and their wire form.

Every node gossips `Reach` (its reachability report and every other report it knows, so
reports cross non-transitive links) to all nodes. A membership round: the coordinator sends
`Propose`; each addressed node answers `Ack` or `Nack`; when every addressed node acked,
the coordinator sends `Commit` and everyone named in it installs the view. Any node whose
installed view disagrees with its computed membership sends `Nudge` to its coordinator.
Proposals, nacks and nudges carry the sender's reports, so each exchange also spreads what
the sender knows. Wire form: a plain dict with a version and a type tag (msgpack-able,
never pickle); unknown types or malformed fields raise `RemoteProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from messaging.errors import RemoteProtocolError

WIRE_VERSION = 1
CHANNEL = "ccm"


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


@dataclass(frozen=True, slots=True)
class Ack:
    """Member -> coordinator: I agree with the proposal (view_id, round)."""

    view_id: int
    round: int


@dataclass(frozen=True, slots=True)
class Nack:
    """Member -> coordinator: I disagree; here is what I reach and the highest view id I saw."""

    view_id: int
    round: int
    reachable: tuple[str, ...]
    max_view_id: int
    reports: Reports = ()


@dataclass(frozen=True, slots=True)
class Commit:
    """Coordinator -> members (and excluded nodes): view `view_id` is agreed."""

    coordinator: str
    view_id: int
    members: tuple[str, ...]
    round: int


@dataclass(frozen=True, slots=True)
class Nudge:
    """Member -> coordinator: my view does not match what I reach; please run a round."""

    view_id: int
    reachable: tuple[str, ...]
    max_view_id: int
    reports: Reports = ()


PeerMessage = Reach | Propose | Ack | Nack | Commit | Nudge

_TYPES: dict[str, type[Any]] = {
    "reach": Reach,
    "propose": Propose,
    "ack": Ack,
    "nack": Nack,
    "commit": Commit,
    "nudge": Nudge,
}
_TAGS = {cls: tag for tag, cls in _TYPES.items()}
_TUPLE_FIELDS = {"members", "reachable"}


def to_wire(message: PeerMessage) -> dict[str, Any]:
    """The msgpack-able form of `message`."""
    body: dict[str, Any] = {}
    for name in message.__slots__:
        value = getattr(message, name)
        if name == "reports":
            body[name] = [[r.node, r.incarnation, r.counter, r.view_id, list(r.reach)]
                          for r in value]
        else:
            body[name] = list(value) if isinstance(value, tuple) else value
    return {"v": WIRE_VERSION, "t": _TAGS[type(message)], "b": body}


def from_wire(data: Any) -> PeerMessage:
    """Parse the wire form; anything malformed raises `RemoteProtocolError`."""
    if not isinstance(data, dict) or data.get("v") != WIRE_VERSION:
        raise RemoteProtocolError(f"ccm message with unsupported version: {data!r:.80}")
    cls = _TYPES.get(data.get("t"))  # type: ignore[arg-type]
    body = data.get("b")
    if cls is None or not isinstance(body, dict):
        raise RemoteProtocolError(f"unknown ccm message type {data.get('t')!r}")
    fields: dict[str, Any] = {}
    for name in cls.__slots__:
        if name not in body:
            raise RemoteProtocolError(f"ccm {data['t']} message lacks field {name!r}")
        fields[name] = _check_field(data["t"], name, body[name])
    return cls(**fields)  # type: ignore[no-any-return]


def _check_field(tag: str, name: str, value: Any) -> Any:
    if name == "reports":
        if not isinstance(value, list | tuple):
            raise RemoteProtocolError(f"ccm {tag} field 'reports' is not a list")
        return tuple(_report(tag, item) for item in value)
    if name in _TUPLE_FIELDS:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise RemoteProtocolError(f"ccm {tag} field {name!r} is not a list of node names")
        return tuple(value)
    if name == "coordinator":
        if not isinstance(value, str):
            raise RemoteProtocolError(f"ccm {tag} field {name!r} is not a node name")
        return value
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RemoteProtocolError(f"ccm {tag} field {name!r} is not a non-negative integer")
    return value


def _report(tag: str, item: Any) -> Report:
    if not isinstance(item, list | tuple) or len(item) != 5:
        raise RemoteProtocolError(f"ccm {tag} report is not [node, inc, counter, view, reach]")
    node, incarnation, counter, view_id, reach = item
    _check_field(tag, "coordinator", node)
    for number in (incarnation, counter, view_id):
        _check_field(tag, "counter", number)
    return Report(node, incarnation, counter, view_id, _check_field(tag, "members", reach))
