"""The executing side of a fencer (pure): answer capability queries, run devices.

Every fencer, origin or not, owns the devices it may run (`FencingConfig.runnable`):

* `QueryCapable` -> which runnable devices can fence the target. static-list and none are
  answered at once; dynamic-list runs the agent's `list` (result cached for
  `LIST_CACHE_SECONDS` while the device's definition is unchanged, one run per device at a
  time) and status runs `status` for the port;
  the reply goes out when every check is back.
* `ExecuteFence` -> refused when it arrives after its `expires` time (a message queued for
  an unreachable node must never fence later); else an optional delay (pcmk_delay_base/max
  plus the requested delay, first device of an operation only; a requested delay of -1
  disables them), then the agent, retried up to `pcmk_<action>_retries` times while the
  device timeout has time left; one `DeviceResult` goes back to the origin.
* `DeviceActionRequest` from a local client -> run list/monitor/status once and reply;
  `stop` (the lrmd stopped the device's resource here) clears the device's verified flag
  and is answered at once, known device or not (Pacemaker's `stonith_device_remove`).

Agents are never run here: the shell performs `RunAgent` and feeds back `AgentFinished`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from messaging.effects import ArmTimer, Client, Log, Node, Send
from messaging.errors import ErrorReply, ExitCode, NotFoundError, UsageError
from stonithd.api import (
    DEVICE_ACTIONS,
    UNREGISTER,
    CapableReply,
    DeviceActionRequest,
    DeviceActionResult,
    DeviceResult,
    ExecuteFence,
    QueryCapable,
)
from stonithd.devices import Device, FencingConfig, HostCheck
from stonithd.results import Outcome

LIST_CACHE_SECONDS = 60.0
CHECK_TIMEOUT = 20.0
_MIN_RETRY_WINDOW = 1.0


@dataclass(frozen=True, slots=True)
class RunAgent:
    """Effect: run `agent` with `pairs` on stdin, interpret the output for `action`."""

    run_id: str
    device: str
    agent: str
    action: str
    pairs: tuple[tuple[str, str], ...]
    timeout: float


@dataclass(frozen=True, slots=True)
class AgentFinished:
    """Event: a `RunAgent` ended; the shell has already interpreted the output."""

    run_id: str
    outcome: Outcome
    now: float
    wall: float | None = None  # epoch seconds at `now`


@dataclass(slots=True)
class _FenceRun:
    request: ExecuteFence
    device: Device
    deadline: float
    retries_left: int


@dataclass(slots=True)
class _Query:
    request: QueryCapable
    found: list[str]
    waiting: dict[str, str] = field(default_factory=dict)  # run_id -> device


@dataclass(slots=True)
class _Check:
    device: Device
    kind: str  # "list" or "status"
    queries: list[_Query] = field(default_factory=list)


Effects = list[Any]


class Executor:
    """Runs this node's devices on request; holds no knowledge of whole operations."""

    def __init__(self, node: str, rng: random.Random) -> None:
        self.node = node
        self.rng = rng
        self.config = FencingConfig()
        self.agent_actions: dict[str, frozenset[str]] = {}
        self._serial = 0
        self._fences: dict[str, _FenceRun] = {}
        self._delayed: dict[str, _FenceRun] = {}
        self._checks: dict[str, _Check] = {}
        self._list_runs: dict[str, str] = {}  # device -> in-flight list run
        self._list_cache: dict[str, tuple[tuple[str, ...], float]] = {}
        self._device_actions: dict[str, tuple[str, DeviceActionRequest]] = {}
        # Devices a list/monitor/status run succeeded for here (Pacemaker's "verified"):
        # a capability reply naming one lets the origin fence without waiting for others.
        self.verified: set[str] = set()

    def _run_id(self, kind: str) -> str:
        self._serial += 1
        return f"{kind}:{self.node}:{self._serial}"

    def reconfigure(self, config: FencingConfig, agent_actions: dict[str, frozenset[str]]) -> None:
        """Take a new configuration; a dynamic list stays cached for an unchanged device.

        Pacemaker's fencer keeps an identical re-registered device (and the host list it
        learnt) when the CIB changes elsewhere, so a CIB write during a failover does not
        put a `list` run in front of the next fencing action.
        """
        old_devices = self.config.devices
        self.config = config
        self.agent_actions = dict(agent_actions)
        self._list_cache = {device_id: cached for device_id, cached in self._list_cache.items()
                            if config.devices.get(device_id) == old_devices.get(device_id)}
        self.verified = {device_id for device_id in self.verified
                         if device_id in config.runnable
                         and config.devices.get(device_id) == old_devices.get(device_id)}

    def _runnable(self, device_id: str) -> Device | None:
        if device_id not in self.config.runnable:
            return None
        return self.config.devices.get(device_id)

    # -- capability queries -------------------------------------------------------------

    def query(self, request: QueryCapable, now: float) -> Effects:
        query = _Query(request, [])
        effects: Effects = []
        for device_id in sorted(self.config.runnable):
            device = self.config.devices[device_id]
            check = device.resolved_host_check(self.agent_actions.get(device.agent))
            if check is HostCheck.NONE or (check is HostCheck.STATIC_LIST
                                           and device.in_static_list(request.target)):
                query.found.append(device_id)
            elif check is HostCheck.DYNAMIC_LIST:
                effects += self._dynamic_check(query, device, now)
            elif check is HostCheck.STATUS:
                effects += self._start_check(query, device, "status")
        if not query.waiting:
            effects.append(self._capable_reply(query))
        return effects

    def _dynamic_check(self, query: _Query, device: Device, now: float) -> Effects:
        cached = self._list_cache.get(device.id)
        if cached is not None and now - cached[1] < LIST_CACHE_SECONDS:
            if _listed(device, query.request.target, cached[0]):
                query.found.append(device.id)
            return []
        running = self._list_runs.get(device.id)
        if running is not None:
            query.waiting[running] = device.id
            self._checks[running].queries.append(query)
            return []
        effects = self._start_check(query, device, "list")
        self._list_runs[device.id] = next(reversed(query.waiting))
        return effects

    def _start_check(self, query: _Query, device: Device, kind: str) -> Effects:
        run_id = self._run_id("check")
        target = query.request.target if kind == "status" else None
        self._checks[run_id] = _Check(device, kind, [query])
        query.waiting[run_id] = device.id
        timeout = device.timeout_for(kind, CHECK_TIMEOUT)
        return [RunAgent(run_id, device.id, device.agent, kind,
                         device.agent_input(kind, target), timeout)]

    def _check_finished(self, run_id: str, outcome: Outcome, now: float) -> Effects:
        check = self._checks.pop(run_id)
        effects: Effects = []
        if check.kind == "list":
            self._list_runs.pop(check.device.id, None)
            if outcome.ok:
                self._list_cache[check.device.id] = (outcome.ports, now)
                self.verified.add(check.device.id)
            else:
                effects.append(Log("device_list_failed", "warning",
                                   (("device", check.device.id), ("reason", outcome.reason))))
        for query in check.queries:
            query.waiting.pop(run_id, None)
            target = query.request.target
            capable = outcome.ok and (check.kind == "status"
                                      or _listed(check.device, target, outcome.ports))
            if capable:
                query.found.append(check.device.id)
            if not query.waiting:
                effects.append(self._capable_reply(query))
        return effects

    def _capable_reply(self, query: _Query) -> Send:
        found = tuple(sorted(set(query.found)))
        verified = tuple(d for d in found if d in self.verified)
        return Send(Node(query.request.origin),
                    CapableReply(query.request.op_id, self.node, found, verified))

    # -- fencing ------------------------------------------------------------------------

    def execute(self, request: ExecuteFence, now: float, wall: float) -> Effects:
        if request.expires and wall > request.expires:  # queued while we were unreachable:
            return [self._device_result(request, False,  # the origin has moved on long ago
                                        "request expired before it reached the executor")]
        device = self._runnable(request.device)
        if device is None:
            return [self._device_result(request, False,
                                        f"device {request.device} is not runnable on {self.node}")]
        delay = 0.0
        if request.delay >= 0:
            delay = request.delay
            if request.first:
                delay += device.delay_for(request.target, self.rng)
        timeout = device.timeout_for(request.action, request.timeout)
        run = _FenceRun(request, device, now + delay + timeout,
                        device.retries_for(request.action))
        if delay > 0:
            key = self._run_id("delay")
            self._delayed[key] = run
            return [Log("fence_delayed", "info", (("op_id", request.op_id),
                                                  ("device", device.id), ("delay", delay))),
                    ArmTimer(key, now + delay)]
        return [self._start_fence(run, now)]

    def _start_fence(self, run: _FenceRun, now: float) -> RunAgent:
        run_id = self._run_id("fence")
        self._fences[run_id] = run
        request = run.request
        return RunAgent(run_id, run.device.id, run.device.agent, request.action,
                        run.device.agent_input(request.action, request.target),
                        max(run.deadline - now, 0.001))

    def _fence_finished(self, run_id: str, outcome: Outcome, now: float) -> Effects:
        run = self._fences.pop(run_id)
        if outcome.ok:
            return [self._device_result(run.request, True, "")]
        if run.retries_left > 0 and run.deadline - now > _MIN_RETRY_WINDOW:
            run.retries_left -= 1
            return [Log("fence_retry", "warning", (("op_id", run.request.op_id),
                                                   ("reason", outcome.reason))),
                    self._start_fence(run, now)]
        return [self._device_result(run.request, False, outcome.reason)]

    def _device_result(self, request: ExecuteFence, ok: bool, reason: str) -> Send:
        return Send(Node(request.origin),
                    DeviceResult(request.op_id, self.node, request.device, ok, reason))

    def timer(self, key: str, now: float) -> Effects:
        run = self._delayed.pop(key, None)
        return [] if run is None else [self._start_fence(run, now)]

    # -- device actions for local clients -----------------------------------------------

    def device_action(self, client: str, request: DeviceActionRequest) -> Effects:
        if request.action == UNREGISTER:
            self.verified.discard(request.device)
            return [Send(Client(client), DeviceActionResult(request.device, UNREGISTER, True))]
        device = self._runnable(request.device)
        if device is None:
            return [Send(Client(client), ErrorReply.of(
                NotFoundError(f"No such device: {request.device}")))]
        if request.action not in DEVICE_ACTIONS:
            return [Send(Client(client), ErrorReply.of(
                UsageError(f"unsupported device action {request.action}"),
                ExitCode.INVALID_PARAM))]
        run_id = self._run_id("device")
        self._device_actions[run_id] = (client, request)
        return [RunAgent(run_id, device.id, device.agent, request.action,
                         device.agent_input(request.action, None), request.timeout)]

    def agent_finished(self, event: AgentFinished) -> Effects:
        if event.run_id in self._fences:
            return self._fence_finished(event.run_id, event.outcome, event.now)
        if event.run_id in self._checks:
            return self._check_finished(event.run_id, event.outcome, event.now)
        pending = self._device_actions.pop(event.run_id, None)
        if pending is None:
            return []
        client, request = pending
        outcome = event.outcome
        if outcome.ok and request.action in ("list", "monitor", "status"):
            self.verified.add(request.device)
        state = "" if outcome.powered_on is None else ("on" if outcome.powered_on else "off")
        return [Send(Client(client), DeviceActionResult(request.device, request.action, outcome.ok,
                                                 outcome.reason, state, outcome.ports))]


def _listed(device: Device, target: str, ports: tuple[str, ...]) -> bool:
    return target in ports or device.port_for(target) in ports
