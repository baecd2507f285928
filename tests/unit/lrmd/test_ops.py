"""The lrmd core driven by events and a FakeClock: serialisation, parallel limit, recurring
monitors, timeouts, cancel. No processes, no sleeps."""

from __future__ import annotations

import signal

from lrmd.messages import AgentSpec, ExecAccepted, ExecRequest, OpCompleted
from lrmd.ops import (
    AgentFinished,
    Cancel,
    KillProcessGroup,
    LrmdCore,
    RunAgent,
    Submit,
)
from messaging.clock import FakeClock
from messaging.effects import ArmTimer, CancelTimer, Publish, Send, TimerFired
from messaging.types import OpStatus

DUMMY = AgentSpec("ocf", "Dummy", "heartbeat")


class Harness:
    """Feeds events to the core and plays the timers it arms, by the FakeClock."""

    def __init__(self, **kw: object) -> None:
        self.clock = FakeClock()
        self.core = LrmdCore(**kw)  # type: ignore[arg-type]
        self.timers: dict[str, float] = {}
        self.started: list[RunAgent] = []
        self.published: list[OpCompleted] = []
        self.sent: list[Send] = []
        self.killed: list[KillProcessGroup] = []

    def feed(self, event: object) -> list[object]:
        effects = self.core.handle(event)  # type: ignore[arg-type]
        for effect in effects:
            if isinstance(effect, ArmTimer):
                self.timers[effect.key] = effect.deadline
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.key, None)
            elif isinstance(effect, RunAgent):
                self.started.append(effect)
            elif isinstance(effect, Publish):
                self.published.append(effect.event)
            elif isinstance(effect, Send):
                self.sent.append(effect)
            elif isinstance(effect, KillProcessGroup):
                self.killed.append(effect)
        return list(effects)

    def submit(self, resource: str, action: str, client: str = "c", **kw: object) -> int:
        request = ExecRequest(resource=resource, agent=DUMMY, action=action, **kw)  # type: ignore[arg-type]
        effects = self.feed(Submit(request, self.clock.monotonic(), client, self.clock.wall()))
        if client:
            accepted = [e.message for e in effects if isinstance(e, Send)]
            assert isinstance(accepted[0], ExecAccepted)
            return accepted[0].call_id
        return 0

    def finish(self, call_id: int, rc: int = 0, **kw: object) -> None:
        self.feed(AgentFinished(call_id, rc, self.clock.monotonic(), wall=self.clock.wall(),
                                **kw))  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers in deadline order."""
        target = self.clock.monotonic() + seconds
        while True:
            due = sorted((d, k) for k, d in self.timers.items() if d <= target)
            if not due:
                break
            deadline, key = due[0]
            del self.timers[key]
            self.clock.advance(deadline - self.clock.monotonic())
            self.feed(TimerFired(key, self.clock.monotonic(), self.clock.wall()))
        self.clock.advance(target - self.clock.monotonic())

    def running_ids(self) -> list[int]:
        done = {r.call_id for r in self.published if r.interval_ms == 0}
        return [r.call_id for r in self.started if r.call_id not in done]


def test_one_resource_is_serialised_in_submission_order() -> None:
    h = Harness(max_parallel=4)
    a = h.submit("r1", "start", client="c")
    b = h.submit("r1", "monitor", client="c")
    assert [s.call_id for s in h.started] == [a]
    h.clock.advance(2)
    h.finish(a)
    assert [s.call_id for s in h.started] == [a, b]
    assert h.published[0].exec_time_ms == 2000
    h.finish(b, 7)
    second = h.published[1]
    assert (second.call_id, second.rc, second.queue_time_ms) == (b, 7, 2000)


def test_parallel_limit_across_resources() -> None:
    h = Harness(max_parallel=2)
    ids = [h.submit(f"r{i}", "start", client="c") for i in range(4)]
    assert [s.call_id for s in h.started] == ids[:2]
    h.finish(ids[1])
    assert [s.call_id for s in h.started] == [ids[0], ids[1], ids[2]]
    assert h.core.running == 2 and h.core.queued == 1


def test_agent_environment_table_has_meta_keys() -> None:
    h = Harness()
    h.submit("r1", "notify", params={"state": "/x"}, meta={"notify-type": "pre"}, timeout_ms=30_000)
    params = h.started[0].params
    assert params["state"] == "/x"
    assert params["CRM_meta_notify_type"] == "pre"
    assert params["CRM_meta_timeout"] == "30000"
    # as Pacemaker's executor: no interval for a one-shot operation, no operation name
    # that the caller did not give (an agent's environment under Pacemaker 2.1.5)
    assert "CRM_meta_interval" not in params and "CRM_meta_name" not in params


def test_timeout_sends_term_then_kill_and_reports_timeout_status() -> None:
    h = Harness(kill_grace=3.0)
    call = h.submit("r1", "start", client="c", timeout_ms=10_000)
    h.advance(9.9)
    assert h.killed == []
    h.advance(0.2)
    assert h.killed == [KillProcessGroup(call, int(signal.SIGTERM))]
    h.advance(3.0)
    assert h.killed[-1] == KillProcessGroup(call, int(signal.SIGKILL))
    h.finish(call, -9)
    result = h.published[-1]
    assert result.status == OpStatus.TIMEOUT and result.failed
    assert "10000 ms" in result.exit_reason


def test_agent_that_never_dies_is_abandoned_and_frees_the_resource() -> None:
    h = Harness(kill_grace=1.0)
    call = h.submit("r1", "stop", client="c", timeout_ms=1000)
    nxt = h.submit("r1", "start", client="c")
    h.advance(10)
    assert h.published[0].call_id == call and h.published[0].status == OpStatus.TIMEOUT
    assert h.started[-1].call_id == nxt
    h.finish(call, 0)  # a late report for the abandoned process is ignored
    assert len(h.published) == 1


def test_recurring_monitor_reports_first_result_and_changes_only() -> None:
    # Pacemaker's execd with lrmd_opt_notify_changes_only: the repeated 7 is not reported
    h = Harness()
    call = h.submit("r1", "monitor", client="c", interval_ms=10_000)
    for rc in (0, 0, 0, 7, 7, 0):
        h.finish(call, rc)
        h.advance(10)
    rcs = [r.rc for r in h.published]
    assert rcs == [0, 7, 0]  # first, change to 7, change back
    assert len(h.started) == 7  # one more run queued after the last advance
    assert sum(1 for s in h.sent if isinstance(s.message, OpCompleted)) == 1


def test_failing_monitor_noticed_within_one_interval() -> None:
    h = Harness()
    call = h.submit("r1", "monitor", interval_ms=5000, target_rc=0)
    h.finish(call, 0)
    h.advance(5)
    h.finish(call, 1, exit_reason="gone")
    failure = h.published[-1]
    assert failure.rc == 1 and failure.failed and failure.exit_reason == "gone"


def test_last_rc_change_only_moves_when_rc_changes() -> None:
    h = Harness()
    call = h.submit("r1", "monitor", interval_ms=10_000)
    h.finish(call, 0)
    first = h.core.history("r1")[0].last_rc_change
    h.advance(10)
    h.finish(call, 0)
    assert h.core.history("r1")[0].last_rc_change == first
    assert h.core.history("r1")[0].last_run == first + 10


def test_results_are_stamped_with_the_wall_time_the_events_carry() -> None:
    core = LrmdCore()
    request = ExecRequest(resource="r1", agent=DUMMY, action="monitor", interval_ms=10_000)
    core.handle(Submit(request, 5.0, "c", wall=1_000.0))
    core.handle(AgentFinished(1, 0, 6.0, wall=1_001.0))
    assert core.history("r1")[0].last_run == 1_000.0  # started at now 5 = wall 1000
    # the wall clock is stepped forward (NTP): the next run is stamped with the new time
    core.handle(TimerFired("recur:1", 16.0, 9_000.0))
    core.handle(AgentFinished(1, 7, 17.0, wall=9_001.0))
    assert (core.history("r1")[0].last_run, core.history("r1")[0].last_rc_change) == (
        9_000.0, 9_000.0)


def test_stop_cancels_recurring_monitors_first() -> None:
    h = Harness()
    mon = h.submit("r1", "monitor", interval_ms=10_000)
    h.finish(mon, 0)
    stop = h.submit("r1", "stop", client="c")
    cancelled = [r for r in h.published if r.status == OpStatus.CANCELLED]
    assert [r.call_id for r in cancelled] == [mon]
    assert f"recur:{mon}" not in h.timers
    assert h.started[-1].call_id == stop
    assert h.core.recurring_ops() == []


def test_cancel_queued_waiting_and_running() -> None:
    h = Harness()
    first = h.submit("r1", "start", client="c")
    h.submit("r1", "monitor", interval_ms=5000)
    h.feed(Cancel("r1", "monitor", 5000, h.clock.monotonic()))  # still queued
    assert h.published[-1].status == OpStatus.CANCELLED
    h.finish(first)
    assert len(h.started) == 1  # the cancelled monitor never ran
    mon = h.submit("r1", "monitor", client="c", interval_ms=5000)
    h.feed(Cancel("r1", "monitor", 5000, h.clock.monotonic(), client="c"))  # running
    h.finish(mon, 0)
    assert h.published[-1].status == OpStatus.CANCELLED
    h.advance(60)
    assert len(h.started) == 2


def test_duplicate_recurring_request_is_merged_and_runs_now() -> None:
    h = Harness()
    call = h.submit("r1", "monitor", client="c", interval_ms=60_000)
    h.finish(call, 0)
    again = h.submit("r1", "monitor", client="d", interval_ms=60_000, params={"x": "1"})
    assert again == call
    assert len(h.started) == 2 and h.started[-1].params["x"] == "1"
    h.finish(call, 0)
    assert h.published[-1].params["x"] == "1"  # first result after merge is reported again


def test_history_keeps_last_failure_and_recurring_entries() -> None:
    h = Harness()
    start = h.submit("r1", "start", client="c")
    h.finish(start, 1, exit_reason="boom")
    ids = {r.op_key: r for r in h.core.history("r1")}
    assert ids["r1_start_0"].rc == 1
    stop = h.submit("r1", "stop", client="c")
    h.finish(stop, 0)
    keys = sorted((r.action, r.rc) for r in h.core.history("r1"))
    assert keys == [("start", 1), ("stop", 0)]  # last_failure_0 and last_0


def test_history_keeps_only_a_bounded_slice_of_output() -> None:
    h = Harness()
    call = h.submit("r1", "start")
    h.finish(call, 0, output="x" * 100_000)
    assert len(h.published[-1].output) == 100_000  # the caller gets what the runner kept
    assert len(h.core.history("r1")[0].output) <= 1024
