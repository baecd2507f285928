"""The launcher's wedge verdict (messaging.wedge), driven with a fake clock.

A simulated daemon is probed every 5 s, as the launcher does. What the launcher would read
(its loop heartbeat, a Ping answer, the kernel's run-queue wait) is scripted per scenario:
a starved daemon that keeps turning, however slowly, is never killed; a daemon whose loop
stopped is killed within a bound, blocked or spinning, loaded host or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from messaging.clock import FakeClock
from messaging.effects import Log
from messaging.wedge import KillWedged, LoopProbe, WedgeDetector

INTERVAL = 5.0
DEADLINE = 30.0


@dataclass
class SimulatedDaemon:
    """A daemon as the launcher sees it: a beat counter and a run-queue wait total."""

    started: float = 0.0
    beat: int = 0
    run_delay: float | None = 0.0


Step = Callable[[SimulatedDaemon, float], bool]  # (daemon, now) -> answered a Ping


def _run(step: Step, seconds: float, *, load: float = 0.0, grace: float = 10.0,
         daemon: SimulatedDaemon | None = None) -> tuple[list[float], list[str]]:
    """Probe for `seconds`; the times of kills and the logged events, in order."""
    clock = FakeClock()
    detector = WedgeDetector(deadline=DEADLINE, grace=grace)
    daemon = daemon or SimulatedDaemon()
    kills: list[float] = []
    events: list[str] = []
    while clock.monotonic() < seconds:
        now = clock.advance(INTERVAL)
        answered = step(daemon, now)
        probe = LoopProbe("cib", now, daemon.started, daemon.beat, answered,
                          daemon.run_delay, load)
        for effect in detector.handle(probe):
            if isinstance(effect, KillWedged):
                kills.append(now)
                daemon.started, daemon.beat = now, 0  # respawned
            else:
                assert isinstance(effect, Log)
                events.append(effect.event)
    return kills, events


def test_a_starved_daemon_whose_loop_turns_slowly_is_never_killed() -> None:
    # load 90 on 2 cores: the daemon waits 95% of the time for a CPU, its loop turns once
    # every 20 s, and no Ping is ever answered within a probe interval
    def starved(daemon: SimulatedDaemon, now: float) -> bool:
        assert daemon.run_delay is not None
        daemon.run_delay += 0.95 * INTERVAL
        if now % 20 == 0:
            daemon.beat += 1
        return False

    kills, events = _run(starved, 3600.0)
    assert kills == [] and events == []


def test_a_long_handler_on_a_starved_host_is_not_killed() -> None:
    # a 2 MB CIB applied in one loop turn: no beat for 5 minutes of wall time, 92% of which
    # the daemon spent waiting for a CPU: 24 s of its own time, under the 30 s deadline
    # (the stall is reported at half of it, and the recovery too)
    def applying(daemon: SimulatedDaemon, now: float) -> bool:
        assert daemon.run_delay is not None
        daemon.run_delay += 0.92 * INTERVAL
        if now >= 300.0:
            daemon.beat += 1
        return False

    kills, events = _run(applying, 600.0)
    assert kills == []
    assert events == ["daemon_loop_stalled", "daemon_loop_progressing"]


def test_a_blocked_loop_is_killed_at_the_deadline() -> None:
    # the loop turned until 60 s, then blocked (sleeping: no run-queue wait accumulates)
    def blocked(daemon: SimulatedDaemon, now: float) -> bool:
        if now <= 60.0 or daemon.started > 0:
            daemon.beat += 1
        return False

    kills, events = _run(blocked, 300.0)
    assert kills == [60.0 + DEADLINE]
    assert events == ["daemon_loop_stalled", "daemon_wedged"]


def test_a_spinning_loop_on_a_loaded_host_is_killed_once_it_had_the_deadline_of_cpu() -> None:
    # stuck in an endless loop while waiting 90% of the time: 30 s of its own time come
    # after 300 s of wall time; it is killed then, not earlier and not much later
    def spinning(daemon: SimulatedDaemon, now: float) -> bool:
        assert daemon.run_delay is not None
        daemon.run_delay += 0.9 * INTERVAL
        if daemon.started > 0:
            daemon.beat += 1
        return False

    kills, _ = _run(spinning, 1000.0)
    assert len(kills) == 1
    assert DEADLINE / 0.1 <= kills[0] <= DEADLINE / 0.1 + 2 * INTERVAL


def test_without_run_queue_figures_the_load_average_scales_the_deadline() -> None:
    def unmeasured(daemon: SimulatedDaemon, now: float) -> bool:
        daemon.run_delay = None
        if daemon.started > 0:
            daemon.beat += 1
        return False

    kills, _ = _run(unmeasured, 1000.0, load=20.0)  # 20 runnable tasks per CPU
    assert len(kills) == 1 and DEADLINE * 20 <= kills[0] <= DEADLINE * 20 + 2 * INTERVAL
    kills, _ = _run(unmeasured, 1000.0, load=0.3)  # an idle host: the plain deadline
    assert len(kills) == 1 and DEADLINE <= kills[0] <= DEADLINE + INTERVAL


def test_a_ping_answer_is_progress_for_a_daemon_that_writes_no_beat() -> None:
    def answers_late(daemon: SimulatedDaemon, now: float) -> bool:
        return now % 25 == 0  # a Ping comes back every 25 s, long after it was sent

    kills, _ = _run(answers_late, 600.0)
    assert kills == []

    def silent(daemon: SimulatedDaemon, now: float) -> bool:
        return daemon.started > 0

    kills, _ = _run(silent, 600.0)
    assert len(kills) == 1 and DEADLINE <= kills[0] <= DEADLINE + INTERVAL


def test_nothing_is_killed_within_the_grace_after_a_start() -> None:
    def never(daemon: SimulatedDaemon, now: float) -> bool:
        return False

    kills, _ = _run(never, 100.0, grace=60.0)
    assert len(kills) == 1 and 60.0 < kills[0] <= 60.0 + DEADLINE
