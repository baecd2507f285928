"""The ccm daemon's I/O shell: heartbeat events in, CcmNode effects out, zmq API served.

Runs on asyncio, the only place in ccm that reads a clock (`loop.time()`, monotonic).
- From heartbeat (`messaging.heartbeat.api`): NodeStatusChanged -> PeerStatusChanged
  (up and late count as reachable), NodeTable -> the same for anything missed plus the link
  states `hacluster membership` prints, MessageReceived on channel "ccm" -> PeerMessageReceived.
- Effects: Send -> heartbeat SendMessage (one queue, one request at a time, in order),
  ArmTimer/CancelTimer -> loop.call_at, Publish -> our PUB socket, Log -> structlog.
- Our sockets: `ccm.pub` (MembershipChanged on change and every REPUBLISH_INTERVAL) and
  `ccm.ctl` (QueryMembership -> MembershipStatus).
- On disk: `ccm.view_id`, the last installed view id, written (atomically) on every new view
  and read at start, so a restarted node never reuses a lower view id.
A malformed peer message is logged and counted, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import zmq
import zmq.asyncio

from messaging.effects import ArmTimer, CancelTimer, Effect, Log, Publish, Send, TimerFired
from messaging.errors import PeerUnreachable, RemoteProtocolError, TransportError
from messaging.heartbeat import api as hb
from messaging.heartbeat.service import raise_priority
from messaging.ipc import bind, prepare_state_dir

from .config import CcmConfig
from .core import Event, PeerMessageReceived, PeerStatusChanged, Timing
from .messages import MembershipStatus, NodeInfo, QueryMembership, decode, encode
from .node import CcmNode
from .protocol import CHANNEL, from_wire, to_wire

REPUBLISH_INTERVAL = 2.0
STARTUP_TIMEOUT = 60.0
VIEW_ID_FILE = "ccm.view_id"


def load_view_id(state_dir: Path) -> int:
    """The view id saved by an earlier run (0 if none or unreadable: a fresh node)."""
    try:
        return max(0, int((state_dir / VIEW_ID_FILE).read_text().strip()))
    except (OSError, ValueError):
        return 0


def save_view_id(state_dir: Path, view_id: int) -> None:
    """Persist `view_id`: write a temporary file, then rename it over the old one."""
    target = state_dir / VIEW_ID_FILE
    temporary = target.with_suffix(".tmp")
    temporary.write_text(f"{view_id}\n")
    os.replace(temporary, target)


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
        self.node: CcmNode | None = None
        self.table: hb.NodeTable | None = None
        self.rejected = 0
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._zmq = zmq.asyncio.Context()
        self._pub: zmq.asyncio.Socket | None = None
        self._stopped = asyncio.Event()
        self._reachable: set[str] = set()
        self._saved_view_id = 0

    # ------------------------------------------------------------------ feeding
    def feed(self, event: Event) -> None:
        assert self.node is not None
        for effect in self.node.handle(event):
            self._perform(effect)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _perform(self, effect: Effect) -> None:
        if isinstance(effect, Send):
            payload = msgpack.packb(to_wire(effect.message))
            self._outbox.put_nowait((effect.destination, payload))
        elif isinstance(effect, ArmTimer):
            self._cancel(effect.key)
            loop = asyncio.get_running_loop()
            self._timers[effect.key] = loop.call_at(effect.deadline, self._fire, effect.key)
        elif isinstance(effect, CancelTimer):
            self._cancel(effect.key)
        elif isinstance(effect, Publish):
            self._remember_view()
            self._publish()
            self.log.info("membership_changed", **_fields(effect.event))
        elif isinstance(effect, Log):
            getattr(self.log, effect.level, self.log.info)(effect.event, **dict(effect.fields))

    def _remember_view(self) -> None:
        assert self.node is not None
        view_id = self.node.view.view_id
        if view_id > self._saved_view_id:
            try:
                save_view_id(self.state_dir, view_id)
                self._saved_view_id = view_id
            except OSError as error:
                self.log.error("view_id_not_saved", error=str(error), view_id=view_id)

    def _cancel(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.feed(TimerFired(key, self._now()))

    def _publish(self) -> None:
        if self._pub is None or self.node is None or self.node.view.view_id == 0:
            return
        with contextlib.suppress(zmq.ZMQError):
            self._pub.send(encode(self.node.snapshot()), flags=zmq.NOBLOCK)

    # ------------------------------------------------------------------ heartbeat
    def _status(self, node: str, up: bool) -> None:
        assert self.node is not None
        if node == self.node.name or up == (node in self._reachable):
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
        assert self.node is not None
        if event.src == self.node.name:
            return
        try:
            message = from_wire(msgpack.unpackb(event.payload))
        except (ValueError, msgpack.UnpackException, RemoteProtocolError) as error:
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
    def status(self) -> MembershipStatus:
        assert self.node is not None
        snap = self.node.snapshot()
        nodes = tuple(
            NodeInfo(r.node, str(r.status), tuple(sorted((k, str(v)) for k, v in r.links.items())))
            for r in (self.table.nodes if self.table else ())
        )
        return MembershipStatus(self.node.name, snap.view_id, snap.members, snap.coordinator,
                                snap.quorate, snap.expected_votes, snap.total_votes,
                                snap.quorum, nodes)

    # ------------------------------------------------------------------ tasks
    async def _sender(self, client: hb.AsyncHeartbeatClient) -> None:
        while True:
            destination, payload = await self._outbox.get()
            try:
                ack = await client.send_message(destination, CHANNEL, payload)
                if not ack.ok:
                    self.log.warning("ccm_send_refused", dst=destination, error=ack.error)
            except TransportError as error:
                self.log.warning("ccm_send_failed", dst=destination, error=str(error))

    async def _receiver(self, subscriber: Any) -> None:
        while True:
            event = await subscriber.recv(1.0)
            if event is not None:
                self._on_heartbeat(event)

    async def _serve(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            data = await sock.recv()
            try:
                request = decode(data)
                if not isinstance(request, QueryMembership):
                    raise RemoteProtocolError(f"unsupported request {type(request).__name__}")
                await sock.send(encode(self.status()))
            except RemoteProtocolError as error:
                self.log.warning("ccm_bad_request", error=str(error))
                await sock.send(b"")

    async def _republish(self) -> None:
        while True:
            await asyncio.sleep(REPUBLISH_INTERVAL)
            self._publish()

    async def _wait_for_heartbeat(self, client: hb.AsyncHeartbeatClient) -> hb.NodeTable:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                return await client.query_nodes()
            except TransportError as error:
                if time.monotonic() > deadline:
                    raise PeerUnreachable(f"heartbeat not reachable in {self.state_dir}: "
                                          f"{error}") from None
                await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._stopped.set()

    async def run(self) -> None:
        """Wait for heartbeat, bind our sockets, run until SIGTERM/SIGINT or `stop()`."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        # Membership runs at heartbeat's priority (Corosync runs its membership real-time
        # too): at 16 nodes on a saturated host each of the ~12 process wake-ups between a
        # death and the agreed view waited for the CPU, which was most of ccm's 300 ms.
        priority = raise_priority() if self.options.realtime else "normal"
        client = hb.AsyncHeartbeatClient(self.state_dir, timeout=2.0)
        subscriber = client.subscribe()
        self.table = await self._wait_for_heartbeat(client)
        name = self.options.node or self.table.local
        self.log = self.log.bind(node=name)
        timing = Timing.for_keepalive(self.config.ha.keepalive)
        self._saved_view_id = load_view_id(self.state_dir)
        self.node = CcmNode(name, self.config.quorum, timing, random.Random(),
                            incarnation=time.time_ns() // 1000,
                            last_view_id=self._saved_view_id)
        self._pub = self._zmq.socket(zmq.PUB)
        bind(self._pub, f"ipc://{self.state_dir / 'ccm.pub'}")
        ctl = self._zmq.socket(zmq.REP)
        bind(ctl, f"ipc://{self.state_dir / 'ccm.ctl'}")
        for effect in self.node.start(self._now()):
            self._perform(effect)
        self._on_heartbeat(self.table)
        self.log.info("ccm_started", nodes=list(self.config.quorum.nodes), priority=priority)
        tasks = [asyncio.create_task(coro) for coro in (
            self._sender(client), self._receiver(subscriber), self._serve(ctl),
            self._republish())]
        try:
            await self._stopped.wait()
        finally:
            for task in tasks:
                task.cancel()
            for handle in self._timers.values():
                handle.cancel()
            subscriber.close()
            client.close()
            ctl.close(linger=0)
            self._pub.close(linger=0)
            self.log.info("ccm_stopped")


def _fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in getattr(event, "__slots__", ())}
