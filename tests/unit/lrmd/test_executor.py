"""The executor shell (effects on an asyncio loop) with the in-memory FakeAgentRunner: the
plumbing from request to reply, recurring runs, and a hung agent killed by its timeout.
No processes and no sockets; timeouts are tens of milliseconds of loop time."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from lrmd.fake import FakeAgentRunner
from lrmd.messages import AgentSpec, ExecAccepted, ExecRequest, OpCompleted
from lrmd.ops import LrmdCore
from lrmd.service import Executor
from messaging.types import OpStatus

AGENT = AgentSpec("ocf", "Stateful", "hacluster")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.published: list[OpCompleted] = []
        self.changed = asyncio.Event()

    def send(self, client: str, message: Any) -> None:
        self.sent.append((client, message))
        self.changed.set()

    def publish(self, event: OpCompleted) -> None:
        self.published.append(event)
        self.changed.set()

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():  # woken by results, or re-checked every 10 ms
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.01)


def _executor(runner: FakeAgentRunner, recorder: Recorder, **kw: Any) -> Executor:
    return Executor(LrmdCore(**kw), runner, send=recorder.send, publish=recorder.publish)


def test_request_reply_and_roles() -> None:
    async def scenario() -> list[int]:
        runner, rec = FakeAgentRunner(), Recorder()
        executor = _executor(runner, rec)
        for action in ("monitor", "start", "promote", "monitor", "demote", "stop", "monitor"):
            executor.submit(ExecRequest("db", AGENT, action), "aa")
        await rec.until(lambda: len(rec.published) == 7)
        assert isinstance(rec.sent[0][1], ExecAccepted)
        return [r.rc for r in rec.published]

    assert asyncio.run(scenario()) == [7, 0, 0, 8, 0, 0, 7]


def test_recurring_monitor_failure_is_published() -> None:
    async def scenario() -> list[int]:
        runner, rec = FakeAgentRunner(), Recorder()
        runner.roles["db"] = "Started"
        executor = _executor(runner, rec)
        executor.submit(ExecRequest("db", AGENT, "monitor", interval_ms=20), "aa")
        await rec.until(lambda: len(runner.calls) >= 3)
        runner.script("db", "monitor", rc=1, exit_reason="broken")
        await rec.until(lambda: any(r.rc == 1 for r in rec.published))
        executor.shutdown()
        return [r.rc for r in rec.published]

    rcs = asyncio.run(scenario())
    assert rcs[0] == 0 and rcs.count(0) == 1 and rcs[-1] == 1  # unchanged runs not published


def test_hung_agent_is_killed_and_reported_as_timeout() -> None:
    async def scenario() -> OpCompleted:
        runner, rec = FakeAgentRunner(), Recorder()
        runner.script("db", "start", hang=True)
        executor = _executor(runner, rec, kill_grace=0.05)
        executor.submit(ExecRequest("db", AGENT, "start", timeout_ms=30), "aa")
        await rec.until(lambda: bool(rec.published))
        assert runner.running_calls() == []
        return rec.published[0]

    result = asyncio.run(scenario())
    assert result.status == OpStatus.TIMEOUT and "30 ms" in result.exit_reason
