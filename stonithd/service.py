"""stonithd's I/O shell: asyncio, its sockets, agent processes, timers and the CIB file.

`Shell` runs a `Fencer` in a `messaging.runtime.Runner` (timers, `Publish`, `Log`) with
stonithd's own effect `RunAgent` (run the agent, feed back `AgentFinished`); `Send` to a
`Client` answers that local client, to this node loops back as a `PeerMessage`, to another
node goes through a `PeerTransport` (`stonithd.transport`) as a peer frame. `Service`
declares the sockets, run by a `messaging.daemon.DaemonHost`:

* one `messaging.ipc.Server` at the request endpoint: client requests, `PeerDelivery`
  from fencers over zmq (--peer), and the lrmd's `messaging.handoff.StonithExecRequest`;
* a `Publisher` at the event endpoint publishing `FenceResult` under topic `fence`;
* the peers: `ZmqPeers`, or under the launcher `HeartbeatPeers` (heartbeat channel
  "stonith", peers from ccm).

The CIB comes from the node's cib daemon (`messaging.cib_contract.follow_cib`: the whole CIB
at start, again after each configuration change announced on topic cib.diff that
`cib_interest.concerns_fencing` cannot rule out, and after a gap); with `--cib FILE` (no
cib daemon: tests, `stonith_admin --cib`, a fencer on its own) that file is polled instead
(mtime and size). Either way a CIB is loaded with `devices.load_config`, and only a
configuration that loads completely replaces the old one. `run_once` is the daemon-less
path of `stonith_admin --cib`: the same core and shell with this node as the only fencer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lxml import etree

from messaging.cib_contract import Version, follow_cib
from messaging.daemon import DaemonHost
from messaging.effects import Client, Node, Publish, Send
from messaging.errors import ConfigError, ErrorReply, InternalError, NotFoundError
from messaging.handoff import StonithExecRequest, StonithExecResult
from messaging.ipc import Publisher, Server
from messaging.logs import get_logger
from messaging.runtime import AsyncioScheduler, Runner
from stonithd.api import (
    API,
    Delivered,
    DeviceActionResult,
    PeerDelivery,
    open_peer_frame,
    peer_frame,
)
from stonithd.cib_interest import concerns_fencing
from stonithd.core import Fencer
from stonithd.devices import FencingConfig, load_config
from stonithd.events import ClientRequest, ConfigChanged, PeerMessage, PeersChanged
from stonithd.executor import AgentFinished, RunAgent
from stonithd.lrmd_bridge import translate_reply, translate_request
from stonithd.peers_heartbeat import HeartbeatPeers
from stonithd.results import Outcome, interpret
from stonithd.runner import find_agent, run_agent
from stonithd.transport import NoPeers, PeerTransport, ZmqPeers

CIB_POLL_SECONDS = 1.0
METADATA_TIMEOUT = 10.0


def agent_actions_from_metadata(xml: str) -> frozenset[str]:
    """The action names an agent's metadata lists (empty when it is not metadata)."""
    try:
        root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return frozenset()
    return frozenset(a.get("name", "") for a in root.iterfind("actions/action"))


class Shell:
    """Runs one Fencer and performs its effects on the running asyncio loop."""

    def __init__(self, fencer: Fencer, agent_dirs: tuple[str, ...], transport: PeerTransport,
                 on_reply: Callable[[str, Any], None],
                 on_publish: Callable[[str, Any], None] | None = None) -> None:
        self.fencer = fencer
        self.agent_dirs = agent_dirs
        self.transport = transport
        self.on_reply = on_reply
        self.on_publish = on_publish
        self.log = get_logger(daemon="stonithd", node=fencer.node)
        self.runner = Runner(fencer, AsyncioScheduler(), send=self._send,
                             publish=self._publish, handlers={RunAgent: self._start},
                             log=self.log)
        self._tasks: set[asyncio.Task[None]] = set()
        self._metadata: dict[str, frozenset[str]] = {}

    def feed(self, event: object) -> None:
        self.runner.feed(event)

    def peers_changed(self, event: PeersChanged) -> None:
        self.feed(dataclasses.replace(event, wall=self.runner.wall()))

    def client(self, client: str, message: Any) -> None:
        self.feed(ClientRequest(client, message, self.runner.monotonic(), self.runner.wall()))

    def peer(self, sender: str, message: Any) -> None:
        self.feed(PeerMessage(sender, message, self.runner.monotonic(), self.runner.wall()))

    def _send(self, effect: Send) -> None:
        destination = effect.destination
        if isinstance(destination, Client):
            self.on_reply(destination.token, effect.message)
        elif not isinstance(destination, Node):
            raise InternalError(f"the fencer core does not broadcast: {effect!r}")
        elif destination.name == self.fencer.node:
            asyncio.get_running_loop().call_soon(self.peer, self.fencer.node, effect.message)
        elif not self.transport.send(destination.name, peer_frame(effect.message)):
            self.log.warning("peer_unreachable", peer=destination.name)

    def _publish(self, effect: Publish) -> None:
        if self.on_publish is not None:
            self.on_publish(effect.topic, effect.event)

    def _start(self, effect: RunAgent) -> None:
        task = asyncio.ensure_future(self._run(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        self.feed(AgentFinished(run.run_id, outcome, self.runner.monotonic(),
                                self.runner.wall()))

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
        self.feed(ConfigChanged(config, actions, self.runner.monotonic(), self.runner.wall()))

    def close(self) -> None:
        self.runner.close()
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
    """The stonithd daemon: its sockets around a Shell, plus the CIB watcher."""

    def __init__(self, node: str, cib: Path | None, listen: str, events: str,
                 peers: Mapping[str, str], agent_dirs: tuple[str, ...],
                 wait_for_cib: bool = False, heartbeat_dir: Path | None = None,
                 state_dir: Path | None = None) -> None:
        """`cib` None: follow the cib daemon whose sockets are in `state_dir`."""
        if cib is None and state_dir is None:
            raise InternalError("stonithd needs a CIB file or the cib daemon's state dir")
        self.node, self.cib, self.listen, self.events = node, cib, listen, events
        self.state_dir = state_dir
        self.wait_for_cib = wait_for_cib
        self.log = get_logger(daemon="stonithd", node=node)
        # stonith-class operations handed over by the lrmd, waiting for the fencer's answer
        self._lrmd_requests: dict[str, StonithExecRequest] = {}
        self.server = Server(listen, API, self.answer, daemon="stonithd", log=self.log)
        self.publisher = Publisher(events, API)
        self.heartbeat: HeartbeatPeers | None = None
        self.transport: PeerTransport
        if heartbeat_dir is not None:  # peers are whoever ccm says is in the view
            self.heartbeat = HeartbeatPeers(heartbeat_dir, node)
            self.transport = self.heartbeat
        else:
            self.transport = ZmqPeers(node, peers, self.log) if peers else NoPeers()
        fencer = Fencer(node, random.Random(), peers=tuple(peers))
        self.shell = Shell(fencer, agent_dirs, self.transport, self._reply, self.publisher.publish)
        if self.heartbeat is not None:
            self.heartbeat.on_message = self.shell.peer
            self.heartbeat.on_peers = self.shell.peers_changed
        self._cib_stamp: tuple[float, int] | None = None
        self._loaded = False
        self.host = DaemonHost(self.log)

    def answer(self, request: Any, client: Client) -> Any:
        """One request of the request socket (the Server answers Ping itself)."""
        if isinstance(request, PeerDelivery):
            self.shell.peer(request.sender, open_peer_frame(request.message))
            return Delivered()
        if isinstance(request, StonithExecRequest):
            translated = translate_request(request)
            if isinstance(translated, StonithExecResult):
                return translated
            self._lrmd_requests[client.token] = request
            self.shell.client(client.token, translated)
            return None
        self.shell.client(client.token, request)  # the core answers, or refuses non-requests
        return None

    def _reply(self, token: str, message: Any) -> None:
        handed_over = self._lrmd_requests.pop(token, None)
        if handed_over is not None and isinstance(message, DeviceActionResult | ErrorReply):
            message = translate_reply(handed_over, message)
        self.server.send(Client(token), message)

    async def _on_cib(self, text: str, version: Version) -> None:
        """A CIB from the cib daemon: load it unless its fencing configuration is unusable."""
        try:
            config = load_config(text.encode(), source=f"the cib daemon's CIB {version}",
                                 local_node=self.node)
        except ConfigError as error:
            self.log.error("cib_rejected", error=str(error), version=str(version))
            return
        self.log.info("cib_loaded", version=str(version))
        await self.shell.load(config)
        self._loaded = True

    async def _follow_daemon(self) -> None:
        assert self.state_dir is not None
        await follow_cib(self.state_dir, self._on_cib, log=self.log,
                         concerns=concerns_fencing)

    async def _reload_if_changed(self) -> None:
        assert self.cib is not None
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
        while True:
            await self._reload_if_changed()
            await asyncio.sleep(CIB_POLL_SECONDS)

    async def run(self) -> None:
        self.host.socket(self.server)
        self.host.socket(self.publisher)
        self.host.bind_all()
        if self.cib is not None:
            await self._reload_if_changed()
        if self.cib is not None and not self._loaded and not self.wait_for_cib:
            self.server.close()
            self.publisher.close()
            raise ConfigError(f"cannot read CIB {self.cib}")
        if self.heartbeat is not None:
            self.heartbeat.start()
        self.log.info("stonithd_started", listen=self.listen, events=self.events,
                      peers="heartbeat" if self.heartbeat else "zmq")
        self.host.task(self.server.serve)
        self.host.task(self._watch_cib if self.cib is not None else self._follow_daemon)
        self.host.closing(self.transport)
        self.host.closing(self.shell)
        try:
            await self.host.run(bind=False)
        finally:
            await self.shell.aclose()


__all__ = ["Service", "Shell", "run_once"]
