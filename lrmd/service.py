"""The lrmd daemon shell: zmq sockets, timers and agent processes around the pure core.

`Executor` performs the core's effects on an asyncio loop (timers with ``loop.call_at``,
agent runs as tasks through `SubprocessRunner`, kills via process groups) and hands replies
and published events to two callbacks; the CLI uses it alone to run an agent without a
daemon. `LrmdService` adds the sockets: a ROUTER on ``ipc://<state_dir>/lrmd.ctl`` for
requests and a PUB on ``ipc://<state_dir>/lrmd.pub`` (topic ``op``) for `OpCompleted` events,
both mode 0660. A malformed request gets an `ErrorReply`; nothing a client or an agent
sends can stop the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from lrmd.agents import list_agents, ocf_roots
from lrmd.api import CONTROL_SOCKET, PUBLISH_SOCKET, decode, encode
from lrmd.messages import (
    AgentSpec,
    CancelRequest,
    ErrorReply,
    ExecRequest,
    HistoryReply,
    HistoryRequest,
    ListReply,
    ListRequest,
    MetadataReply,
    MetadataRequest,
    OpCompleted,
)
from lrmd.ops import OP_TOPIC, AgentFinished, Cancel, KillProcessGroup, LrmdCore, RunAgent, Submit
from lrmd.runner import AgentRunner, SubprocessRunner
from messaging.clock import Clock, MonotonicClock
from messaging.effects import ArmTimer, CancelTimer, Log, Publish, Send, TimerFired
from messaging.errors import ExitCode, HAError, RemoteProtocolError, UsageError
from messaging.logs import get_logger
from messaging.types import OpStatus

METADATA_TIMEOUT_MS = 10_000
_metadata_calls = itertools.count(-1, -1)  # negative ids never clash with core call ids


class Executor:
    """The core plus the effects it asks for, on the running asyncio loop."""

    def __init__(
        self,
        core: LrmdCore,
        runner: AgentRunner,
        *,
        send: Callable[[str, Any], None],
        publish: Callable[[OpCompleted], None],
        clock: Clock | None = None,
    ) -> None:
        self.core = core
        self.runner = runner
        self.clock = clock or MonotonicClock()
        self._send = send
        self._publish = publish
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.log = get_logger(daemon="lrmd")

    def feed(self, event: Any) -> None:
        for effect in self.core.handle(event):
            self._perform(effect)

    def submit(self, request: ExecRequest, client: str) -> None:
        self.feed(Submit(request, self.clock.monotonic(), client))

    def cancel(self, request: CancelRequest, client: str) -> None:
        now = self.clock.monotonic()
        self.feed(Cancel(request.resource, request.action, request.interval_ms, now, client))

    def _perform(self, effect: Any) -> None:
        if isinstance(effect, RunAgent):
            task = asyncio.get_running_loop().create_task(self._run(effect))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(effect, ArmTimer):
            self._arm(effect)
        elif isinstance(effect, CancelTimer):
            handle = self._timers.pop(effect.key, None)
            if handle is not None:
                handle.cancel()
        elif isinstance(effect, KillProcessGroup):
            self.log.warning("agent_kill", call_id=effect.call_id, signal=effect.signal)
            self.runner.kill(effect.call_id, effect.signal)
        elif isinstance(effect, Publish):
            self._publish(effect.event)
        elif isinstance(effect, Send):
            self._send(effect.destination, effect.message)
        elif isinstance(effect, Log):
            getattr(self.log, effect.level)(effect.event, **dict(effect.fields))

    def _arm(self, effect: ArmTimer) -> None:
        old = self._timers.pop(effect.key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, effect.deadline - self.clock.monotonic())
        self._timers[effect.key] = loop.call_later(delay, self._fire, effect.key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.feed(TimerFired(key, self.clock.monotonic()))

    async def _run(self, effect: RunAgent) -> None:
        try:
            outcome = await self.runner.run(effect.call_id, effect.request, effect.params)
            finished = AgentFinished(
                effect.call_id,
                outcome.rc,
                self.clock.monotonic(),
                outcome.status,
                outcome.exit_reason,
                outcome.output,
            )
        except Exception as error:  # a bug in the shell must not wedge the resource
            self.log.error("agent_run_failed", call_id=effect.call_id, error=repr(error))
            finished = AgentFinished(
                effect.call_id, 1, self.clock.monotonic(), OpStatus.ERROR, f"lrmd: {error}"
            )
        self.feed(finished)

    def shutdown(self) -> None:
        """Cancel timers and terminate agents still running."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for call_id in self.runner.running_calls():
            self.runner.kill(call_id, signal.SIGTERM)


class LrmdService:
    """One node's lrmd: the executor behind a ROUTER (requests) and a PUB (events)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        max_parallel: int = 0,
        kill_grace: float = 5.0,
        runner: SubprocessRunner | None = None,
    ) -> None:
        self.state_dir = state_dir
        clock = MonotonicClock()
        core = LrmdCore(
            max_parallel=max_parallel or 2 * (os.cpu_count() or 1),
            wall_offset=clock.wall() - clock.monotonic(),
            kill_grace=kill_grace,
        )
        self.runner = runner or SubprocessRunner(state_dir=state_dir)
        self.executor = Executor(
            core, self.runner, send=self._send, publish=self._publish, clock=clock
        )
        self._context = zmq.asyncio.Context()
        self._router = self._context.socket(zmq.ROUTER)
        self._pub = self._context.socket(zmq.PUB)
        self._metadata: dict[str, str] = {}
        self.log = get_logger(daemon="lrmd", state_dir=str(state_dir))

    def _bind(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for sock, name in ((self._router, CONTROL_SOCKET), (self._pub, PUBLISH_SOCKET)):
            path = self.state_dir / name
            path.unlink(missing_ok=True)
            sock.setsockopt(zmq.LINGER, 0)
            umask = os.umask(0o117)  # the socket never exists with wider permissions
            try:
                sock.bind(f"ipc://{path}")
            finally:
                os.umask(umask)
            os.chmod(path, 0o660)
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 0)

    def _send(self, client: str, message: Any) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self._router.send_multipart(
                [bytes.fromhex(client), b"", encode(message)], flags=zmq.NOBLOCK
            )

    def _publish(self, event: OpCompleted) -> None:
        self.log.info(
            "op_completed",
            op_key=event.op_key,
            call_id=event.call_id,
            rc=event.rc,
            status=OpStatus(event.status).name,
            exec_ms=event.exec_time_ms,
        )
        with contextlib.suppress(zmq.ZMQError):
            self._pub.send_multipart([OP_TOPIC.encode(), encode(event)], flags=zmq.NOBLOCK)

    async def serve(self, stop: asyncio.Event) -> None:
        """Answer requests until `stop` is set."""
        self._bind()
        self.log.info("lrmd_started", pid=os.getpid())
        try:
            while not stop.is_set():
                if not await self._router.poll(200):
                    continue
                frames = await self._router.recv_multipart()
                await self._handle_frames(frames)
        finally:
            self.executor.shutdown()
            for name in (CONTROL_SOCKET, PUBLISH_SOCKET):
                (self.state_dir / name).unlink(missing_ok=True)
            self._router.close(0)
            self._pub.close(0)
            self._context.term()
            self.log.info("lrmd_stopped")

    async def _handle_frames(self, frames: list[bytes]) -> None:
        if len(frames) < 2:
            return
        client = frames[0].hex()
        try:
            request = decode(frames[-1])
            await self._dispatch(request, client)
        except HAError as error:
            self._send(client, ErrorReply(str(error), int(error.exit_code)))
        except Exception as error:  # keep serving whatever a request did
            self.log.error("request_failed", error=repr(error))
            self._send(client, ErrorReply(f"internal error: {error}", int(ExitCode.SOFTWARE)))

    async def _dispatch(self, request: Any, client: str) -> None:
        if isinstance(request, ExecRequest):
            self.executor.submit(check_request(request), client)
        elif isinstance(request, CancelRequest):
            self.executor.cancel(request, client)
        elif isinstance(request, HistoryRequest):
            self._send(client, HistoryReply(tuple(self.executor.core.history(request.resource))))
        elif isinstance(request, ListRequest):
            agents = list_agents(self.runner.roots, self.runner.lsb)
            self._send(client, ListReply(tuple(agents)))
        elif isinstance(request, MetadataRequest):
            asyncio.get_running_loop().create_task(self._metadata_reply(request.agent, client))
        else:
            raise RemoteProtocolError(f"{type(request).__name__} is not a request")

    async def _metadata_reply(self, agent: AgentSpec, client: str) -> None:
        try:
            xml = await metadata(self.runner, agent, self._metadata)
            self._send(client, MetadataReply(xml))
        except HAError as error:
            self._send(client, ErrorReply(str(error), int(error.exit_code)))


def check_request(request: ExecRequest) -> ExecRequest:
    """Refuse requests the core cannot honour, naming the field."""
    if not request.resource or not request.action:
        raise UsageError("ExecRequest: resource and action must not be empty")
    if request.timeout_ms <= 0 or request.interval_ms < 0:
        raise UsageError("ExecRequest: timeout must be > 0 and interval >= 0")
    if not isinstance(request.params, dict) or not isinstance(request.meta, dict):
        raise UsageError("ExecRequest: params and meta must be maps")
    if not isinstance(request.agent, AgentSpec):
        raise UsageError("ExecRequest: agent must be class/provider/type")
    return request


async def metadata(runner: SubprocessRunner, agent: AgentSpec, cache: dict[str, str]) -> str:
    """An agent's meta-data XML, run once and cached per agent.

    Raises:
        HAError: the agent is missing or its meta-data call failed.
    """
    key = str(agent)
    if key not in cache:
        request = ExecRequest(agent.type, agent, "meta-data", timeout_ms=METADATA_TIMEOUT_MS)
        try:
            outcome = await asyncio.wait_for(runner.run(0, request, {}), METADATA_TIMEOUT_MS / 1000)
        except TimeoutError:
            runner.kill(0, signal.SIGKILL)
            raise HAError(f"{agent}: meta-data timed out") from None
        if outcome.status is OpStatus.NOT_INSTALLED:
            error = HAError(f"{agent}: not installed")
            error.exit_code = ExitCode.NOT_INSTALLED
            raise error
        if outcome.rc != 0 or not outcome.output.strip():
            raise HAError(f"{agent}: meta-data failed with rc {outcome.rc}")
        cache[key] = outcome.output
    return cache[key]


async def run_daemon(
    state_dir: Path,
    *,
    max_parallel: int = 0,
    kill_grace: float = 5.0,
    extra_roots: tuple[Path, ...] = (),
) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    os.chdir("/")  # agents inherit the daemon's working directory
    runner = SubprocessRunner(roots=[*extra_roots, *ocf_roots()], state_dir=state_dir)
    service = LrmdService(
        state_dir, max_parallel=max_parallel, kill_grace=kill_grace, runner=runner
    )
    await service.serve(stop)
