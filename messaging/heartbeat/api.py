"""The heartbeat daemon's public contract: IPC messages, endpoints and a typed client.

Other daemons of the same node (ccm first) import only this module. The heartbeat
daemon of a node binds, inside the node's state directory:

- ``ipc://<state_dir>/heartbeat.pub`` (`messaging.ipc.Publisher`): topic
  ``status``, ``message/<channel>`` or ``table`` and an event envelope. Events:
  `NodeStatusChanged`, `MessageReceived` and, every few seconds and after each status
  change, a full `NodeTable`.
- ``ipc://<state_dir>/heartbeat.ctl`` (`messaging.ipc.Server`). Requests `SendMessage` ->
  `Ack` (a refused send -- unknown node, bad channel, too large -- is a ValidationError
  reply; sent as a notice, `AsyncHeartbeatClient.post_message`, nothing is answered and a
  refusal is only logged), `QueryNodes` -> `NodeTable`, `QueryCounters` -> `Counters`, and
  the built-in Ping. Frames are `messaging.envelope` envelopes (docs/wire-format.md).

Semantics the contract promises:
- status is "up" | "late" | "dead" (`NodeState`); a node is up while ANY link hears it;
  "late" after warntime of silence (still a member), "dead" after deadtime. Nodes listed in
  ha.cf never heard from are reported "dead" (generation 0) in tables; a NodeStatusChanged
  "dead" is published for them once initdead expires. The local node is always "up".
- generation increases on every restart of a node's heartbeat; a node seen again with a
  higher generation (restart) is published again as "up" with the new generation even if
  it never went dead, so watchers can detect a quick restart.
- MessageReceived is delivered reliably, in order, exactly once per (src, generation),
  for both broadcasts (dst "*") and messages addressed to this node; our own broadcasts
  are delivered back to us too (like Heartbeat), with src = local node. Reliably from
  where: a generation that follows one this heartbeat heard, from its first message; any
  other (a node first heard, or one both sides restarted since: a cold boot), from the
  first message heard of it, as in Heartbeat: what a node sent before we heard it is not
  delivered (the upper layers' own protocols ask again: ccm's join, crmd's join offers).
- Field order of every dataclass here is part of the wire contract: only append fields
  (with defaults), never reorder or remove.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from messaging.effects import AllNodes, Node
from messaging.envelope import Ping, Pong, protocol
from messaging.errors import RemoteProtocolError

__all__ = [
    "BROADCAST", "IPC", "TOPIC_MESSAGE", "TOPIC_STATUS", "TOPIC_TABLE", "Ack",
    "AsyncHeartbeatClient", "Counters", "HeartbeatClient", "HeartbeatEvent", "LinkState",
    "MessageReceived", "NodeInfo", "NodeState", "NodeStatusChanged", "NodeTable",
    "QueryCounters", "QueryNodes", "SendMessage", "ctl_endpoint", "message_topic",
    "pub_endpoint", "topic_of",
]

IPC = protocol("heartbeat")
BROADCAST = "*"
PUB_NAME = "heartbeat.pub"
CTL_NAME = "heartbeat.ctl"

TOPIC_STATUS = b"status"
TOPIC_MESSAGE = b"message"


def message_topic(channel: str) -> bytes:
    """The PUB topic of messages on one channel: ``message/<channel>``. zmq matches topic
    prefixes, so a subscriber of `TOPIC_MESSAGE` still gets every channel while a daemon
    that subscribes to its own channel's topic never decodes anybody else's traffic."""
    return TOPIC_MESSAGE + b"/" + channel.encode()
TOPIC_TABLE = b"table"


class NodeState(enum.StrEnum):
    """A node's liveness as heartbeat sees it."""

    UP = "up"
    LATE = "late"
    DEAD = "dead"


class LinkState(enum.StrEnum):
    """Whether one link (one ha.cf medium line) currently hears a node."""

    UP = "up"
    DEAD = "dead"


def pub_endpoint(state_dir: str | Path) -> str:
    """The zmq endpoint of a node's heartbeat event stream."""
    return f"ipc://{Path(state_dir) / PUB_NAME}"


def ctl_endpoint(state_dir: str | Path) -> str:
    """The zmq endpoint of a node's heartbeat control socket."""
    return f"ipc://{Path(state_dir) / CTL_NAME}"


@IPC.register("node_status_changed")
@dataclass(frozen=True, slots=True)
class NodeStatusChanged:
    """A node's status changed (or it restarted: new generation)."""

    node: str
    status: NodeState
    links: Mapping[str, LinkState]
    generation: int
    now: float


@IPC.register("message_received")
@dataclass(frozen=True, slots=True)
class MessageReceived:
    """An upper-layer message from `src` on `channel` (in order, exactly once)."""

    src: str
    channel: str
    payload: bytes
    generation: int = 0
    broadcast: bool = True


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One row of the node table."""

    node: str
    status: NodeState
    links: Mapping[str, LinkState]
    generation: int
    last_heard: float | None  # monotonic seconds on the reporting node; None = never


@IPC.register("node_table")
@dataclass(frozen=True, slots=True)
class NodeTable:
    """Every node heartbeat knows, with per-link status, plus the daemon's counters."""

    local: str
    cluster: str
    nodes: tuple[NodeInfo, ...]
    counters: Mapping[str, int]
    now: float

    def status_of(self, node: str) -> NodeState | None:
        for info in self.nodes:
            if info.node == node:
                return info.status
        return None


@IPC.register("send_message")
@dataclass(frozen=True, slots=True)
class SendMessage:
    """Request: send `payload` on `channel` to node `dst` or to everyone (`"*"`)."""

    dst: str
    channel: str
    payload: bytes


@IPC.register("query_nodes")
@dataclass(frozen=True, slots=True)
class QueryNodes:
    """Request: answer with the current NodeTable."""


@IPC.register("query_counters")
@dataclass(frozen=True, slots=True)
class QueryCounters:
    """Request: answer with Counters."""


@IPC.register("counters")
@dataclass(frozen=True, slots=True)
class Counters:
    """Packet counters: rx/tx totals and rejected packets by reason (``rejected.<reason>``)."""

    counters: Mapping[str, int] = field(default_factory=dict)


@IPC.register("ack")
@dataclass(frozen=True, slots=True)
class Ack:
    """Reply to SendMessage: the core took the message and its datagrams were handed to
    the kernel before this reply (`sendto`; UDP may still drop them, the core resends while
    it lives); refusals are error replies. Once heartbeat broadcast its leaving (it
    stops), nothing more is sent: a message is refused with a `TransportError`."""

    ok: bool = True


HeartbeatEvent = NodeStatusChanged | MessageReceived | NodeTable


def topic_of(event: Any) -> bytes:
    """The PUB topic frame of a heartbeat event."""
    if isinstance(event, NodeStatusChanged):
        return TOPIC_STATUS
    if isinstance(event, MessageReceived):
        return message_topic(event.channel)
    return TOPIC_TABLE


def _wire_destination(destination: Node | AllNodes) -> str:
    return BROADCAST if isinstance(destination, AllNodes) else destination.name


class HeartbeatClient:
    """Blocking client of the local heartbeat daemon (control requests + event stream).

    Example::

        hb = HeartbeatClient("/var/lib/hacluster")
        table = hb.query_nodes()
        hb.send_message(ALL_NODES, "ccm", b"...")
        events = hb.subscribe()          # a messaging.client.Subscriber
        event = events.recv(timeout=1.0) # NodeStatusChanged | MessageReceived | NodeTable | None
    """

    def __init__(self, state_dir: str | Path, *, timeout: float = 5.0) -> None:
        from messaging.client import Client

        self.state_dir = Path(state_dir)
        self._ctl = Client(ctl_endpoint(state_dir), IPC, timeout=timeout)

    def _ask(self, request: object, answer: type[Any]) -> Any:
        reply = self._ctl.request(request)
        if not isinstance(reply, answer):
            raise RemoteProtocolError(f"heartbeat answered {type(reply).__name__}")
        return reply

    def send_message(self, destination: Node | AllNodes, channel: str, payload: bytes) -> Ack:
        """Queue `payload` for one node or all; a refusal raises ValidationError."""
        reply: Ack = self._ask(SendMessage(_wire_destination(destination), channel, payload),
                               Ack)
        return reply

    def query_nodes(self) -> NodeTable:
        table: NodeTable = self._ask(QueryNodes(), NodeTable)
        return table

    def query_counters(self) -> Counters:
        counters: Counters = self._ask(QueryCounters(), Counters)
        return counters

    def ping(self, timeout: float | None = None) -> Any:
        return self._ctl.ping(timeout)

    def subscribe(self, topics: tuple[bytes, ...] = ()) -> Any:
        """A `messaging.client.Subscriber` on the event stream (all topics by default)."""
        from messaging.client import Subscriber

        return Subscriber(pub_endpoint(self.state_dir), IPC, topics)

    def subscribe_async(self, topics: tuple[bytes, ...] = ()) -> Any:
        """A `messaging.client.AsyncSubscriber` on the event stream."""
        from messaging.client import AsyncSubscriber

        return AsyncSubscriber(pub_endpoint(self.state_dir), IPC, topics)

    def close(self) -> None:
        self._ctl.close()


class AsyncHeartbeatClient:
    """asyncio twin of HeartbeatClient for daemons whose service runs an event loop."""

    def __init__(self, state_dir: str | Path, *, timeout: float = 5.0) -> None:
        from messaging.client import AsyncClient

        self.state_dir = Path(state_dir)
        self._ctl = AsyncClient(ctl_endpoint(state_dir), IPC, timeout=timeout)

    async def _ask(self, request: object, answer: type[Any]) -> Any:
        return await self._checked(self._ctl.start_request(request), answer)

    @staticmethod
    async def _checked(reply: Awaitable[Any], answer: type[Any]) -> Any:
        message = await reply
        if not isinstance(message, answer):
            raise RemoteProtocolError(f"heartbeat answered {type(message).__name__}")
        return message

    async def send_message(self, destination: Node | AllNodes, channel: str,
                           payload: bytes) -> Ack:
        reply: Ack = await self._ask(
            SendMessage(_wire_destination(destination), channel, payload), Ack)
        return reply

    async def post_message(self, destination: Node | AllNodes, channel: str,
                           payload: bytes) -> None:
        """`send_message` without waiting for heartbeat's `Ack` (a notice): a refusal is
        only logged by heartbeat (`ipc_notice_failed`)."""
        await self._ctl.notify(SendMessage(_wire_destination(destination), channel, payload))

    def hand_message(self, destination: Node | AllNodes, channel: str, payload: bytes,
                     timeout: float | None = None) -> Awaitable[Ack]:
        """Send `payload` now (before any later send of this client) and return the
        awaitable of heartbeat's `Ack`, which it gives once it handed the message's
        datagrams to the kernel (its core sends them as it takes the request): the message
        has left this node's processes. Several may be in flight at once."""
        return self._checked(self._ctl.start_request(
            SendMessage(_wire_destination(destination), channel, payload), timeout), Ack)

    def barrier(self, timeout: float | None = None) -> Awaitable[Pong]:
        """Ping heartbeat now and return the awaitable of its `Pong`: heartbeat takes one
        client's requests and notices in order, so the Pong says every message posted
        before it was handled as `hand_message`'s `Ack` says."""
        return self._checked(self._ctl.start_request(Ping(), timeout), Pong)

    async def query_nodes(self) -> NodeTable:
        table: NodeTable = await self._ask(QueryNodes(), NodeTable)
        return table

    async def query_counters(self) -> Counters:
        counters: Counters = await self._ask(QueryCounters(), Counters)
        return counters

    def subscribe(self, topics: tuple[bytes, ...] = ()) -> Any:
        from messaging.client import AsyncSubscriber

        return AsyncSubscriber(pub_endpoint(self.state_dir), IPC, topics)

    def close(self) -> None:
        self._ctl.close()
