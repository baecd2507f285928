"""Messages of ccm's local API (published events, queries, answers) and their wire form.

Sockets (one node, inside its state directory):
- ``ipc://<state_dir>/ccm.pub`` (zmq PUB): one msgpack frame per `MembershipChanged`,
  published on every new view (and every quorum change), plus the current one to late
  subscribers within a second (the service republishes periodically).
- ``ipc://<state_dir>/ccm.ctl`` (zmq REP): request `QueryMembership` -> `MembershipStatus`.

Wire form: ``{"v": 1, "t": <tag>, "b": {fields}}`` in msgpack; unknown tags or missing
fields raise `RemoteProtocolError`. Other packages reach these through `ccm.api`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from messaging.errors import RemoteProtocolError

WIRE_VERSION = 1


@dataclass(frozen=True, slots=True)
class MembershipChanged:
    """A new agreed view (or a new quorum verdict for the same view)."""

    view_id: int
    members: tuple[str, ...]
    coordinator: str
    quorate: bool
    expected_votes: int
    total_votes: int
    quorum: int


@dataclass(frozen=True, slots=True)
class QueryMembership:
    """Ask the local ccm for its view, quorum and what heartbeat says about each node."""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One configured or seen node: heartbeat state (up|late|dead|unknown) and its links."""

    name: str
    state: str
    links: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MembershipStatus:
    """Answer to `QueryMembership`."""

    node: str
    view_id: int
    members: tuple[str, ...]
    coordinator: str
    quorate: bool
    expected_votes: int
    total_votes: int
    quorum: int
    nodes: tuple[NodeInfo, ...]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape printed by `hacluster membership --json`."""
        return {
            "node": self.node,
            "view_id": self.view_id,
            "members": list(self.members),
            "coordinator": self.coordinator,
            "quorate": self.quorate,
            "expected_votes": self.expected_votes,
            "total_votes": self.total_votes,
            "quorum": self.quorum,
            "nodes": {n.name: {"state": n.state, "links": dict(n.links)} for n in self.nodes},
        }


def encode(message: MembershipChanged | QueryMembership | MembershipStatus) -> bytes:
    """msgpack bytes of a ccm API message."""
    tag = _TAGS[type(message)]
    body: dict[str, Any] = {}
    if isinstance(message, MembershipStatus):
        body = message.to_json()
    elif isinstance(message, MembershipChanged):
        body = {name: getattr(message, name) for name in message.__slots__}
        body["members"] = list(message.members)
    return msgpack.packb({"v": WIRE_VERSION, "t": tag, "b": body})  # type: ignore[no-any-return]


def decode(data: bytes) -> MembershipChanged | QueryMembership | MembershipStatus:
    """Parse bytes from `encode`; anything else raises `RemoteProtocolError`."""
    try:
        raw = msgpack.unpackb(data)
        if raw.get("v") != WIRE_VERSION:
            raise RemoteProtocolError(f"ccm api message version {raw.get('v')!r} unsupported")
        tag, body = raw["t"], raw["b"]
        if tag == "query":
            return QueryMembership()
        if tag == "changed":
            return MembershipChanged(**{**body, "members": tuple(body["members"])})
        if tag == "status":
            return _status_from(body)
    except (ValueError, KeyError, TypeError, AttributeError, msgpack.UnpackException) as error:
        raise RemoteProtocolError(f"malformed ccm api message: {error}") from None
    raise RemoteProtocolError(f"unknown ccm api message type {tag!r}")


def _status_from(body: dict[str, Any]) -> MembershipStatus:
    nodes = tuple(
        NodeInfo(name, info["state"], tuple(sorted(info["links"].items())))
        for name, info in sorted(body["nodes"].items())
    )
    return MembershipStatus(
        node=body["node"],
        view_id=body["view_id"],
        members=tuple(body["members"]),
        coordinator=body["coordinator"],
        quorate=body["quorate"],
        expected_votes=body["expected_votes"],
        total_votes=body["total_votes"],
        quorum=body["quorum"],
        nodes=nodes,
    )


_TAGS: dict[type, str] = {
    MembershipChanged: "changed",
    QueryMembership: "query",
    MembershipStatus: "status",
}


