"""ccm's local API contract: the membership events it publishes, the query it answers, a
client. It lives in messaging because the daemons are independent packages (stonithd and
crmd follow membership without importing ccm); `ccm.api` re-exports all of it.

Sockets (one node, inside its state directory), `messaging.envelope` frames:
- ``ipc://<state_dir>/ccm.pub`` (`messaging.ipc.Publisher`, topic `MEMBERSHIP_TOPIC`): one
  `MembershipChanged` per new view (and per quorum change), repeated every 2 s so a late
  subscriber learns the current view quickly.
- ``ipc://<state_dir>/ccm.ctl`` (`messaging.ipc.Server`): `QueryMembership` ->
  `MembershipStatus`, plus the built-in Ping.

Field order of every dataclass here is part of the wire contract: only append fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messaging.envelope import protocol
from messaging.errors import PeerUnreachable, RemoteProtocolError

API = protocol("ccm")
CTL_SOCKET = "ccm.ctl"
PUB_SOCKET = "ccm.pub"
MEMBERSHIP_TOPIC = "ccm.membership"


def ctl_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / CTL_SOCKET}"


def pub_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / PUB_SOCKET}"


@API.register("membership_changed")
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


@API.register("query_membership")
@dataclass(frozen=True, slots=True)
class QueryMembership:
    """Ask the local ccm for its view, quorum and what heartbeat says about each node."""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One configured or seen node: heartbeat state (up|late|dead|unknown) and its links."""

    name: str
    state: str
    links: tuple[tuple[str, str], ...] = ()


@API.register("membership_status")
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


class CcmClient:
    """Typed blocking client of one node's ccm (query and subscribe)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)

    def query(self, timeout: float = 2.0) -> MembershipStatus:
        """Ask for the current status; raises `PeerUnreachable`/`PeerTimeout`."""
        from messaging.client import Client

        if not (self.state_dir / CTL_SOCKET).exists():
            raise PeerUnreachable(f"ccm is not running (no socket in {self.state_dir})")
        with Client(ctl_address(self.state_dir), API, timeout=timeout) as client:
            reply = client.request(QueryMembership())
        if not isinstance(reply, MembershipStatus):
            raise RemoteProtocolError(f"ccm answered a query with {type(reply).__name__}")
        return reply

    def subscribe(self, timeout: float | None = None) -> Iterator[MembershipChanged]:
        """Yield published changes; stops after `timeout` seconds without one (None: never)."""
        from messaging.client import Subscriber

        subscriber = Subscriber(pub_address(self.state_dir), API, (MEMBERSHIP_TOPIC,))
        try:
            while (event := subscriber.recv(timeout)) is not None:
                if isinstance(event, MembershipChanged):
                    yield event
        finally:
            subscriber.close()


class AsyncCcmClient:
    """asyncio client of one node's ccm, for daemons that follow membership."""

    def __init__(self, state_dir: str | Path, timeout: float = 2.0) -> None:
        from messaging.client import AsyncClient

        self.state_dir = Path(state_dir)
        self._client = AsyncClient(ctl_address(self.state_dir), API, timeout=timeout)

    async def query(self) -> MembershipStatus:
        reply = await self._client.request(QueryMembership())
        if not isinstance(reply, MembershipStatus):
            raise RemoteProtocolError(f"ccm answered a query with {type(reply).__name__}")
        return reply

    def subscribe(self) -> Any:
        """A `messaging.client.AsyncSubscriber` of membership changes."""
        from messaging.client import AsyncSubscriber

        return AsyncSubscriber(pub_address(self.state_dir), API, (MEMBERSHIP_TOPIC,))

    def close(self) -> None:
        self._client.close()


__all__ = ["API", "MEMBERSHIP_TOPIC", "AsyncCcmClient", "CcmClient", "MembershipChanged",
           "MembershipStatus", "NodeInfo", "QueryMembership", "ctl_address", "pub_address"]
