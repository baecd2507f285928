"""The heartbeat daemon's I/O shell: UDP links, zmq IPC, timers, signals, around the core.

Runs on asyncio. The core runs in a `messaging.runtime.Runner` (timers, `Publish` -> the
PUB socket, `Persist` -> files in the state directory, `Log` -> structlog) with one
heartbeat effect of its own: `SendDatagram` -> sendto. Datagrams from every link socket
become `PacketReceived`; `SendMessage` requests on the control socket (one
`messaging.ipc.Server`) become `SendRequest`. The NodeTable is published every
`TABLE_INTERVAL` seconds and TABLE_SETTLE after a status change.

Reading is paced (`messaging.heartbeat.pacing`): while keepalives come densely and
nothing else goes on, the sockets are read every few tens of milliseconds instead of at
each datagram, which is timestamped by the kernel on arrival (`netio.arrival_time`) so
liveness is judged on when a packet came, not when it was read.

The generation number is kept in `<state_dir>/hb_generation` and is max(previous + 1,
unix time), so it grows across restarts even if the file is lost. With `autojoin
other|any`, nodes that joined are remembered in `<state_dir>/hostcache`. The core's replay
marks (last generation, a seq mark and source address of every sender) are persisted as
`<state_dir>/hb_peers` and read back at start, so a restarted daemon does not believe
packets captured before it restarted. All of them are messaging.durable slot files; the
core's `Persist` effects are written on a writer thread, never on the loop that judges
liveness (the generation is written once, before the loop starts).
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

from messaging.auth import KeyRing
from messaging.authkeys import load_authkeys
from messaging.config import HaConfig, check_node_name
from messaging.daemon import DaemonHost, apply_realtime
from messaging.effects import Client, Persist, Publish
from messaging.errors import ConfigError, RemoteProtocolError, TransportError, ValidationError
from messaging.heartbeat import api
from messaging.heartbeat.core import HOSTCACHE, PEERS, CoreSettings, HeartbeatCore
from messaging.heartbeat.events import (
    Event,
    KeysReloaded,
    PacketReceived,
    SendDatagram,
    SendRequest,
    Started,
    Stopping,
)
from messaging.heartbeat.netio import (
    STAMP_SPACE,
    LinkSocket,
    arrival_time,
    local_addresses,
    open_links,
)
from messaging.heartbeat.pacing import ReadPacing
from messaging.heartbeat.peers import PeerMark, decode_marks
from messaging.ipc import Publisher, Server, prepare_state_dir
from messaging.runtime import AsyncioScheduler, Runner, StateFiles

TABLE_INTERVAL = 2.0
TABLE_SETTLE = 0.5  # after a status change: past the membership round it sets off
GENERATION_FILE = "hb_generation"
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
        lines = (StateFiles(state_dir).read(HOSTCACHE) or b"").decode().split()
    except UnicodeDecodeError:
        return ()
    return tuple(dict.fromkeys(name for name in lines if name.isprintable() and len(name) <= 64))


def load_peer_marks(state_dir: Path) -> tuple[PeerMark, ...]:
    """The replay marks an earlier run persisted (none when the file is missing or bad)."""
    try:
        return decode_marks((StateFiles(state_dir).read(PEERS) or b"[]").decode())
    except UnicodeDecodeError:
        return ()


def next_generation(state_dir: Path, wall: float | None = None) -> int:
    """Bump and persist this node's generation number."""
    files = StateFiles(state_dir)  # before the loop runs: written at once, in place
    previous = 0
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        previous = int((files.read(GENERATION_FILE) or b"0").decode().strip())
    generation = max(previous + 1, int(wall if wall is not None else time.time()))
    files(Persist(GENERATION_FILE, f"{generation}\n".encode()))
    return generation


@dataclass(frozen=True, slots=True)
class Options:
    """Start-up choices that are not in ha.cf."""

    node: str
    bind_address: str | None = None
    state_dir: str | None = None
    authkeys_path: str | None = None  # re-read on SIGHUP
    realtime: bool = True  # Heartbeat's `realtime on` default: SCHED_RR when permitted


def check_membership(config: HaConfig, node: str) -> None:
    """Heartbeat refuses to start on a node that ha.cf does not list (unless autojoin any)
    or whose name is not a host name."""
    try:
        check_node_name(node)
    except ValueError as error:
        raise ConfigError(f"node name: {error}") from None
    if config.nodes and node not in config.nodes and config.autojoin != "any":
        raise ConfigError(f"current node {node!r} is not in the configuration "
                          f"(node lines list {', '.join(config.nodes)})")


READ_BATCH = 256  # datagrams read per wake-up of one link socket
GRID_BURST = 0.01  # s after our own keepalive during which the peers' are read together
RECV_SIZE = 65535


class HeartbeatService:
    """One node's heartbeat daemon: the core in a Runner, UDP links, one Server, one PUB."""

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
        # replay marks of the previous run: packets captured before it are not believed
        settings = replace(settings, known_peers=load_peer_marks(self.state_dir))
        if config.autojoin != "none":  # remembered joiners are members again after a restart
            known = tuple(dict.fromkeys((*settings.nodes, *load_hostcache(self.state_dir))))
            settings = replace(settings, nodes=known)
        self.core = HeartbeatCore(settings)
        self.counters_extra: dict[str, int] = {"tx.errors": 0, "udp.tx": 0}
        self.sockets: dict[str, LinkSocket] = {}
        self.host = DaemonHost(logger)
        self.publisher = Publisher(api.pub_endpoint(self.state_dir), api.IPC,
                                   high_water=PUB_HIGH_WATER)
        self.server = Server(api.ctl_endpoint(self.state_dir), api.IPC, self.answer,
                             daemon="heartbeat", log=logger)
        # written on a thread: a rename on a `discard` disk stalled the loop for seconds
        self.state_files = StateFiles(self.state_dir, background=True, log=logger)
        self.runner = Runner(self.core, AsyncioScheduler(), publish=self._publish,
                             persist=self.state_files,
                             handlers={SendDatagram: self._send}, log=logger,
                             before_timer=self._before_timer)
        self._table_due = asyncio.Event()
        self._leaving = False
        self.pacing = ReadPacing()
        self._snooze: asyncio.TimerHandle | None = None
        self._last_heard = 0.0  # packets are fed in time order, never before a timer

    # ------------------------------------------------------------------ effects
    def feed(self, event: Event) -> None:
        if self._leaving and not isinstance(event, Stopping):
            return  # after Leaving went out nothing else may: peers would see us come back
        self.runner.feed(event)

    def _publish(self, effect: Publish) -> None:
        self.publisher.publish(effect.topic, effect.event)
        if isinstance(effect.event, api.NodeStatusChanged):
            self._table_due.set()
            self._stay_awake(self.pacing.status_changed)

    def _before_timer(self, key: str) -> None:
        if key == "check":  # judge silence only after reading what already arrived
            self._drain()
        self._last_heard = max(self._last_heard, self.runner.monotonic())
        if key == "keepalive" and self._snooze is None and not self._leaving:
            # the peers beat on the same grid (liveness.to_grid): their keepalives arrive
            # in the next few ms, read together rather than one wake-up each
            loop = asyncio.get_running_loop()
            self._snooze_until(loop.time() + GRID_BURST)

    def _send(self, effect: SendDatagram) -> None:
        link = self.sockets.get(effect.link)
        if link is None:
            return
        if effect.dest is not None:  # a retransmission asked or answered, a direct message
            self._stay_awake(self.pacing.sent)
        now = self.runner.monotonic()
        for dest in [effect.dest] if effect.dest is not None else link.destinations:
            try:
                link.send(effect.data, dest, now, self.config.deadtime)
            except OSError:  # full buffer or unreachable peer: UDP may drop, the core resends
                self.counters_extra["tx.errors"] += 1
            else:
                self.counters_extra["udp.tx"] += 1

    def _readable(self, link: str) -> None:
        """A link socket has datagrams: read them, then maybe let the next ones queue."""
        count = self._read(link)
        if self._snooze is not None or self._leaving:
            return
        until = self.pacing.read(count, asyncio.get_running_loop().time())
        if until is not None:
            self._snooze_until(until)

    def _snooze_until(self, until: float) -> None:
        """Leave the link sockets unread until `until` (what queues meanwhile is read then,
        each datagram stamped with its arrival by the kernel)."""
        loop = asyncio.get_running_loop()
        for link_socket in self.sockets.values():
            loop.remove_reader(link_socket.sock.fileno())
        self._snooze = loop.call_at(until, self._wake)

    def _wake(self) -> None:
        """End a snooze: each datagram wakes the daemon again (those queued at once)."""
        if self._snooze is None:
            return
        self._snooze.cancel()
        self._snooze = None
        loop = asyncio.get_running_loop()
        for link, link_socket in self.sockets.items():
            loop.add_reader(link_socket.sock.fileno(), self._readable, link)

    def _stay_awake(self, note: Any) -> None:
        note(self.runner.monotonic())
        self._wake()

    def _read(self, link: str) -> int:
        """Read every datagram queued on `link` (up to READ_BATCH), not one per loop turn:
        after a CPU stall a timer must not judge silence while packets wait unread. Each is
        fed at its arrival time (never later than now, never before one fed earlier)."""
        link_socket = self.sockets[link]
        sock = link_socket.sock
        now = self.runner.monotonic()
        wall_to_loop = now - time.time()
        for count in range(READ_BATCH):
            try:
                data, ancillary, _, addr = sock.recvmsg(RECV_SIZE, STAMP_SPACE)
            except (BlockingIOError, InterruptedError):
                return count
            except OSError:  # e.g. ICMP port unreachable reported on the socket
                self.counters_extra["rx.errors"] = self.counters_extra.get("rx.errors", 0) + 1
                continue
            arrived = arrival_time(ancillary)
            heard = now if arrived is None else min(now, arrived + wall_to_loop)
            self._last_heard = max(self._last_heard, heard)
            link_socket.heard(addr[0], self._last_heard)
            self.feed(PacketReceived(link, data, (addr[0], addr[1]), self._last_heard))
        return READ_BATCH

    def _drain(self) -> None:
        for link in self.sockets:
            self._read(link)

    # ------------------------------------------------------------------ queries
    def table(self) -> api.NodeTable:
        now = asyncio.get_running_loop().time()
        table = self.core.table(now)
        counters = {**table.counters, **self.counters_extra}
        return api.NodeTable(table.local, table.cluster, table.nodes, counters, now)

    def answer(self, request: object, client: Client) -> object:
        """The control socket's requests (the Server answers Ping itself)."""
        now = self.runner.monotonic()
        if isinstance(request, api.SendMessage):
            if self._leaving:  # `feed` would drop it: an Ack would claim it left the node
                raise TransportError("send refused: heartbeat is stopping (left the cluster)")
            refusal = self.core.check_send(request.dst, request.channel, request.payload)
            if refusal is not None:
                raise ValidationError(f"send refused: {refusal}")
            self.feed(SendRequest(request.dst, request.channel, request.payload, now))
            self._stay_awake(self.pacing.sent)  # the answers are read as they come
            return api.Ack()
        if isinstance(request, api.QueryNodes):
            return self.table()
        if isinstance(request, api.QueryCounters):
            return api.Counters(self.table().counters)
        raise RemoteProtocolError(f"heartbeat does not serve {type(request).__name__}")

    # ------------------------------------------------------------------ tasks
    async def _publish_tables(self) -> None:
        while True:
            self.publisher.publish(api.TOPIC_TABLE.decode(), self.table())
            self._table_due.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._table_due.wait(), TABLE_INTERVAL)
                # The table follows a change TABLE_SETTLE later, not in the same instant:
                # at a death every node's heartbeat and ccm wake at once, and building and
                # decoding 16 rows (about 1 ms per node) delayed ccm's proposal and acks
                # on a loaded host. NodeStatusChanged itself goes out at once; a burst of
                # changes is coalesced into one table.
                await asyncio.sleep(TABLE_SETTLE)

    def stop(self) -> None:
        self.host.stop()

    def reload_keys(self) -> None:
        """SIGHUP: re-read authkeys; a bad file is logged and the old keys stay in use."""
        if self.options.authkeys_path is None:
            return
        try:
            keys = load_authkeys(self.options.authkeys_path)
        except ConfigError as error:
            self.log.error("authkeys_reload_failed", error=str(error))
            return
        self.feed(KeysReloaded(keys, self.runner.monotonic()))

    async def run(self) -> None:
        """Bind everything, run until SIGTERM/SIGINT or `stop()`, then leave cleanly."""
        loop = asyncio.get_running_loop()
        priority = apply_realtime(self.options.realtime and self.config.realtime,
                                  self.config.rtprio, self.log)
        self.sockets = open_links(self.media, self.options.bind_address)
        for link, link_socket in self.sockets.items():
            loop.add_reader(link_socket.sock.fileno(), self._readable, link)
        self.host.socket(self.publisher)
        self.host.socket(self.server)
        self.host.task(self.server.serve)
        self.host.task(self._publish_tables)
        loop.add_signal_handler(signal.SIGHUP, self.reload_keys)
        self.host.bind_all()
        self.log.info("heartbeat_started", generation=self.core.settings.generation,
                      scheduling=priority,
                      links=list(self.sockets), peers={k: v.destinations
                                                        for k, v in self.sockets.items()})
        self.feed(Started(loop.time(), time.time()))
        try:
            await self.host.run(bind=False)
        finally:
            self.runner.close()
            self.feed_leaving(loop.time())
            await asyncio.sleep(0.05)  # let the Leaving datagrams go out
            self._close()
            self.state_files.close()

    def feed_leaving(self, now: float) -> None:
        """Broadcast Leaving past the closed runner: its timers are gone, its sends not."""
        for effect in self.core.handle(Stopping(now)):
            if isinstance(effect, SendDatagram):
                self._send(effect)
            elif isinstance(effect, Persist):
                self.state_files(effect)
        self._leaving = True

    def _close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._snooze is not None:
            self._snooze.cancel()
            self._snooze = None
        for link_socket in self.sockets.values():
            loop.remove_reader(link_socket.sock.fileno())
            link_socket.close()
        self.log.info("heartbeat_stopped")
