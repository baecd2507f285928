"""The attrd daemon's I/O shell: an `AttrdCore` on a Runner, its control socket, its peers
and its writes through the local cib daemon.

What is wired to what (declared on one `messaging.daemon.DaemonHost`):

- ccm's membership (`messaging.peer_channel.follow_membership`) -> `AttrdView`: member ids
  as the cib daemon ranks them (`cib.service.view_members`, so the writer is the CIB
  master's node), node_state ids from the CIB's nodes section (queried at a view with a
  member whose id is not known yet; a node not configured there is written under its name).
- heartbeat channel ``attrd`` (`cib.attrd_api.PEER_CHANNEL`, a `PeerChannel`): `Shared`,
  `SyncRequest` and `RefreshRequest` as event frames of `PEER_API`, in order.
- the IPC `Server` (`cib.attrd_api`): updates fed as `LocalUpdate`/`LocalRefresh` and
  answered at once (`AttrdDone`); queries answered from the core's values; crmd's
  `AttrdSetDc` fed as `DcKnown` (the writer follows the DC).
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
    DcKnown,
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
    AttrdSetDc,
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
from messaging.ipc import Server
from messaging.logs import get_logger
from messaging.peer_channel import PeerChannel, follow_membership
from messaging.runtime import AsyncioScheduler, Runner

CIB_TIMEOUT = 30.0
UUID_TRIES = 10
UUID_TIMEOUT = 0.5

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
        self.peers = PeerChannel(state_dir, node, PEER_CHANNEL, open_frame=open_peer_frame,
                                 on_message=self._peer, log=self.log)
        self.cib = AsyncClient(cib_api.ctl_address(state_dir), cib_api.API,
                               timeout=CIB_TIMEOUT, max_frame=CIB_MAX_FRAME)
        self._writes: asyncio.Queue[WriteAttribute] = asyncio.Queue()
        self._views: asyncio.Queue[tuple[int, tuple[str, ...]]] = asyncio.Queue()
        self._uuids: dict[str, str] = {}
        self.host = DaemonHost(self.log)

    # -- local clients ------------------------------------------------------------------

    def answer(self, request: Any, client: Client) -> Any:
        """One request of the control socket (the Server answers Ping itself)."""
        if isinstance(request, AttrdQuery):
            return self._query(request)
        if isinstance(request, AttrdRefresh):
            self.runner.feed(LocalRefresh(self.runner.monotonic()))
            return AttrdDone()
        if isinstance(request, AttrdSetDc):
            self.runner.feed(DcKnown(self.runner.monotonic(), request.dc))
            return AttrdDone()
        if not isinstance(request, AttrdUpdate):
            raise RemoteProtocolError(f"attrd takes AttrdUpdate, AttrdQuery, AttrdRefresh and "
                                      f"AttrdSetDc, not {type(request).__name__}")
        node = request.node or self.node
        value = request.value
        if request.keep_value:
            value = self.core.value(request.name, node)
            if value is None:
                raise NotFoundError(f"attribute {request.name} of {node} does not exist")
        update = AttributeUpdate(request.name, node, value, request.dampen, request.private,
                                 request.set_id)
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
                    reply = await self.cib.request(cib_api.Write(request, "attrd"))
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
        self.peers.send(effect.destination, peer_frame(effect.message))

    def _peer(self, sender: str, message: Shared | SyncRequest | RefreshRequest) -> None:
        now = self.runner.monotonic()
        if isinstance(message, Shared):
            self.runner.feed(PeerUpdate(now, sender, message.view, message.update))
        else:
            self.runner.feed(PeerRequest(now, sender, message))

    async def _membership(self) -> None:
        await follow_membership(self.state_dir,
                                lambda view, members: self._views.put_nowait((view, members)))

    async def _feed_views(self) -> None:
        """Each new view, with the members' node_state ids from the CIB's nodes section."""
        while True:
            view_id, members = await self._views.get()
            while not self._views.empty():  # only the newest view matters
                view_id, members = self._views.get_nowait()
            if view_id == self.core.view:
                continue
            if any(name not in self._uuids for name in members):
                # node ids do not change: a query per view was work for the cib and us at
                # every one of a boot's views (Pacemaker's attrd keeps its peer cache too)
                self._uuids.update(await self._configured_uuids())
            uuids = tuple((name, self._uuids.get(name, name)) for name in members)
            self.log.info("attrd_view", view=view_id, members=list(members))
            self.runner.feed(AttrdView(self.runner.monotonic(), view_id,
                                       view_members(members), uuids))

    async def _configured_uuids(self) -> dict[str, str]:
        """uname -> id of /cib/configuration/nodes (empty when the cib does not answer within
        UUID_TRIES attempts: the last known ids, else the names, are used)."""
        from cib.xmlio import parse

        for _ in range(UUID_TRIES):
            try:
                reply = await self.cib.request(cib_api.Query(scope="nodes"), UUID_TIMEOUT)
            except HAError:
                await asyncio.sleep(UUID_TIMEOUT)
                continue
            if isinstance(reply, cib_api.CibReply) and reply.exit_code == 0 and reply.output:
                return {node.get("uname") or "": node.get("id") or ""
                        for node in parse(reply.output).iter("node")
                        if node.get("uname") and node.get("id")}
            await asyncio.sleep(UUID_TIMEOUT)
        self.log.warning("attrd_node_ids_unknown")
        return {}

    async def run(self) -> None:
        self.host.socket(self.server)
        for task in (self.server.serve, self._membership, self._feed_views, self._writer):
            self.host.task(task)
        self.peers.attach(self.host)
        self.host.closing(self.runner)
        self.host.closing(self.cib)
        self.log.info("attrd_started")
        await self.host.run()


__all__ = ["PEER_API", "AttrdService", "open_peer_frame", "peer_frame"]
