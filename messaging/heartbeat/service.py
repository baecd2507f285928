"""The heartbeat daemon's I/O shell: UDP links, zmq IPC, timers, signals, around the core.

Runs on asyncio. Datagrams from every link socket become `PacketReceived`; expired timers
become `TimerFired`; `SendMessage` requests on the control socket become `SendRequest`.
Effects are performed here and nowhere else: `SendDatagram` -> sendto, `ArmTimer` ->
loop.call_at, `Publish` -> the PUB socket, `Log` -> structlog. The NodeTable is published
every `TABLE_INTERVAL` seconds and after each status change.

The generation number is kept in `<state_dir>/hb_generation` and is
max(previous + 1, unix time), so it grows across restarts even if the file is lost. With
`autojoin other|any`, nodes that joined are remembered in `<state_dir>/hostcache`. The
core's replay marks (last generation, sequence and source address of every sender) are
written to `<state_dir>/hb_peers` whenever the core asks (`SavePeers`) and read back at
start, so a restarted daemon does not believe packets captured before it restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from messaging.auth import KeyRing
from messaging.authkeys import load_authkeys
from messaging.config import HaConfig
from messaging.effects import ArmTimer, CancelTimer, Log, Publish, TimerFired
from messaging.errors import ConfigError, HAError, RemoteProtocolError
from messaging.heartbeat import api
from messaging.heartbeat.core import CoreSettings, HeartbeatCore
from messaging.heartbeat.events import (
    Event,
    KeysReloaded,
    PacketReceived,
    SavePeers,
    SendDatagram,
    SendRequest,
    Started,
    Stopping,
)
from messaging.heartbeat.netio import LinkSocket, local_addresses, open_links
from messaging.heartbeat.peers import PeerMark, decode_marks, encode_marks
from messaging.ipc import bind, prepare_state_dir

TABLE_INTERVAL = 2.0
GENERATION_FILE = "hb_generation"
HOSTCACHE_FILE = "hostcache"
PEERS_FILE = "hb_peers"
LOCK_FILE = "heartbeat.lock"
PUB_HIGH_WATER = 100_000  # events queued per slow subscriber before zmq drops (default 1000)


def lock_state_dir(state_dir: Path) -> int:
    """Hold `<state_dir>/heartbeat.lock` for the life of the process (one daemon per dir).

    Raises:
        ConfigError: another heartbeat daemon already uses this state directory.
    """
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(f"another heartbeat daemon (pid {holder}) uses state_dir "
                          f"{state_dir}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def load_hostcache(state_dir: Path) -> tuple[str, ...]:
    """Nodes that joined through autojoin earlier (one name per line)."""
    try:
        lines = (state_dir / HOSTCACHE_FILE).read_text().split()
    except OSError:
        return ()
    return tuple(dict.fromkeys(name for name in lines if name.isprintable() and len(name) <= 64))


def save_hostcache(state_dir: Path, nodes: list[str]) -> None:
    path = state_dir / HOSTCACHE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{name}\n" for name in nodes))
    os.replace(tmp, path)


def load_peer_marks(state_dir: Path) -> tuple[PeerMark, ...]:
    """The replay marks an earlier run saved (none when the file is missing or bad)."""
    try:
        return decode_marks((state_dir / PEERS_FILE).read_text())
    except (OSError, UnicodeDecodeError):
        return ()


def save_peer_marks(state_dir: Path, marks: tuple[PeerMark, ...]) -> None:
    path = state_dir / PEERS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(encode_marks(list(marks)))
    os.replace(tmp, path)


def next_generation(state_dir: Path, wall: float | None = None) -> int:
    """Bump and persist this node's generation number."""
    path = state_dir / GENERATION_FILE
    previous = 0
    with contextlib.suppress(OSError, ValueError):
        previous = int(path.read_text().strip())
    generation = max(previous + 1, int(wall if wall is not None else time.time()))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{generation}\n")
    os.replace(tmp, path)
    return generation


@dataclass(frozen=True, slots=True)
class Options:
    """Start-up choices that are not in ha.cf."""

    node: str
    bind_address: str | None = None
    state_dir: str | None = None
    authkeys_path: str | None = None  # re-read on SIGHUP
    realtime: bool = True  # Heartbeat's `realtime on` default: SCHED_RR when permitted


def raise_priority() -> str:
    """Run the heartbeat as a (lowest-priority) real-time task, as Heartbeat does with
    `realtime on`: on a CPU-saturated host a normal task can wait hundreds of milliseconds
    to run, long enough for peers to see a deadtime of silence. Falls back to nice -10,
    then to nothing; returns what was obtained (for the start-up log)."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
        return "SCHED_RR 1"
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        return "nice -10"
    return "normal"


def check_membership(config: HaConfig, node: str) -> None:
    """Heartbeat refuses to start on a node that ha.cf does not list (unless autojoin any)."""
    if config.nodes and node not in config.nodes and config.autojoin != "any":
        raise ConfigError(f"current node {node!r} is not in the configuration "
                          f"(node lines list {', '.join(config.nodes)})")


READ_BATCH = 256  # datagrams read per wake-up of one link socket
RECV_SIZE = 65535


class HeartbeatService:
    """One node's heartbeat daemon."""

    def __init__(self, config: HaConfig, keys: KeyRing, options: Options, logger: Any) -> None:
        check_membership(config, options.node)
        self.config = config
        self.options = options
        self.log = logger
        self.state_dir = prepare_state_dir(options.state_dir or config.state_dir)
        self._lock_fd = lock_state_dir(self.state_dir)
        peers = {m.address for m in config.media if m.kind == "ucast"}
        own = {options.bind_address} if options.bind_address else local_addresses(peers)
        self.media = config.media_for(own)
        links = tuple(dict.fromkeys(m.link for m in self.media))
        generation = next_generation(self.state_dir)
        settings = CoreSettings.from_config(config, options.node, generation, keys, links)
        settings = replace(settings, known_peers=load_peer_marks(self.state_dir))
        if config.autojoin != "none":  # remembered joiners are members again after a restart
            known = tuple(dict.fromkeys((*settings.nodes, *load_hostcache(self.state_dir))))
            settings = replace(settings, nodes=known)
        self.core = HeartbeatCore(settings)
        self._known_nodes = len(self.core.liveness.nodes)
        self.counters_extra: dict[str, int] = {"tx.errors": 0, "udp.tx": 0}
        self.sockets: dict[str, LinkSocket] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._zmq = zmq.asyncio.Context()
        self._pub: zmq.asyncio.Socket | None = None
        self._stopped = asyncio.Event()
        self._table_due = asyncio.Event()
        self._leaving = False

    # ------------------------------------------------------------------ effects
    def feed(self, event: Event) -> None:
        if self._leaving and not isinstance(event, Stopping):
            return  # after Leaving went out nothing else may: peers would see us come back
        for effect in self.core.handle(event):
            self._perform(effect)
        if len(self.core.liveness.nodes) != self._known_nodes:  # autojoin: someone new
            self._known_nodes = len(self.core.liveness.nodes)
            save_hostcache(self.state_dir, list(self.core.liveness.nodes))

    def _perform(self, effect: object) -> None:
        if isinstance(effect, SendDatagram):
            self._send(effect)
        elif isinstance(effect, ArmTimer):
            self._arm(effect.key, effect.deadline)
        elif isinstance(effect, CancelTimer):
            handle = self._timers.pop(effect.key, None)
            if handle is not None:
                handle.cancel()
        elif isinstance(effect, Publish):
            self._publish(effect.event)
            if isinstance(effect.event, api.NodeStatusChanged):
                self._table_due.set()
        elif isinstance(effect, Log):
            getattr(self.log, effect.level, self.log.info)(effect.event, **dict(effect.fields))
        elif isinstance(effect, SavePeers):
            try:
                save_peer_marks(self.state_dir, effect.marks)
            except OSError as error:  # a full disk must not stop the heartbeat
                self.log.warning("peer_marks_not_saved", error=str(error))

    def _send(self, effect: SendDatagram) -> None:
        link = self.sockets.get(effect.link)
        if link is None:
            return
        for dest in [effect.dest] if effect.dest is not None else link.destinations:
            try:
                link.sock.sendto(effect.data, dest)
            except OSError:  # full buffer or unreachable peer: UDP may drop, the core resends
                self.counters_extra["tx.errors"] += 1
            else:
                self.counters_extra["udp.tx"] += 1

    def _readable(self, link: str) -> None:
        """Read every datagram queued on `link` (up to READ_BATCH), not one per loop turn:
        after a CPU stall a timer must not judge silence while packets wait unread."""
        sock = self.sockets[link].sock
        loop_time = asyncio.get_running_loop().time
        for _ in range(READ_BATCH):
            try:
                data, addr = sock.recvfrom(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable reported on the socket
                self.counters_extra["rx.errors"] = self.counters_extra.get("rx.errors", 0) + 1
                continue
            self.feed(PacketReceived(link, data, (addr[0], addr[1]), loop_time()))

    def _drain(self) -> None:
        for link in self.sockets:
            self._readable(link)

    def _arm(self, key: str, deadline: float) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_at(deadline, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        if key == "check":  # judge silence only after reading what already arrived
            self._drain()
        self.feed(TimerFired(key, asyncio.get_running_loop().time()))

    def _publish(self, event: Any) -> None:
        if self._pub is None:
            return
        with contextlib.suppress(zmq.ZMQError):
            self._pub.send_multipart([api.topic_of(event), api.IPC.encode(event)],
                                     flags=zmq.NOBLOCK)

    # ------------------------------------------------------------------ queries
    def table(self) -> api.NodeTable:
        now = asyncio.get_running_loop().time()
        table = self.core.table(now)
        counters = {**table.counters, **self.counters_extra}
        return api.NodeTable(table.local, table.cluster, table.nodes, counters, now)

    def answer(self, request: object) -> object:
        now = asyncio.get_running_loop().time()
        if isinstance(request, api.SendMessage):
            refusal = self.core.check_send(request.dst, request.channel, request.payload)
            if refusal is not None:
                return api.Ack(False, refusal)
            self.feed(SendRequest(request.dst, request.channel, request.payload, now))
            return api.Ack(True)
        if isinstance(request, api.QueryNodes):
            return self.table()
        if isinstance(request, api.QueryCounters):
            return api.Counters(self.table().counters)
        return api.Ack(False, f"unsupported request {type(request).__name__}")

    # ------------------------------------------------------------------ tasks
    async def _serve_control(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            data = await sock.recv()
            try:
                reply = self.answer(api.IPC.decode(data))
            except RemoteProtocolError as error:
                reply = api.Ack(False, str(error))
            except HAError as error:  # a bug of ours must not wedge the REP socket
                self.log.error("control_request_failed", error=str(error))
                reply = api.Ack(False, f"internal error: {error}")
            await sock.send(api.IPC.encode(reply))

    async def _publish_tables(self) -> None:
        while True:
            self._publish(self.table())
            self._table_due.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._table_due.wait(), TABLE_INTERVAL)

    def stop(self) -> None:
        self._stopped.set()

    def reload_keys(self) -> None:
        """SIGHUP: re-read authkeys; a bad file is logged and the old keys stay in use."""
        if self.options.authkeys_path is None:
            return
        try:
            keys = load_authkeys(self.options.authkeys_path)
        except ConfigError as error:
            self.log.error("authkeys_reload_failed", error=str(error))
            return
        self.feed(KeysReloaded(keys, asyncio.get_running_loop().time()))

    async def run(self) -> None:
        """Bind everything, run until SIGTERM/SIGINT or `stop()`, then leave cleanly."""
        loop = asyncio.get_running_loop()
        priority = raise_priority() if self.options.realtime else "normal"
        self.sockets = open_links(self.media, self.options.bind_address)
        for link, link_socket in self.sockets.items():
            loop.add_reader(link_socket.sock.fileno(), self._readable, link)
        self._pub = self._zmq.socket(zmq.PUB)
        self._pub.setsockopt(zmq.SNDHWM, PUB_HIGH_WATER)
        bind(self._pub, api.pub_endpoint(self.state_dir))
        ctl = self._zmq.socket(zmq.REP)
        bind(ctl, api.ctl_endpoint(self.state_dir))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload_keys)
        self.log.info("heartbeat_started", generation=self.core.settings.generation,
                      scheduling=priority,
                      links=list(self.sockets), peers={k: v.destinations
                                                        for k, v in self.sockets.items()})
        tasks = [asyncio.create_task(self._serve_control(ctl)),
                 asyncio.create_task(self._publish_tables())]
        self.feed(Started(loop.time()))
        try:
            await self._stopped.wait()
        finally:
            for handle in self._timers.values():
                handle.cancel()
            self.feed(Stopping(loop.time()))
            self._leaving = True
            await asyncio.sleep(0.05)  # let the Leaving datagrams go out
            for task in tasks:
                task.cancel()
            self._close(ctl)

    def _close(self, ctl: zmq.asyncio.Socket) -> None:
        for handle in self._timers.values():
            handle.cancel()
        loop = asyncio.get_running_loop()
        for link_socket in self.sockets.values():
            loop.remove_reader(link_socket.sock.fileno())
            link_socket.close()
        ctl.close(linger=0)
        if self._pub is not None:
            self._pub.close(linger=0)
        self._zmq.term()
        self.log.info("heartbeat_stopped")
