"""stonithd's I/O shell: asyncio, zmq sockets, agent processes, timers and the CIB file.

`Shell` performs a `Fencer`'s effects: `Send` to this node loops back as a `PeerMessage`,
to other nodes goes through a `PeerTransport`; `RunAgent` runs the agent (runner) and
feeds back `AgentFinished`; `ArmTimer`/`CancelTimer` map to loop timers; `Reply` and
`Publish` go to the callbacks the service gives. `Service` adds the sockets:

* a ROUTER at the request endpoint; frames `[id, "", msg]` are client requests,
  `[id, "", "P", sender, msg]` are messages from other fencers;
* a PUB at the event endpoint publishing `[b"fence", FenceResult]`;
* one DEALER per configured peer (`ZmqPeers`), sending `["", "P", our name, msg]`;
  or, under the launcher, `HeartbeatPeers` (heartbeat channel "stonith", peers from ccm).

The CIB file is polled (mtime and size); a changed file is loaded with
`devices.load_config`, and only a configuration that loads completely replaces the old one.
`run_once` is the daemon-less path of `stonith_admin --cib`: the same core and shell with
this node as the only fencer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import zmq
import zmq.asyncio
from lxml import etree

from lrmd import api as lrmd_api
from messaging.clock import MonotonicClock
from messaging.effects import ArmTimer, CancelTimer, Log, Publish, Send, TimerFired
from messaging.errors import ConfigError, ExitCode, NotFoundError, RemoteProtocolError
from messaging.logs import get_logger
from stonithd.api import DeviceActionResult, ErrorReply, decode, encode
from stonithd.core import ClientRequest, ConfigChanged, Fencer, PeerMessage
from stonithd.devices import FencingConfig, load_config
from stonithd.executor import AgentFinished, Reply, RunAgent
from stonithd.lrmd_bridge import translate_reply, translate_request
from stonithd.peers_heartbeat import HeartbeatPeers
from stonithd.results import Outcome, interpret
from stonithd.runner import find_agent, run_agent

PEER_FRAME = b"P"
CIB_POLL_SECONDS = 1.0
METADATA_TIMEOUT = 10.0


class PeerTransport(Protocol):
    """How this fencer reaches the others (zmq now, the heartbeat layer later)."""

    def send(self, node: str, payload: bytes) -> bool: ...

    def close(self) -> None: ...


class NoPeers:
    """A transport for a fencer alone (stonith_admin --cib)."""

    def send(self, node: str, payload: bytes) -> bool:
        return False

    def close(self) -> None:
        return None


class ZmqPeers:
    """One DEALER per peer endpoint (tcp:// or ipc://)."""

    def __init__(self, context: zmq.asyncio.Context, node: str, peers: Mapping[str, str]) -> None:
        self.node = node.encode()
        self.sockets: dict[str, Any] = {}
        for name, endpoint in peers.items():
            sock = context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, 1000)
            sock.connect(endpoint)
            self.sockets[name] = sock

    def send(self, node: str, payload: bytes) -> bool:
        sock = self.sockets.get(node)
        if sock is None:
            return False
        try:
            sock.send_multipart([b"", PEER_FRAME, self.node, payload], flags=zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close(0)


def agent_actions_from_metadata(xml: str) -> frozenset[str]:
    """The action names an agent's metadata lists (empty when it is not metadata)."""
    try:
        root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return frozenset()
    return frozenset(a.get("name", "") for a in root.iterfind("actions/action"))


class Shell:
    """Performs one Fencer's effects on the running asyncio loop."""

    def __init__(self, fencer: Fencer, agent_dirs: tuple[str, ...], transport: PeerTransport,
                 on_reply: Callable[[str, Any], None],
                 on_publish: Callable[[str, Any], None] | None = None) -> None:
        self.fencer = fencer
        self.agent_dirs = agent_dirs
        self.transport = transport
        self.on_reply = on_reply
        self.on_publish = on_publish
        self.clock = MonotonicClock()
        self.log = get_logger(daemon="stonithd", node=fencer.node)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._metadata: dict[str, frozenset[str]] = {}

    def feed(self, event: object) -> None:
        for effect in self.fencer.handle(event):
            self._perform(effect)

    def client(self, client: str, message: Any) -> None:
        self.feed(ClientRequest(client, message, self.clock.monotonic(), self.clock.wall()))

    def peer(self, sender: str, message: Any) -> None:
        self.feed(PeerMessage(sender, message, self.clock.monotonic(), self.clock.wall()))

    def _perform(self, effect: Any) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(effect, Send):
            if effect.destination == self.fencer.node:
                loop.call_soon(self.peer, self.fencer.node, effect.message)
            elif not self.transport.send(effect.destination, encode(effect.message)):
                self.log.warning("peer_unreachable", peer=effect.destination)
        elif isinstance(effect, Reply):
            self.on_reply(effect.client, effect.message)
        elif isinstance(effect, Publish):
            if self.on_publish is not None:
                self.on_publish(effect.topic, effect.event)
        elif isinstance(effect, ArmTimer):
            self._cancel(effect.key)
            delay = max(effect.deadline - self.clock.monotonic(), 0.0)
            self._timers[effect.key] = loop.call_later(delay, self._fire, effect.key)
        elif isinstance(effect, CancelTimer):
            self._cancel(effect.key)
        elif isinstance(effect, RunAgent):
            self._spawn(self._run(effect))
        elif isinstance(effect, Log):
            getattr(self.log, effect.level, self.log.info)(effect.event, **dict(effect.fields))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.feed(TimerFired(key, self.clock.monotonic()))

    async def _run(self, run: RunAgent) -> None:
        try:
            path = find_agent(run.agent, self.agent_dirs)
        except NotFoundError as error:
            outcome = Outcome(False, str(error))
        else:
            self.log.info("agent_started", run_id=run.run_id, device=run.device,
                          action=run.action)
            try:
                output = await run_agent(path, run.pairs, run.timeout)
            except (OSError, ValueError) as error:  # the core must still hear of this run
                self.log.exception("agent_run_failed", run_id=run.run_id)
                outcome = Outcome(False, f"could not run {run.agent}: {error}")
            else:
                outcome = interpret(run.action, output)
                self.log.info("agent_finished", run_id=run.run_id, ok=outcome.ok, rc=output.rc,
                              elapsed=round(output.elapsed, 4), reason=outcome.reason)
        self.feed(AgentFinished(run.run_id, outcome, self.clock.monotonic()))

    async def agent_actions(self, config: FencingConfig) -> dict[str, frozenset[str]]:
        """Each configured agent's actions from its metadata (cached per agent)."""
        for agent in sorted({d.agent for d in config.devices.values()}):
            if agent in self._metadata:
                continue
            try:
                path = find_agent(agent, self.agent_dirs)
            except NotFoundError:
                self.log.warning("agent_not_installed", agent=agent)
                continue
            output = await run_agent(path, [("action", "metadata")], METADATA_TIMEOUT)
            self._metadata[agent] = agent_actions_from_metadata(output.stdout)
        return {a: v for a, v in self._metadata.items() if v}

    async def load(self, config: FencingConfig) -> None:
        actions = await self.agent_actions(config)
        self.feed(ConfigChanged(config, actions, self.clock.monotonic()))

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        for task in self._tasks:
            task.cancel()

    async def aclose(self) -> None:
        """Cancel timers and agent runs and wait until the agents are killed."""
        tasks = list(self._tasks)
        self.close()
        await asyncio.gather(*tasks, return_exceptions=True)


def read_cib(path: Path, node: str | None) -> FencingConfig:
    """Load the fencing configuration from a CIB file.

    Raises:
        ConfigError: unreadable or unusable CIB (the message names the file).
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read CIB {path}: {error.strerror}") from None
    return load_config(data, source=str(path), local_node=node)


async def run_once(cib: Path, node: str, message: Any, agent_dirs: tuple[str, ...],
                   timeout: float) -> Any:
    """Carry out one request with a fencer of our own and no daemon; return its reply."""
    replies: asyncio.Queue[Any] = asyncio.Queue()
    shell = Shell(Fencer(node, random.Random()), agent_dirs, NoPeers(),
                  lambda _client, reply: replies.put_nowait(reply))
    try:
        await shell.load(read_cib(cib, node))
        shell.client("client:direct", message)
        return await asyncio.wait_for(replies.get(), timeout)
    finally:
        await shell.aclose()


class Service:
    """The stonithd daemon: sockets around a Shell, plus the CIB watcher."""

    def __init__(self, node: str, cib: Path, listen: str, events: str,
                 peers: Mapping[str, str], agent_dirs: tuple[str, ...],
                 wait_for_cib: bool = False, heartbeat_dir: Path | None = None) -> None:
        self.node, self.cib, self.listen, self.events = node, cib, listen, events
        self.wait_for_cib = wait_for_cib
        # stonith-class operations handed over by the lrmd, waiting for the fencer's answer
        self._lrmd_requests: dict[str, lrmd_api.StonithExecRequest] = {}
        self.context = zmq.asyncio.Context()
        self.router = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.pub = self.context.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.heartbeat: HeartbeatPeers | None = None
        self.transport: PeerTransport
        if heartbeat_dir is not None:  # peers are whoever ccm says is in the view
            self.heartbeat = HeartbeatPeers(heartbeat_dir, node, MonotonicClock().monotonic)
            self.transport = self.heartbeat
        else:
            self.transport = ZmqPeers(self.context, node, peers)
        fencer = Fencer(node, random.Random(), peers=tuple(peers))
        self.shell = Shell(fencer, agent_dirs, self.transport, self._reply, self._publish)
        self.log = self.shell.log
        if self.heartbeat is not None:
            self.heartbeat.on_message = self.shell.peer
            self.heartbeat.on_peers = self.shell.feed
        self._cib_stamp: tuple[float, int] | None = None
        self._loaded = False
        self._stop = asyncio.Event()

    def _reply(self, client: str, message: Any) -> None:
        identity = bytes.fromhex(client.removeprefix("client:"))
        handed_over = self._lrmd_requests.pop(client, None)
        if handed_over is not None and isinstance(message, DeviceActionResult | ErrorReply):
            payload = lrmd_api.encode(translate_reply(handed_over, message))
        else:
            payload = encode(message)
        self.router.send_multipart([identity, b"", payload])

    def _take_over_from_lrmd(self, client: str, body: list[bytes]) -> bool:
        """Serve a stonith-class operation the lrmd handed over (its wire, not ours)."""
        try:
            request = lrmd_api.decode(body[0]) if len(body) == 1 else None
        except RemoteProtocolError:
            return False
        if not isinstance(request, lrmd_api.StonithExecRequest):
            return False
        translated = translate_request(request)
        if isinstance(translated, lrmd_api.OpCompleted):
            identity = bytes.fromhex(client.removeprefix("client:"))
            self.router.send_multipart([identity, b"", lrmd_api.encode(translated)])
        else:
            self._lrmd_requests[client] = request
            self.shell.client(client, translated)
        return True

    def _publish(self, topic: str, event: Any) -> None:
        self.pub.send_multipart([topic.encode(), encode(event)])

    async def _reload_if_changed(self) -> None:
        try:
            stat = self.cib.stat()
        except OSError as error:
            if self._cib_stamp != (0.0, -1):
                self.log.error("cib_unreadable", path=str(self.cib), error=error.strerror)
                self._cib_stamp = (0.0, -1)
            return
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._cib_stamp:
            return
        self._cib_stamp = stamp
        try:
            config = read_cib(self.cib, self.node)
        except ConfigError as error:
            if not self._loaded:
                raise
            self.log.error("cib_rejected", error=str(error))
            return
        await self.shell.load(config)
        self._loaded = True

    async def _watch_cib(self) -> None:
        while not self._stop.is_set():
            await self._reload_if_changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), CIB_POLL_SECONDS)

    def _dispatch(self, frames: list[bytes]) -> None:
        identity, body = frames[0], frames[2:] if len(frames) > 2 and not frames[1] else []
        if len(body) == 3 and body[0] == PEER_FRAME:
            try:
                self.shell.peer(body[1].decode(), decode(body[2]))
            except (RemoteProtocolError, UnicodeDecodeError) as error:
                self.log.warning("bad_peer_message", error=str(error))
            return
        client = f"client:{identity.hex()}"
        try:
            if len(body) != 1:
                raise RemoteProtocolError(f"unexpected frame layout ({len(frames)} frames)")
            message = decode(body[0])
        except RemoteProtocolError as error:
            if self._take_over_from_lrmd(client, body):
                return
            self.log.warning("bad_client_message", error=str(error))
            self._reply(client, ErrorReply(ExitCode.PROTOCOL, str(error)))
            return
        self.shell.client(client, message)

    async def _serve(self) -> None:
        while not self._stop.is_set():
            frames = await self.router.recv_multipart()
            try:
                self._dispatch(frames)
            except Exception:  # a bug must not stop the fencer from serving others
                self.log.exception("internal_error")

    async def run(self) -> None:
        self.router.bind(self.listen)
        self.pub.bind(self.events)
        for endpoint in (self.listen, self.events):
            if endpoint.startswith("ipc://"):
                os.chmod(endpoint[6:], 0o600)
        await self._reload_if_changed()
        if not self._loaded and not self.wait_for_cib:
            raise ConfigError(f"cannot read CIB {self.cib}")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        if self.heartbeat is not None:
            self.heartbeat.start()
        self.log.info("stonithd_started", listen=self.listen, events=self.events,
                      peers="heartbeat" if self.heartbeat else "zmq")
        tasks = [asyncio.ensure_future(c) for c in (self._serve(), self._watch_cib())]
        await self._stop.wait()
        for task in tasks:
            task.cancel()
        await self.shell.aclose()
        self.close()

    def close(self) -> None:
        self.shell.close()
        self.transport.close()
        self.router.close(0)
        self.pub.close(0)
        self.context.term()
        for endpoint in (self.listen, self.events):
            if endpoint.startswith("ipc://"):
                with contextlib.suppress(OSError):
                    os.unlink(endpoint[6:])


__all__ = ["NoPeers", "PeerTransport", "Service", "Shell", "ZmqPeers", "run_once"]
