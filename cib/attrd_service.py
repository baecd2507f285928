"""The attrd daemon's I/O shell: an `AttrdCore` on a Runner, its control socket, its peers
and its writes through the local cib daemon.

What is wired to what (declared on one `messaging.daemon.DaemonHost`):

- ccm's membership -> `AttrdView`, node ids as the cib daemon numbers them
  (`cib.service.view_members`: the status section's node_state ids).
- heartbeat channel ``attrd`` (`cib.attrd_api.PEER_CHANNEL`): `Shared`, `SyncRequest` and
  `RefreshRequest` as event frames of `PEER_API`, in order, from members only.
- the IPC `Server` (`cib.attrd_api`): updates fed as `LocalUpdate`/`LocalRefresh` and
  answered at once (`AttrdDone`); queries answered from the core's values.
- `WriteAttribute` -> each request sent as a `cib.api.Write` to the local cib daemon (which
  forwards it to the master), in order; the outcome comes back as `WriteDone`, so the core
  retries failures and holds later writes of the attribute meanwhile.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cib import api as cib_api
from cib.attrd import (
    AttrdCore,
    AttrdView,
    AttributeUpdate,
    LocalRefresh,
    LocalUpdate,
    PeerRequest,
    PeerUpdate,
    RefreshRequest,
    Shared,
    SyncRequest,
    WriteAttribute,
    WriteDone,
)
from cib.attrd_api import (
    API,
    PEER_CHANNEL,
    AttrdDone,
    AttrdQuery,
    AttrdRefresh,
    AttrdUpdate,
    AttrdValues,
    ctl_address,
)
from cib.service import view_members
from messaging.client import AsyncClient
from messaging.codec import Registry
from messaging.daemon import DaemonHost
from messaging.effects import Client, Node, Send
from messaging.envelope import CIB_MAX_FRAME, DEFAULT_MAX_FRAME, Kind, decode, encode, protocol
from messaging.errors import HAError, InternalError, NotFoundError, RemoteProtocolError
from messaging.heartbeat.api import AsyncHeartbeatClient, MessageReceived
from messaging.ipc import Server
from messaging.logs import get_logger
from messaging.membership import AsyncCcmClient, MembershipChanged
from messaging.runtime import AsyncioScheduler, Runner

CIB_TIMEOUT = 30.0
SEND_QUEUE = 10000

PEER_API: Registry = protocol("attrd-peer")
PEER_API.register("update")(AttributeUpdate)
for _message in (Shared, SyncRequest, RefreshRequest):
    PEER_API.register(_message.__name__.lower())(_message)
PEER_MESSAGES = (Shared, SyncRequest, RefreshRequest)


def peer_frame(message: object) -> bytes:
    return encode(PEER_API, Kind.EVENT, 0, message)


def open_peer_frame(data: bytes) -> Shared | SyncRequest | RefreshRequest:
    """Parse `peer_frame` bytes; RemoteProtocolError unless it is an attrd peer message."""
    message = decode(PEER_API, data, DEFAULT_MAX_FRAME).message
    if not isinstance(message, PEER_MESSAGES):
        raise RemoteProtocolError(f"not an attrd peer message: {type(message).__name__}")
    return message


class AttrdService:
    """One node's attrd."""

    def __init__(self, node: str, state_dir: Path) -> None:
        self.node, self.state_dir = node, state_dir
        self.log = get_logger(daemon="attrd", node=node)
        self.core = AttrdCore(node)
        self.server = Server(ctl_address(state_dir), API, self.answer, daemon="attrd",
                             log=self.log)
        self.runner = Runner(self.core, AsyncioScheduler(), send=self._send, log=self.log,
                             handlers={WriteAttribute: self._write})
        self.heartbeat = AsyncHeartbeatClient(state_dir)
        self.cib = AsyncClient(cib_api.ctl_address(state_dir), cib_api.API,
                               timeout=CIB_TIMEOUT, max_frame=CIB_MAX_FRAME)
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(SEND_QUEUE)
        self._writes: asyncio.Queue[WriteAttribute] = asyncio.Queue()
        self.host = DaemonHost(self.log)

    # -- local clients ------------------------------------------------------------------

    def answer(self, request: Any, client: Client) -> Any:
        """One request of the control socket (the Server answers Ping itself)."""
        if isinstance(request, AttrdQuery):
            return self._query(request)
        if isinstance(request, AttrdRefresh):
            self.runner.feed(LocalRefresh(self.runner.monotonic()))
            return AttrdDone()
        if not isinstance(request, AttrdUpdate):
            raise RemoteProtocolError(f"attrd takes AttrdUpdate, AttrdQuery and AttrdRefresh, "
                                      f"not {type(request).__name__}")
        node = request.node or self.node
        value = request.value
        if request.keep_value:
            value = self.core.value(request.name, node)
            if value is None:
                raise NotFoundError(f"attribute {request.name} of {node} does not exist")
        update = AttributeUpdate(request.name, node, value, request.dampen, request.private)
        self.runner.feed(LocalUpdate(self.runner.monotonic(), update))
        return AttrdDone()

    def _query(self, query: AttrdQuery) -> AttrdValues:
        if query.name not in self.core.values:
            raise NotFoundError(f"attribute {query.name} does not exist")
        values = self.core.values[query.name]
        if query.all_nodes:
            return AttrdValues(query.name, tuple(sorted(values.items())))
        node = query.node or self.node
        return AttrdValues(query.name, ((node, values[node]),) if node in values else ())

    # -- the CIB ------------------------------------------------------------------------

    def _write(self, effect: WriteAttribute) -> None:
        self._writes.put_nowait(effect)

    async def _writer(self) -> None:
        """Carry out WriteAttribute effects in order, one request at a time."""
        while True:
            effect = await self._writes.get()
            ok = True
            for request in effect.requests:
                try:
                    reply = await self.cib.request(cib_api.Write(request))
                    ok = isinstance(reply, cib_api.CibReply) and reply.exit_code == 0
                except HAError as error:
                    reply, ok = error, False
                if not ok:
                    self.log.warning("attrd_write_failed", attribute=effect.name,
                                     reply=str(reply))
                    break
            self.runner.feed(WriteDone(self.runner.monotonic(), effect.name, ok))

    # -- peers --------------------------------------------------------------------------

    def _send(self, effect: Send) -> None:
        if not isinstance(effect.destination, Node):
            raise InternalError(f"the attrd core sends only to nodes: {effect!r}")
        try:
            self._outbox.put_nowait((effect.destination.name, peer_frame(effect.message)))
        except asyncio.QueueFull:
            self.log.warning("peer_queue_full", peer=effect.destination.name)

    async def _sender(self) -> None:
        while True:
            node, payload = await self._outbox.get()
            try:
                await self.heartbeat.send_message(Node(node), PEER_CHANNEL, payload)
            except HAError as error:  # a lost peer's values are re-sent at the next view
                self.log.warning("heartbeat_send_failed", peer=node, error=str(error))

    async def _receiver(self) -> None:
        subscriber = AsyncHeartbeatClient(self.state_dir).subscribe((b"message",))
        try:
            while True:
                event = await subscriber.recv()
                if not isinstance(event, MessageReceived) or event.channel != PEER_CHANNEL \
                        or event.src == self.node:
                    continue
                try:
                    message = open_peer_frame(event.payload)
                except RemoteProtocolError as error:
                    self.log.warning("bad_peer_message", peer=event.src, error=str(error))
                    continue
                self._peer(event.src, message)
        finally:
            subscriber.close()

    def _peer(self, sender: str, message: Shared | SyncRequest | RefreshRequest) -> None:
        now = self.runner.monotonic()
        if isinstance(message, Shared):
            self.runner.feed(PeerUpdate(now, sender, message.view, message.update))
        else:
            self.runner.feed(PeerRequest(now, sender, message))

    async def _membership(self) -> None:
        ccm = AsyncCcmClient(self.state_dir)
        subscriber = ccm.subscribe()
        try:
            while True:
                try:
                    status = await ccm.query()
                except HAError:
                    status = None
                if status is not None and status.view_id:
                    self._view(status.view_id, tuple(status.members))
                    break
                await asyncio.sleep(0.2)  # ccm not up yet: poll its query, not a readiness wait
            while True:
                event = await subscriber.recv()
                if isinstance(event, MembershipChanged):
                    self._view(event.view_id, event.members)
        finally:
            subscriber.close()
            ccm.close()

    def _view(self, view_id: int, members: tuple[str, ...]) -> None:
        if view_id == self.core.view:
            return
        self.log.info("attrd_view", view=view_id, members=list(members))
        self.runner.feed(AttrdView(self.runner.monotonic(), view_id, view_members(members)))

    async def run(self) -> None:
        self.host.socket(self.server)
        for task in (self.server.serve, self._sender, self._receiver, self._membership,
                     self._writer):
            self.host.task(task)
        self.host.closing(self.runner)
        self.host.closing(self.heartbeat)
        self.host.closing(self.cib)
        self.log.info("attrd_started")
        await self.host.run()


__all__ = ["PEER_API", "AttrdService", "open_peer_frame", "peer_frame"]
