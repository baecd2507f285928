"""The lrmd daemon shell: sockets, timers and agent processes around the pure core.

`Executor` runs the core in a `messaging.runtime.Runner` on the asyncio loop (timers,
`Send` to a client, `Publish`) with two lrmd effects of its own: `RunAgent` (a task through
the `AgentRunner`) and `KillProcessGroup`; the CLI uses it alone to run an agent without a
daemon. `LrmdService` declares the rest: one `messaging.ipc.Server` on
``ipc://<state_dir>/lrmd.ctl`` and one `Publisher` on ``ipc://<state_dir>/lrmd.pub``
(topic ``op``), run by a `messaging.daemon.DaemonHost`. A malformed request gets an error
reply; nothing a client or an agent sends can stop the loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrmd.agents import list_agents, ocf_roots
from lrmd.api import API, CONTROL_SOCKET, PUBLISH_SOCKET
from lrmd.messages import (
    AgentSpec,
    CancelRequest,
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
from messaging.daemon import DaemonHost
from messaging.effects import Client, Publish, Send
from messaging.errors import (
    AgentExecError,
    ErrorReply,
    HAError,
    InternalError,
    RemoteProtocolError,
    UsageError,
)
from messaging.ipc import Publisher, Server, prepare_state_dir
from messaging.logs import get_logger
from messaging.runtime import AsyncioScheduler, Runner
from messaging.types import OpStatus

METADATA_TIMEOUT_MS = 10_000


class Executor:
    """The core in a `messaging.runtime.Runner` on the running asyncio loop, plus the lrmd's
    own effects: `RunAgent` (a task through the `AgentRunner`) and `KillProcessGroup`."""

    def __init__(
        self,
        core: LrmdCore,
        runner: AgentRunner,
        *,
        send: Callable[[str, Any], None],
        publish: Callable[[OpCompleted], None],
    ) -> None:
        self.core = core
        self.runner = runner
        self.log = get_logger(daemon="lrmd")
        self._send = send
        self._publish = publish
        self._tasks: set[asyncio.Task[None]] = set()
        self.loop = Runner(core, AsyncioScheduler(), send=self._on_send,
                           publish=self._on_publish, log=self.log,
                           handlers={RunAgent: self._start, KillProcessGroup: self._kill})

    def feed(self, event: Any) -> None:
        self.loop.feed(event)

    def submit(self, request: ExecRequest, client: str) -> None:
        self.feed(Submit(request, self.loop.monotonic(), client, self.loop.wall()))

    def cancel(self, request: CancelRequest, client: str) -> None:
        now, wall = self.loop.monotonic(), self.loop.wall()
        self.feed(Cancel(request.resource, request.action, request.interval_ms, now, client, wall))

    def _on_send(self, effect: Send) -> None:
        if not isinstance(effect.destination, Client):
            raise InternalError(f"lrmd has no peers: {effect.destination!r}")
        self._send(effect.destination.token, effect.message)

    def _on_publish(self, effect: Publish) -> None:
        self._publish(effect.event)

    def _start(self, effect: RunAgent) -> None:
        task = asyncio.get_running_loop().create_task(self._run(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _kill(self, effect: KillProcessGroup) -> None:
        self.log.warning("agent_kill", call_id=effect.call_id, signal=effect.signal)
        self.runner.kill(effect.call_id, effect.signal)

    async def _run(self, effect: RunAgent) -> None:
        try:
            outcome = await self.runner.run(effect.call_id, effect.request, effect.params)
            finished = AgentFinished(effect.call_id, outcome.rc, self.loop.monotonic(),
                                     outcome.status, outcome.exit_reason, outcome.output,
                                     self.loop.wall())
        except Exception as error:  # a bug in the shell must not wedge the resource
            self.log.error("agent_run_failed", call_id=effect.call_id, error=repr(error))
            finished = AgentFinished(
                effect.call_id, 1, self.loop.monotonic(), OpStatus.ERROR, f"lrmd: {error}",
                wall=self.loop.wall(),
            )
        self.feed(finished)

    def shutdown(self) -> None:
        """Cancel timers and terminate agents still running."""
        self.loop.close()
        for call_id in self.runner.running_calls():
            self.runner.kill(call_id, signal.SIGTERM)


class LrmdService:
    """One node's lrmd: the executor behind one Server (requests) and a Publisher."""

    def __init__(
        self,
        state_dir: Path,
        *,
        max_parallel: int = 0,
        kill_grace: float = 5.0,
        runner: SubprocessRunner | None = None,
    ) -> None:
        self.state_dir = state_dir
        core = LrmdCore(
            max_parallel=max_parallel or 2 * (os.cpu_count() or 1),
            kill_grace=kill_grace,
        )
        self.runner = runner or SubprocessRunner(state_dir=state_dir)
        self.executor = Executor(core, self.runner, send=self._send, publish=self._publish)
        self.log = get_logger(daemon="lrmd", state_dir=str(state_dir))
        self.server = Server(f"ipc://{state_dir / CONTROL_SOCKET}", API, self.answer,
                             daemon="lrmd", log=self.log)
        self.publisher = Publisher(f"ipc://{state_dir / PUBLISH_SOCKET}", API)
        self._metadata: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _send(self, client: str, message: Any) -> None:
        self.server.send(Client(client), message)

    def _publish(self, event: OpCompleted) -> None:
        self.log.info(
            "op_completed",
            op_key=event.op_key,
            call_id=event.call_id,
            rc=event.rc,
            status=OpStatus(event.status).name,
            exec_ms=event.exec_time_ms,
        )
        self.publisher.publish(OP_TOPIC, event)

    async def serve(self, host: DaemonHost) -> None:
        """Answer requests until `host` stops."""
        prepare_state_dir(self.state_dir)
        host.socket(self.server)
        host.socket(self.publisher)
        host.task(self.server.serve)
        host.closing(self.executor.loop)
        self.log.info("lrmd_started", pid=os.getpid())
        try:
            await host.run()
        finally:
            self.executor.shutdown()
            self.log.info("lrmd_stopped")

    def answer(self, request: Any, client: Client) -> Any:
        """One request of the control socket: a reply now, or None (the core answers)."""
        if isinstance(request, ExecRequest):
            self.executor.submit(check_request(request), client.token)
        elif isinstance(request, CancelRequest):
            self.executor.cancel(request, client.token)
        elif isinstance(request, HistoryRequest):
            return HistoryReply(tuple(self.executor.core.history(request.resource)))
        elif isinstance(request, ListRequest):
            return ListReply(tuple(list_agents(self.runner.roots, self.runner.lsb)))
        elif isinstance(request, MetadataRequest):
            task = asyncio.get_running_loop().create_task(self._metadata_reply(request, client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            raise RemoteProtocolError(f"{type(request).__name__} is not an lrmd request")
        return None

    async def _metadata_reply(self, request: MetadataRequest, client: Client) -> None:
        try:
            reply: Any = MetadataReply(await metadata(self.runner, request.agent, self._metadata))
        except HAError as error:
            reply = ErrorReply.of(error)
        self.server.send(client, reply)


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
            raise AgentExecError(f"{agent}: not installed")
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
    os.chdir("/")  # agents inherit the daemon's working directory
    runner = SubprocessRunner(roots=[*extra_roots, *ocf_roots()], state_dir=state_dir)
    service = LrmdService(
        state_dir, max_parallel=max_parallel, kill_grace=kill_grace, runner=runner
    )
    await service.serve(DaemonHost(service.log))
