"""The ccm daemon's I/O shell: heartbeat events in, CcmNode effects out, its API served.

Runs on asyncio; the core runs in a `messaging.runtime.Runner` (timers, `Persist` -> files
in the state directory, `Log` -> structlog), the only place in ccm that reads a clock.
- From heartbeat (`messaging.heartbeat.api`): NodeStatusChanged -> PeerStatusChanged
  (up and late count as reachable), NodeTable -> the same for anything missed plus the link
  states `hacluster membership` prints, MessageReceived on channel "ccm" -> PeerMessageReceived.
- Effects: Send -> heartbeat SendMessage (one queue, one request at a time, in order),
  Publish -> our PUB socket (and remembered, to republish every REPUBLISH_INTERVAL).
- Our sockets: `ccm.pub` and `ccm.ctl` (QueryMembership -> MembershipStatus), see
  `messaging.membership`.
- On disk: `ccm.view_id`, the last installed view id, persisted by the core on every new
  view (in place, on a writer thread: messaging.durable) and read at start, so a restarted
  node never reuses a lower view id.
A malformed peer message is logged and counted, never fatal.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messaging.daemon import DaemonHost, apply_realtime
from messaging.effects import AllNodes, Client, Node, Publish, Send
from messaging.errors import (
    HAError,
    InternalError,
    PeerUnreachable,
    RemoteProtocolError,
    TransportError,
)
from messaging.heartbeat import api as hb
from messaging.ipc import Publisher, Server, prepare_state_dir
from messaging.membership import (
    API,
    MEMBERSHIP_TOPIC,
    MembershipChanged,
    MembershipStatus,
    NodeInfo,
    QueryMembership,
    ctl_address,
    pub_address,
)
from messaging.runtime import AsyncioScheduler, Runner, StateFiles

from .config import CcmConfig
from .core import Event, PeerMessageReceived, PeerStatusChanged, Timing
from .node import VIEW_ID_FILE, CcmNode
from .protocol import CHANNEL, from_wire, to_wire

REPUBLISH_INTERVAL = 2.0
STARTUP_TIMEOUT = 60.0


def load_view_id(state_dir: Path) -> int:
    """The view id saved by an earlier run (0 if none or unreadable: a fresh node)."""
    saved = StateFiles(state_dir).read(VIEW_ID_FILE)
    try:
        return max(0, int((saved or b"0").decode().strip()))
    except (ValueError, UnicodeDecodeError):
        return 0


@dataclass(frozen=True, slots=True)
class Options:
    node: str | None = None
    state_dir: str | None = None
    realtime: bool = True  # SCHED_RR 1 like heartbeat, when permitted


class CcmService:
    """One node's ccm daemon."""

    def __init__(self, config: CcmConfig, options: Options, logger: Any) -> None:
        self.config = config
        self.log = logger
        self.options = options
        self.state_dir = prepare_state_dir(options.state_dir or config.ha.state_dir)
        self.runner: Runner | None = None
        self.table: hb.NodeTable | None = None
        self.rejected = 0
        self._outbox: asyncio.Queue[tuple[Node | AllNodes, bytes]] = asyncio.Queue()
        self._reachable: set[str] = set()
        self._name = options.node or ""
        self._latest: MembershipChanged | None = None
        self.host = DaemonHost(logger)
        self.publisher = Publisher(pub_address(self.state_dir), API)
        self.server = Server(ctl_address(self.state_dir), API, self.answer, daemon="ccm",
                             log=logger)

    # ------------------------------------------------------------------ feeding
    def feed(self, event: Event) -> None:
        assert self.runner is not None
        self.runner.feed(event)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _send(self, effect: Send) -> None:
        destination = effect.destination
        if isinstance(destination, Client):
            raise InternalError(f"ccm has no client to send {effect.message!r} to")
        self._outbox.put_nowait((destination, to_wire(effect.message)))

    def _publish(self, effect: Publish) -> None:
        event = effect.event
        if isinstance(event, MembershipChanged):
            self._latest = event
            self.log.info("membership_changed", **_fields(event))
        self._republish()

    def _republish(self) -> None:
        if self._latest is not None and self._latest.view_id:
            self.publisher.publish(MEMBERSHIP_TOPIC, self._latest)

    # ------------------------------------------------------------------ heartbeat
    def _status(self, node: str, up: bool) -> None:
        if node == self._name or up == (node in self._reachable):
            return
        if up:
            self._reachable.add(node)
        else:
            self._reachable.discard(node)
        self.feed(PeerStatusChanged(node, up, self._now()))

    def _on_heartbeat(self, event: object) -> None:
        if isinstance(event, hb.NodeStatusChanged):
            self._status(event.node, event.status != hb.NodeState.DEAD)
            self._update_table_row(event)
        elif isinstance(event, hb.NodeTable):
            self.table = event
            for info in event.nodes:
                self._status(info.node, info.status != hb.NodeState.DEAD)
        elif isinstance(event, hb.MessageReceived) and event.channel == CHANNEL:
            self._on_peer_message(event)

    def _on_peer_message(self, event: hb.MessageReceived) -> None:
        if event.src == self._name:
            return
        try:
            message = from_wire(event.payload)
        except RemoteProtocolError as error:
            self.rejected += 1
            self.log.warning("ccm_message_rejected", src=event.src, error=str(error))
            return
        self.feed(PeerMessageReceived(event.src, message, self._now()))

    def _update_table_row(self, event: hb.NodeStatusChanged) -> None:
        if self.table is None:
            return
        rows = tuple(
            hb.NodeInfo(r.node, event.status, event.links, event.generation, r.last_heard)
            if r.node == event.node else r
            for r in self.table.nodes
        )
        self.table = hb.NodeTable(self.table.local, self.table.cluster, rows,
                                  self.table.counters, self.table.now)

    # ------------------------------------------------------------------ queries
    def answer(self, request: object, client: Client) -> object:
        if not isinstance(request, QueryMembership):
            raise RemoteProtocolError(f"ccm does not serve {type(request).__name__}")
        return self.status()

    def status(self) -> MembershipStatus:
        assert self.runner is not None and isinstance(self.runner.core, CcmNode)
        snap = self.runner.core.snapshot()
        nodes = tuple(
            NodeInfo(r.node, str(r.status), tuple(sorted((k, str(v)) for k, v in r.links.items())))
            for r in (self.table.nodes if self.table else ())
        )
        return MembershipStatus(self._name, snap.view_id, snap.members, snap.coordinator,
                                snap.quorate, snap.expected_votes, snap.total_votes,
                                snap.quorum, nodes)

    # ------------------------------------------------------------------ tasks
    async def _sender(self, client: hb.AsyncHeartbeatClient) -> None:
        while True:
            destination, payload = await self._outbox.get()
            try:
                await client.send_message(destination, CHANNEL, payload)
            except HAError as error:
                self.log.warning("ccm_send_failed", dst=str(destination), error=str(error))

    async def _receiver(self, subscriber: Any) -> None:
        while True:
            event = await subscriber.recv()  # no timeout: an idle ccm sleeps
            if event is not None:
                self._on_heartbeat(event)

    async def _republish_loop(self) -> None:
        while True:
            await asyncio.sleep(REPUBLISH_INTERVAL)
            self._republish()

    async def _wait_for_heartbeat(self, client: hb.AsyncHeartbeatClient) -> hb.NodeTable:
        deadline = self._now() + STARTUP_TIMEOUT
        while True:
            try:
                return await client.query_nodes()
            except TransportError as error:
                if self._now() > deadline:
                    raise PeerUnreachable(f"heartbeat not reachable in {self.state_dir}: "
                                          f"{error}") from None
                await asyncio.sleep(0.5)

    def stop(self) -> None:
        self.host.stop()

    def _core(self, name: str) -> CcmNode:
        timing = Timing.for_keepalive(self.config.ha.keepalive, len(self.config.quorum.nodes))
        return CcmNode(name, self.config.quorum, timing, random.Random(),
                       incarnation=time.time_ns() // 1000,
                       last_view_id=load_view_id(self.state_dir))

    async def run(self) -> None:
        """Wait for heartbeat, bind our sockets, run until SIGTERM/SIGINT or `stop()`."""
        # Membership runs at heartbeat's priority (Corosync runs its membership real-time
        # too): at 16 nodes on a saturated host each of the ~12 process wake-ups between a
        # death and the agreed view waited for the CPU, which was most of ccm's 300 ms.
        priority = apply_realtime(self.options.realtime and self.config.ha.realtime,
                                  self.config.ha.rtprio, self.log)
        client = hb.AsyncHeartbeatClient(self.state_dir, timeout=2.0)
        # our channel only: cib, attrd, crmd and stonithd peers talk through the same
        # heartbeat, and decoding their messages to drop them was ccm's idle work too
        subscriber = client.subscribe((hb.TOPIC_STATUS, hb.TOPIC_TABLE,
                                       hb.message_topic(CHANNEL)))
        self.host.closing(subscriber)
        self.host.closing(client)
        self.table = await self._wait_for_heartbeat(client)
        self._name = self._name or self.table.local
        self.log = self.log.bind(node=self._name)
        core = self._core(self._name)
        # the view id is written on a thread: ccm publishes a new view right after its
        # Persist, and a rename on a `discard` disk stalled the loop for up to seconds
        state_files = StateFiles(self.state_dir, background=True, log=self.log)
        self.host.closing(state_files)
        self.runner = Runner(core, AsyncioScheduler(), send=self._send, publish=self._publish,
                             persist=state_files, log=self.log)
        self.host.closing(self.runner)
        self.host.socket(self.publisher)
        self.host.socket(self.server)
        self.host.bind_all()
        # a respawned ccm beside a running heartbeat: the peers it hears go into the first
        # Reach (Corosync keeps membership while pacemakerd respawns a daemon above it)
        up = (info.node for info in self.table.nodes if info.status != hb.NodeState.DEAD)
        self.runner.perform_all(core.start(self._now(), heard=up))
        self._on_heartbeat(self.table)
        self.log.info("ccm_started", nodes=list(self.config.quorum.nodes), priority=priority)
        for factory in (lambda: self._sender(client), lambda: self._receiver(subscriber),
                        self.server.serve, self._republish_loop):
            self.host.task(factory)
        await self.host.run(bind=False)
        self.log.info("ccm_stopped")


def _fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in getattr(event, "__slots__", ())}
