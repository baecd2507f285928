"""When the launcher kills a daemon whose event loop stopped turning (pure core).

A daemon is wedged when it is alive but its event loop makes no progress (a deadlock, a
blocking call that never returns, a handler spinning forever). A daemon that is merely
starved of CPU on a loaded host is *not* wedged: killing it only adds a restart to the load
(on 2 cores at load 90 the old "three unanswered 2.5 s pings" rule killed a cib while it
applied a 2 MB CIB, in a loop). Pacemaker's pacemakerd respawns only on exit; systemd's
WatchdogSec is a deadline the daemon itself must ping; Heartbeat's apphbd likewise waits
for the application's own heartbeats. We do the same, and discount starvation:

- progress evidence, gathered by the launcher each probe (`LoopProbe`): the daemon's loop
  heartbeat counter changed (`messaging.loop_beat`: a timer callback on the daemon's own
  loop bumps it twice per probe interval), or a Ping (answered by that loop, sent when the
  counter did not move) came back since the last probe, however late;
- time without progress counts only while the daemon was *not* waiting for a CPU: the
  kernel's run-queue wait of the daemon's main thread (/proc/PID/schedstat `run_delay`) is
  subtracted. Where the kernel does not report it, wall time is divided by the host's
  runnable tasks per CPU (load average / CPUs) instead.

Invariants:
- nothing is killed within `grace` seconds of its start (still binding its sockets);
- a daemon whose beat changed, or that answered, at a probe is never killed at that probe,
  and its stall starts again from zero;
- a daemon whose loop stopped and that is not starved (it sleeps, or spins on a CPU of
  its own) is killed at the first probe once `deadline` seconds passed since its last
  progress: within `deadline + probe interval` of wall time; a starved one once it has
  had `deadline` seconds of CPU-or-sleep without progress;
- every action is logged: `daemon_loop_stalled` once a stall passes half the deadline,
  `daemon_loop_progressing` when a stalled daemon turns again, `daemon_wedged` with the
  kill.
Times are seconds of the launcher's monotonic clock, passed in; this module reads no clock
and no file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messaging.effects import Log


@dataclass(frozen=True, slots=True)
class LoopProbe:
    """What the launcher saw of one daemon at one probe."""

    name: str
    now: float
    started: float  # when this incarnation of the daemon was started
    beat: int | None = None  # its loop heartbeat counter; None when it writes none
    answered: bool = False  # a Ping answer arrived since the previous probe
    run_delay: float | None = None  # total seconds runnable but waiting for a CPU
    load: float = 0.0  # runnable tasks per CPU (fallback when run_delay is None)


@dataclass(frozen=True, slots=True)
class KillWedged:
    """Kill the daemon (SIGKILL to its process group); its watcher respawns it."""

    name: str


@dataclass(slots=True)
class _Track:
    started: float
    seen_at: float
    beat: int | None
    run_delay: float | None
    stalled: float = 0.0  # seconds without progress, starvation discounted
    since: float = 0.0  # when progress was last seen
    warned: bool = False


@dataclass
class WedgeDetector:
    """Decides, probe by probe, which daemons are wedged."""

    deadline: float = 30.0
    grace: float = 10.0
    tracks: dict[str, _Track] = field(default_factory=dict)

    def handle(self, probe: LoopProbe) -> list[KillWedged | Log]:
        track = self.tracks.get(probe.name)
        if track is None or track.started != probe.started:
            self.tracks[probe.name] = _Track(probe.started, probe.now, probe.beat,
                                             probe.run_delay, since=probe.now)
            return []
        progressed = probe.answered or (probe.beat is not None and probe.beat != track.beat)
        effective = _unstarved(probe.now - track.seen_at, track.run_delay, probe)
        track.seen_at, track.beat, track.run_delay = probe.now, probe.beat, probe.run_delay
        if progressed or probe.now - probe.started < self.grace:
            return self._progressed(probe, track)
        track.stalled += effective
        if track.stalled >= self.deadline:
            del self.tracks[probe.name]
            return [KillWedged(probe.name), _log("daemon_wedged", "error", probe, track)]
        if track.stalled >= self.deadline / 2 and not track.warned:
            track.warned = True
            return [_log("daemon_loop_stalled", "warning", probe, track)]
        return []

    def _progressed(self, probe: LoopProbe, track: _Track) -> list[KillWedged | Log]:
        effects: list[KillWedged | Log] = []
        if track.warned:
            effects.append(_log("daemon_loop_progressing", "info", probe, track))
        track.stalled, track.since, track.warned = 0.0, probe.now, False
        return effects


def _unstarved(elapsed: float, run_delay_before: float | None, probe: LoopProbe) -> float:
    """The part of `elapsed` the daemon was not waiting for a CPU."""
    if run_delay_before is not None and probe.run_delay is not None:
        waited = max(0.0, probe.run_delay - run_delay_before)
        return max(0.0, elapsed - waited)
    return elapsed / max(1.0, probe.load)


def _log(event: str, level: str, probe: LoopProbe, track: _Track) -> Log:
    return Log(event, level, (("daemon", probe.name), ("stalled", round(track.stalled, 1)),
                              ("since_progress", round(probe.now - track.since, 1))))
