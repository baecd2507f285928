"""The fencer's pure core: `Fencer.handle(event) -> list[Effect]`.

A fencing operation is driven by its origin (the node whose client asked):

1. query: `QueryCapable` to every fencer, this node included (the shell loops `Send` back
   in); ends when all replied, when the replies suffice (`query_ready`), or at
   `query_timeout`. Later replies still count when choosing executors.
2. plan: the target's topology levels (or, without topology, one implicit level per
   capable device, by id); a level succeeds when every device in it succeeds.
3. execute: each device goes to one executor that reported it, chosen by Pacemaker's rule
   (`stonithd.executor_choice`: a verified fencer other than the target, else wait while
   the query is open, else any other fencer, else the target itself but never for `on`).
   A reboot through a level of several devices runs as `off` on every device, then `on`
   on every device (Pacemaker's remapped reboot); a failed `on` is reported, not fatal.
   A device failure, a missing executor or no `DeviceResult` within the device timeout
   abandons the level and moves to the next one.
4. finish: `FenceResult` to the waiting clients, to every other fencer (which record it in
   their history and publish it) and published locally under topic `fence`.

Invariants: an operation finishes exactly once (all its timers cancelled); identical
concurrent requests (same target and action) share one operation; a request within
`tolerance` of an equal success is answered from history without fencing again; the
total operation timeout always ends an operation. No I/O, clock or randomness of its
own: time arrives in events, randomness from the injected `random.Random`. Every event
carries the shell's monotonic `now`; those that carry `wall` (epoch seconds at that `now`:
requests and peer messages always, timers, agent results, configuration and peer changes
when the shell gives it) set the wall time that stamps history entries and execution
deadlines, moved on by `now` until the next one, so a stepped clock is followed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from messaging.effects import ArmTimer, CancelTimer, Client, Log, Node, Publish, Send, TimerFired
from messaging.errors import ErrorReply, ExitCode, RemoteProtocolError, UsageError
from stonithd.api import (
    FENCE_ACTIONS,
    FENCE_TOPIC,
    CapableReply,
    ConfirmRequest,
    DeviceList,
    DeviceResult,
    ExecuteFence,
    FenceRequest,
    FenceResult,
    HistoryEntry,
    HistoryPull,
    HistoryPush,
    HistoryReply,
    HistoryRequest,
    ListDevicesRequest,
    ListRegisteredRequest,
    OpState,
    QueryCapable,
)
from stonithd.api import DeviceActionRequest as _DeviceAction
from stonithd.devices import FencingConfig
from stonithd.events import ClientRequest, ConfigChanged, PeerMessage, PeersChanged
from stonithd.executor import AgentFinished, Executor
from stonithd.executor_choice import Choice, choose_executor, implicit_levels
from stonithd.history import History
from stonithd.query_ready import can_start_early, unplanned

QUERY_TIMEOUT = 5.0
EXEC_TIMEOUT_FACTOR = 1.2  # Pacemaker's TIMEOUT_MULTIPLY_FACTOR
MANUAL_EXECUTIONER = "a human"
MANUAL_DEVICE = "manual_ack"


@dataclass(slots=True)
class _Operation:
    op_id: str
    request: FenceRequest
    clients: list[str]
    list_only: bool = False
    replies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    verified: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plan: list[tuple[str, ...]] = field(default_factory=list)
    level: int = 0
    position: int = 0
    executor: str = ""
    executed: int = 0
    reasons: list[str] = field(default_factory=list)
    executioner: str = ""
    planned: bool = False
    phase: str = ""  # "off"/"on" while a reboot is carried out as off-all then on-all
    query_closed: bool = False  # every fencer replied, or the query timed out
    waiting: bool = False  # planned, but waiting for replies before an unverified executor

    @property
    def action(self) -> str:
        """The action devices run now (a remapped reboot's current phase)."""
        return self.phase or self.request.action


class Fencer:
    """One node's fencer: origin of its clients' operations and executor for its peers."""

    def __init__(self, node: str, rng: random.Random, *, peers: tuple[str, ...] = (),
                 query_timeout: float = QUERY_TIMEOUT) -> None:
        self.node = node
        self.peers = tuple(sorted({node, *peers}))
        self.query_timeout = query_timeout
        self.executor = Executor(node, rng)
        self.history = History()
        self._ops: dict[str, _Operation] = {}
        self._syncs: dict[str, tuple[str, str, set[str]]] = {}  # client, target, waiting
        self._serial = 0
        self._wall_offset = 0.0  # epoch seconds minus `now`, from the latest event's wall

    @property
    def config(self) -> FencingConfig:
        return self.executor.config

    def handle(self, event: object) -> list[Any]:
        """Feed one event; return the effects the shell must perform, in order."""
        wall, now = getattr(event, "wall", None), getattr(event, "now", None)
        if wall is not None and now is not None:  # the clock may have been stepped: follow it
            self._wall_offset = wall - now
        if isinstance(event, ClientRequest):
            return self._client(event)
        if isinstance(event, PeerMessage):
            return self._peer(event)
        if isinstance(event, AgentFinished):
            return self.executor.agent_finished(event)
        if isinstance(event, TimerFired):
            return self._timer(event)
        if isinstance(event, ConfigChanged):
            self.executor.reconfigure(event.config, event.agent_actions)
            return [Log("fencing_config_loaded", "info",
                        (("devices", len(event.config.devices)),
                         ("levels", len(event.config.levels))))]
        if isinstance(event, PeersChanged):
            return self._peers_changed(event)
        raise TypeError(f"Fencer cannot handle {type(event).__name__}")

    def _peers_changed(self, event: PeersChanged) -> list[Any]:
        """A fencer that left is not waited for: queries plan without it, a device sent
        to it goes to another executor (or the next level), history syncs stop waiting.
        A fencer that joined gets our whole history (results it may have missed)."""
        joined = sorted(set(event.peers) - set(self.peers) - {self.node})
        self.peers = tuple(sorted({self.node, *event.peers}))
        entries = self.history.for_target("*")  # a fencer that (re)joins learns what it missed
        effects: list[Any] = [Send(Node(n), HistoryPush(f"{self.node}-join", self.node, entries))
                              for n in joined if entries]
        for op in list(self._ops.values()):
            if not op.planned:
                for node in [n for n in op.replies if n not in self.peers]:
                    del op.replies[node]
                effects += self._maybe_plan(op, event.now)
            elif op.waiting:
                effects += self._resume(op, event.now)
            elif op.executor and op.executor not in self.peers:
                left = op.executor
                op.replies.pop(left, None)
                op.reasons.append(f"{left} left the membership while running "
                                  f"{op.plan[op.level][op.position]}")
                effects += [CancelTimer(f"exec:{op.op_id}"),
                            Log("executor_left", "warning",
                                (("op_id", op.op_id), ("node", left))),
                            *self._execute_next(op, event.now)]
        for sync_id, (_, _, waiting) in list(self._syncs.items()):
            waiting.intersection_update(self.peers)
            if not waiting:
                effects += self._history_done(sync_id)
        return effects

    # -- client requests ----------------------------------------------------------------

    def _client(self, event: ClientRequest) -> list[Any]:
        message = event.message
        if isinstance(message, FenceRequest):
            return self._fence(event.client, message, event.now, event.wall)
        if isinstance(message, ConfirmRequest):
            return self._confirm(event.client, message, event.wall)
        if isinstance(message, ListDevicesRequest):
            request = FenceRequest(message.target, "reboot", message.timeout)
            return self._start(self._new_op(request, event.client, True), event.now)
        if isinstance(message, ListRegisteredRequest):
            return [Send(Client(event.client), DeviceList(tuple(sorted(self.config.runnable))))]
        if isinstance(message, HistoryRequest):
            return self._history(event.client, message, event.now)
        if isinstance(message, _DeviceAction):
            return self.executor.device_action(event.client, message)
        return [Send(Client(event.client), ErrorReply.of(RemoteProtocolError(
            f"{type(message).__name__} is not a request")))]

    def _history(self, client: str, request: HistoryRequest, now: float) -> list[Any]:
        if request.cleanup:
            self.history.cleanup(request.target)
        others = [peer for peer in self.peers if peer != self.node]
        if not request.broadcast or not others:
            return [Send(Client(client), HistoryReply(self.history.for_target(request.target)))]
        self._serial += 1
        sync_id = f"{self.node}-h{self._serial}"
        self._syncs[sync_id] = (client, request.target, set(others))
        pull = HistoryPull(sync_id, self.node, request.target)
        return [ArmTimer(f"hsync:{sync_id}", now + self.query_timeout),
                *(Send(Node(peer), pull) for peer in others)]

    def _history_push(self, push: HistoryPush) -> list[Any]:
        for entry in push.entries:
            self.history.merge(entry)
        sync = self._syncs.get(push.sync_id)
        if sync is None:
            return []
        sync[2].discard(push.node)
        return self._history_done(push.sync_id) if not sync[2] else []

    def _history_done(self, sync_id: str) -> list[Any]:
        sync = self._syncs.pop(sync_id, None)
        if sync is None:
            return []
        client, target, _ = sync
        return [CancelTimer(f"hsync:{sync_id}"),
                Send(Client(client), HistoryReply(self.history.for_target(target)))]

    def _new_op(self, request: FenceRequest, client: str, list_only: bool = False) -> _Operation:
        self._serial += 1
        op = _Operation(f"{self.node}-{self._serial}", request, [client], list_only)
        self._ops[op.op_id] = op
        return op

    def _fence(self, client: str, request: FenceRequest, now: float, wall: float) -> list[Any]:
        if request.action not in FENCE_ACTIONS or not request.target or request.timeout <= 0:
            return [Send(Client(client), ErrorReply.of(UsageError(
                f"cannot {request.action} {request.target!r} with timeout "
                f"{request.timeout:g}"), ExitCode.INVALID_PARAM))]
        if request.tolerance > 0:
            last = self.history.last_success(request.target, request.action)
            if last is not None and wall - last.completed <= request.tolerance:
                return [Send(Client(client), _result_of(last, ok=True))]
        for op in self._ops.values():
            if (not op.list_only and op.request.target == request.target
                    and op.request.action == request.action):
                op.clients.append(client)
                return [Log("fence_request_merged", "info", (("op_id", op.op_id),))]
        op = self._new_op(request, client)
        self.history.record(HistoryEntry(op.op_id, request.target, request.action, self.node,
                                         request.client))
        return [Log("fence_requested", "info", (("op_id", op.op_id), ("target", request.target),
                                                 ("action", request.action))),
                ArmTimer(f"op:{op.op_id}", now + request.timeout),
                *self._start(op, now)]

    def _start(self, op: _Operation, now: float) -> list[Any]:
        query = QueryCapable(op.op_id, self.node, op.request.target, op.request.action)
        timeout = min(self.query_timeout, op.request.timeout)
        return [ArmTimer(f"query:{op.op_id}", now + timeout),
                *(Send(Node(peer), query) for peer in self.peers)]

    def _confirm(self, client: str, request: ConfirmRequest, wall: float) -> list[Any]:
        self._serial += 1
        entry = HistoryEntry(f"{self.node}-{self._serial}", request.target, "off", self.node,
                             request.client, MANUAL_EXECUTIONER, OpState.DONE, wall,
                             "", MANUAL_DEVICE)
        effects: list[Any] = [Send(Client(client), _result_of(entry, ok=True))]
        effects += self._broadcast(entry, _result_of(entry, ok=True))
        for op in list(self._ops.values()):
            if op.request.target == request.target and op.request.action != "on" \
                    and not op.list_only:
                op.executioner, op.reasons = MANUAL_EXECUTIONER, []
                effects += self._finish(op, True, ExitCode.OK, wall, MANUAL_DEVICE)
        return effects

    # -- messages from fencers ----------------------------------------------------------

    def _peer(self, event: PeerMessage) -> list[Any]:
        message = event.message
        if isinstance(message, QueryCapable):
            return self.executor.query(message, event.now)
        if isinstance(message, ExecuteFence):
            return self.executor.execute(message, event.now, event.wall)
        if isinstance(message, CapableReply):
            return self._capable(message, event.now)
        if isinstance(message, DeviceResult):
            return self._device_result(message, event.now)
        if isinstance(message, HistoryPull):
            entries = self.history.for_target(message.target)
            return [Send(Node(message.origin), HistoryPush(message.sync_id, self.node, entries))]
        if isinstance(message, HistoryPush):
            return self._history_push(message)
        if isinstance(message, FenceResult):
            if message.origin == self.node:
                return []
            self.history.record(_entry_of(message))
            return [Publish(FENCE_TOPIC, message)]
        return [Log("unexpected_peer_message", "warning",
                    (("sender", event.sender), ("type", type(message).__name__)))]

    def _maybe_plan(self, op: _Operation, now: float) -> list[Any]:
        if op.planned:
            return []
        levels = [lvl.devices for lvl in self.config.levels_for(op.request.target)]
        early = not op.list_only and can_start_early(op.request.target, op.request.action,
                                                     op.replies, op.verified, levels)
        return self._plan(op, now) if early or self._all_replied(op) else []

    def _capable(self, reply: CapableReply, now: float) -> list[Any]:
        op = self._ops.get(reply.op_id)
        if op is not None:
            op.replies[reply.node], op.verified[reply.node] = reply.devices, reply.verified
            if not op.planned:
                return self._maybe_plan(op, now)
            if not op.list_only and not self.config.levels_for(op.request.target):
                op.plan += unplanned(op.plan, reply.devices)  # a late reply's new devices
            return self._resume(op, now)
        return []

    def _resume(self, op: _Operation, now: float) -> list[Any]:
        """A planned operation waiting for replies: choose again with what is known now."""
        if not op.waiting:
            return []
        op.waiting = False
        return self._execute_next(op, now)

    def _plan(self, op: _Operation, now: float) -> list[Any]:
        op.planned = True
        effects: list[Any] = []
        if self._all_replied(op) or op.list_only:  # else the query stays open a while
            op.query_closed = True
            effects.append(CancelTimer(f"query:{op.op_id}"))
        capable = sorted({d for devices in op.replies.values() for d in devices})
        if op.list_only:
            del self._ops[op.op_id]
            return [*effects, *(Send(Client(c), DeviceList(tuple(capable))) for c in op.clients)]
        levels = self.config.levels_for(op.request.target)
        op.plan = [lvl.devices for lvl in levels] or implicit_levels(
            op.request.target, op.replies, op.verified)
        if not op.plan or not capable:
            op.reasons.append(f"no device on any of {len(op.replies)} replying fencers "
                              f"can fence {op.request.target}")
            return [*effects, *self._finish(op, False, ExitCode.NOSUCH, self._wall(now))]
        return [*effects, *self._execute_next(op, now)]

    def _all_replied(self, op: _Operation) -> bool:
        return set(self.peers) <= set(op.replies)

    def _choose(self, op: _Operation, device: str) -> Choice:
        return choose_executor(device, op.request.target, op.action, op.replies, op.verified,
                               query_open=not (op.query_closed or self._all_replied(op)))

    def _next_position(self, op: _Operation) -> bool:
        """Step past a finished device; True when the whole level is done."""
        op.position += 1
        devices = op.plan[op.level]
        if op.position < len(devices):
            return False
        if op.phase == "off":  # every device is off: now switch them all back on
            op.phase, op.position = "on", 0
            return False
        return True

    def _next_level(self, op: _Operation) -> None:
        op.level, op.position = op.level + 1, 0
        op.phase = ""

    def _execute_next(self, op: _Operation, now: float) -> list[Any]:
        while op.level < len(op.plan):
            devices = op.plan[op.level]
            if op.position == 0 and not op.phase and op.request.action == "reboot" \
                    and len(devices) > 1:
                op.phase = "off"  # rebooting each of several supplies would never cut power
            device_id = devices[op.position]
            choice = self._choose(op, device_id)
            if choice.wait:
                op.waiting = True
                return [Log("fence_waiting_for_replies", "debug", (("op_id", op.op_id),
                                                                   ("device", device_id)))]
            if choice.executor is not None:
                return self._send_execute(op, device_id, choice.executor, now)
            if op.phase == "on":
                op.reasons.append(f"no fencer can switch {device_id} back on")
                if self._next_position(op):
                    return self._finish(op, True, ExitCode.OK, self._wall(now), devices[-1])
                continue
            op.reasons.append(f"no fencer can run device {device_id}")
            self._next_level(op)
        reason = "All topology levels failed" if len(op.plan) > 1 else "fencing failed"
        op.reasons.insert(0, reason)
        return self._finish(op, False, ExitCode.ERROR, self._wall(now))

    def _send_execute(self, op: _Operation, device_id: str, executor: str,
                      now: float) -> list[Any]:
        request = op.request
        device = self.config.devices.get(device_id)
        timeout = device.timeout_for(op.action, request.timeout) if device \
            else request.timeout
        delay = max(request.delay, 0.0)
        if device is not None and op.executed == 0 and request.delay >= 0:
            delay += max(device.delay_max, device.delay_base,
                         *(v for _, v in device.delay_base_map))
        op.executor = executor
        window = delay + timeout * EXEC_TIMEOUT_FACTOR
        message = ExecuteFence(op.op_id, self.node, device_id, request.target, op.action,
                               timeout, request.delay, op.executed == 0,
                               self._wall(now) + window)
        op.executed += 1
        return [Send(Node(executor), message), ArmTimer(f"exec:{op.op_id}", now + window)]

    def _device_result(self, result: DeviceResult, now: float) -> list[Any]:
        op = self._ops.get(result.op_id)
        if op is None or op.level >= len(op.plan) or op.position >= len(op.plan[op.level]) \
                or op.plan[op.level][op.position] != result.device or op.executor != result.node:
            return [Log("stale_device_result", "debug", (("op_id", result.op_id),))]
        effects: list[Any] = [CancelTimer(f"exec:{op.op_id}")]
        if result.ok or op.phase == "on":  # the target is off already: an on failure is
            if result.ok:                  # reported but does not undo the fencing
                op.executioner = result.node
            else:
                op.reasons.append(f"{result.device} on {result.node} (on): {result.reason}")
            if self._next_position(op):
                devices = op.plan[op.level]
                return [*effects, *self._finish(op, True, ExitCode.OK, self._wall(now),
                                                devices[-1])]
        else:
            op.reasons.append(f"{result.device} on {result.node}: {result.reason}")
            self._next_level(op)
        return [*effects, *self._execute_next(op, now)]

    # -- timers and completion ----------------------------------------------------------

    def _timer(self, event: TimerFired) -> list[Any]:
        if event.key.startswith(("delay:",)):
            return self.executor.timer(event.key, event.now)
        kind, _, op_id = event.key.partition(":")
        if kind == "hsync":
            return self._history_done(op_id)
        if kind not in ("query", "exec", "op"):
            return self.executor.timer(event.key, event.now)
        op = self._ops.get(op_id)
        if op is None:
            return []
        if kind == "query":
            op.query_closed = True
            return self._resume(op, event.now) if op.planned else self._plan(op, event.now)
        if kind == "exec":
            device = op.plan[op.level][op.position]
            return self._device_result(DeviceResult(op.op_id, op.executor, device, False,
                                                    "no result within the device timeout"),
                                       event.now)
        op.reasons.insert(0, f"Fencing did not complete within a total timeout of "
                             f"{op.request.timeout:g}s")
        return self._finish(op, False, ExitCode.TIMEOUT, self._wall(event.now))

    def _wall(self, now: float) -> float:
        return now + self._wall_offset

    def _finish(self, op: _Operation, ok: bool, code: ExitCode, wall: float,
                device: str = "") -> list[Any]:
        del self._ops[op.op_id]
        request = op.request
        entry = HistoryEntry(op.op_id, request.target, request.action, self.node,
                             request.client, op.executioner if ok else op.executor,
                             OpState.DONE if ok else OpState.FAILED, wall,
                             "; ".join(op.reasons), device)
        result = _result_of(entry, ok=ok, code=int(code))
        effects: list[Any] = [CancelTimer(f"{k}:{op.op_id}") for k in ("query", "exec", "op")]
        effects.append(Log("fence_finished", "info" if ok else "error",
                           (("op_id", op.op_id), ("target", request.target),
                            ("ok", ok), ("reason", entry.reason))))
        effects += [Send(Client(client), result) for client in op.clients]
        return effects + self._broadcast(entry, result)

    def _broadcast(self, entry: HistoryEntry, result: FenceResult) -> list[Any]:
        self.history.record(entry)
        return [*(Send(Node(peer), result) for peer in self.peers if peer != self.node),
                Publish(FENCE_TOPIC, result)]


def _result_of(entry: HistoryEntry, *, ok: bool, code: int = 0) -> FenceResult:
    return FenceResult(entry.op_id, entry.target, entry.action, ok, entry.origin, entry.client,
                       entry.executioner, entry.device, entry.reason, code, entry.completed)


def _entry_of(result: FenceResult) -> HistoryEntry:
    return HistoryEntry(result.op_id, result.target, result.action, result.origin,
                        result.client, result.executioner,
                        OpState.DONE if result.ok else OpState.FAILED, result.completed,
                        result.reason, result.device)
