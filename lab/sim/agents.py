"""Fake resource agents (for lrmd) and fence devices (for stonithd) on the fake clock.

`ResourceAgents` answers lrmd's `RunAgent` after a fake duration: start/stop mark the
resource running or not on that node, monitor returns 0 (running) or 7 (not running),
`fail(node, resource)` makes the resource die behind lrmd's back, `fail_once` makes the
next run of an action fail (generic error, the resource not running), and `hang` keeps an
action from ever finishing (lrmd's timeout, SIGTERM and SIGKILL then decide). A node's
running resources die with the node, not with its lrmd: like an agent's state file under
/run, they outlive an lrmd restart (`running`).

`FenceDevices` answers stonithd's `RunAgent` after a fake duration and really acts on the
simulated cluster: `off` kills the target node, `on` boots it, `reboot` does both
(`reboot_delay` apart); `list` names every node, `status`/`monitor` say on. Devices in
`failing` fail every action. Both record every run they were asked for (`runs`); the
agents also keep each action's last parameter table (`last_params`) and
first one per interval (`first_params`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrmd.api import CoreAgentFinished, CoreRunAgent, KillProcessGroup
from messaging.types import OcfRc, OpStatus
from stonithd import api as fencing

if TYPE_CHECKING:
    from .world import DaemonContext

NOT_RUNNING = int(OcfRc.NOT_RUNNING)
SUCCESS = int(OcfRc.SUCCESS)


@dataclass
class ResourceAgents:
    """Every resource agent of every node (seconds for durations)."""

    duration: dict[str, float] = field(default_factory=dict)  # action -> seconds
    default_duration: float = 0.05
    hang: set[tuple[str, str, str]] = field(default_factory=set)  # node, resource, action
    fail_once: set[tuple[str, str, str]] = field(default_factory=set)  # next run fails
    ignore_term: bool = False  # a hung agent survives SIGTERM (only SIGKILL ends it)
    runs: list[tuple[float, str, str, str, int]] = field(default_factory=list)
    # (node, resource, action) -> the parameter table of its last run (what lrmd exports)
    last_params: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    # (node, resource, action, interval ms) -> the parameter table of its first run (a
    # probe's apart from the recurring monitor's)
    first_params: dict[tuple[str, str, str, int], dict[str, str]] = field(default_factory=dict)
    _running: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def running(self, ctx: DaemonContext) -> set[str]:
        """What runs on ctx's node in its current boot (kept across lrmd restarts)."""
        return self._running.setdefault((ctx.node, ctx.incarnation), set())

    def fail(self, ctx: DaemonContext, resource: str) -> None:
        """The resource dies on ctx's node without lrmd doing anything."""
        self.running(ctx).discard(resource)

    def run(self, ctx: DaemonContext, effect: CoreRunAgent) -> None:
        request = effect.request
        self.runs.append((ctx.now, ctx.node, request.resource, request.action,
                          request.interval_ms))
        self.last_params[(ctx.node, request.resource, request.action)] = effect.params
        self.first_params.setdefault(
            (ctx.node, request.resource, request.action, request.interval_ms), effect.params)
        pending: set[int] = ctx.state.setdefault("pending", set())
        pending.add(effect.call_id)
        if (ctx.node, request.resource, request.action) in self.hang:
            return
        duration = self.duration.get(request.action, self.default_duration)

        def finish(now: float) -> Any:
            return self._finish(ctx, effect, now)
        ctx.sim.scheduler.call_at(ctx.now + duration, lambda: self._deliver(ctx, finish))

    def _deliver(self, ctx: DaemonContext, finish: Any) -> None:
        node = ctx.sim.nodes[ctx.node]
        if node.alive and node.incarnation == ctx.incarnation:
            event = finish(ctx.now)
            if event is not None:
                ctx.feed(event)

    def _finish(self, ctx: DaemonContext, effect: CoreRunAgent,
                now: float) -> CoreAgentFinished | None:
        pending: set[int] = ctx.state["pending"]
        if effect.call_id not in pending:
            return None  # killed meanwhile
        pending.discard(effect.call_id)
        running = self.running(ctx)
        resource, action = effect.request.resource, effect.request.action
        if (ctx.node, resource, action) in self.fail_once:
            self.fail_once.discard((ctx.node, resource, action))
            running.discard(resource)
            return CoreAgentFinished(effect.call_id, int(OcfRc.ERR_GENERIC), now, wall=ctx.wall)
        if action == "start":
            running.add(resource)
        elif action == "stop":
            running.discard(resource)
        rc = NOT_RUNNING if action == "monitor" and resource not in running else SUCCESS
        return CoreAgentFinished(effect.call_id, rc, now, wall=ctx.wall)

    def kill(self, ctx: DaemonContext, effect: KillProcessGroup) -> None:
        pending: set[int] = ctx.state.setdefault("pending", set())
        if effect.call_id not in pending or (self.ignore_term and effect.signal == 15):
            return
        pending.discard(effect.call_id)
        ctx.after(0.0, lambda now: CoreAgentFinished(
            effect.call_id, int(OcfRc.ERR_GENERIC), now, OpStatus.ERROR,
            f"killed by signal {effect.signal}", wall=ctx.wall))


FenceScript = Callable[[str, Any], tuple[Any, float]]  # (node, RunAgent) -> Outcome, secs


@dataclass
class FenceDevices:
    """Every fence device of the cluster (by device id). `script`, when given, decides
    every run's (Outcome, duration) instead of `failing`/`duration`; `power=False` leaves
    the nodes running (fencing-protocol tests that need no membership)."""

    duration: dict[str, float] = field(default_factory=dict)  # device -> seconds
    default_duration: float = 0.1
    failing: set[str] = field(default_factory=set)
    reboot_delay: float = 1.0
    script: FenceScript | None = None
    power: bool = True
    runs: list[tuple[str, Any]] = field(default_factory=list)  # (node, RunAgent)

    def run(self, ctx: DaemonContext, effect: Any) -> None:
        pairs = dict(effect.pairs)
        action, target = pairs.get("action", effect.action), pairs.get("nodename", "")
        self.runs.append((ctx.node, effect))
        outcome, duration = self._decide(ctx, effect, action)
        if duration > effect.timeout:
            outcome = fencing.Outcome(False, f"{effect.action} timed out")
            duration = effect.timeout
        elif (outcome.ok and self.power and action in ("off", "reboot", "on")
              and target in ctx.sim.nodes):
            ctx.sim.scheduler.call_at(ctx.now + duration,
                                      lambda: self._power(ctx, action, target))
        ctx.after(duration, lambda now: fencing.AgentFinished(effect.run_id, outcome, now,
                                                                  ctx.wall))

    def _decide(self, ctx: DaemonContext, effect: Any, action: str) -> tuple[Any, float]:
        if self.script is not None:
            return self.script(ctx.node, effect)
        duration = self.duration.get(effect.device, self.default_duration)
        if effect.device in self.failing:
            return fencing.Outcome(False, f"{effect.device} broke"), duration
        return self._outcome(ctx, action), duration

    def _outcome(self, ctx: DaemonContext, action: str) -> Any:
        if action == "list":
            return fencing.Outcome(True, ports=tuple(ctx.sim.names))
        return fencing.Outcome(True, powered_on=True)

    def _power(self, ctx: DaemonContext, action: str, target: str) -> None:
        sim = ctx.sim
        if action in ("off", "reboot"):
            sim.kill(target)
        if action == "on":
            sim.start(target)
        elif action == "reboot":
            sim.scheduler.call_at(sim.now + self.reboot_delay, lambda: sim.start(target))
