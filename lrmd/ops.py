"""The lrmd's pure core: operation queue, per-resource serialisation, parallel limit,
recurring monitors and timeouts, all expressed as effects.

`LrmdCore.handle(event) -> list[Effect]` never touches processes, clocks or sockets. Events:
`Submit`, `Cancel`, `AgentFinished` and `TimerFired`; each carries the shell's monotonic `now`
and may carry its wall time `wall` (epoch seconds): results are stamped (last_run,
last_rc_change) with the wall time of the latest event that carried one, moved on by `now`.
Effects: `RunAgent`, `KillProcessGroup`, `ArmTimer`/`CancelTimer`, `Publish(OP_TOPIC,
OpCompleted)` and `Send(Client(token), reply)` (the token the request arrived with).

Invariants:
* at most one operation per resource runs at a time; queued operations of one resource run
  in submission order; at most `max_parallel` operations run at once;
* a recurring operation keeps one call id across its runs; between runs it waits on the timer
  ``recur:<call_id>``; its results are published on the first run and when rc or status
  changes (a repeated failure is not published again); a stop cancels every recurring
  operation of its resource first;
* a running operation past its timeout gets SIGTERM, SIGKILL after `kill_grace`, and is
  reported as `OpStatus.TIMEOUT` (never as an rc); if its process still has not gone after
  another grace it is finalised anyway so the resource is not blocked forever;
* a cancelled operation is reported once with `OpStatus.CANCELLED` and never runs again.
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass, field, replace

from lrmd.history import history_entry_id, op_digest
from lrmd.messages import Ack, ExecAccepted, ExecRequest, OpCompleted
from messaging.effects import ArmTimer, CancelTimer, Client, Effect, Publish, Send, TimerFired
from messaging.types import OcfRc, OpStatus

OP_TOPIC = "op"
HISTORY_OUTPUT_LIMIT = 1024  # bytes of agent output kept per history entry


@dataclass(frozen=True, slots=True)
class Submit:
    """A client asks for an operation; `client` is the reply address ("" = none)."""

    request: ExecRequest
    now: float
    client: str = ""
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    resource: str
    action: str
    interval_ms: int
    now: float
    client: str = ""
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class AgentFinished:
    """The shell's report that the agent process of `call_id` ended (or could not start)."""

    call_id: int
    rc: int
    now: float
    status: OpStatus = OpStatus.DONE
    exit_reason: str = ""
    output: str = ""
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class RunAgent:
    """Start the agent for `call_id` with the full parameter table `params`."""

    call_id: int
    request: ExecRequest
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class KillProcessGroup:
    call_id: int
    signal: int


Event = Submit | Cancel | AgentFinished | TimerFired
Output = Effect | RunAgent | KillProcessGroup
Effects = list[Output]


class _State(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"  # a recurring op between two runs


@dataclass(slots=True)
class _Op:
    call_id: int
    request: ExecRequest
    client: str
    queued_at: float
    state: _State = _State.QUEUED
    started_at: float = 0.0
    cancelled: bool = False
    timed_out: bool = False
    replied: bool = False
    last_reported: tuple[int, int] | None = None
    params: dict[str, str] = field(default_factory=dict)
    digest: str = ""  # computed once per parameter set, not per run

    @property
    def resource(self) -> str:
        return self.request.resource

    @property
    def interval_ms(self) -> int:
        return self.request.interval_ms

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.resource, self.request.action, self.interval_ms)


def full_parameters(request: ExecRequest) -> dict[str, str]:
    """Instance attributes plus ``CRM_meta_*`` keys, the table the agent's environment is built
    from: meta names get ``-`` replaced by ``_``.

    Pacemaker's executor passes the table it is given (the controller's is the graph
    action's <attributes>: a probe has no CRM_meta_interval, an unconfigured operation no
    CRM_meta_name, as an agent's environment dump under Pacemaker 2.1.5 shows); only the
    timeout, and a recurring operation's interval, are added when the caller left them out.
    """
    r = request
    table = dict(r.params)
    for name, value in r.meta.items():
        table[f"CRM_meta_{name.replace('-', '_')}"] = str(value)
    table.setdefault("CRM_meta_timeout", str(r.timeout_ms))
    if r.interval_ms:
        table.setdefault("CRM_meta_interval", str(r.interval_ms))
    return table


class LrmdCore:
    """The executor's state machine (see the module docstring for its rules)."""

    def __init__(
        self, *, max_parallel: int = 4, kill_grace: float = 5.0
    ) -> None:
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self.max_parallel = max_parallel
        self._wall_offset = 0.0  # epoch seconds minus `now`, from the latest event's wall
        self.kill_grace = kill_grace
        self._next_call_id = 1
        self._ops: dict[int, _Op] = {}
        self._queue: list[int] = []
        self._running: dict[str, int] = {}
        self._recurring: dict[tuple[str, str, int], int] = {}
        self._history: dict[str, dict[str, OpCompleted]] = {}
        self._rc_changed: dict[str, tuple[int, float]] = {}

    # -- queries -----------------------------------------------------------------------
    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def recurring_ops(self) -> list[tuple[str, str, int]]:
        return sorted(self._recurring)

    def history(self, resource: str = "") -> list[OpCompleted]:
        """Recorded results (last, last failure, recurring), of one resource or all."""
        names = [resource] if resource else sorted(self._history)
        records: list[OpCompleted] = []
        seen: set[int] = set()
        for name in names:
            for _, record in sorted(self._history.get(name, {}).items()):
                if id(record) not in seen:  # last_0 may be the same record as last_failure_0
                    seen.add(id(record))
                    records.append(record)
        return records

    # -- events ------------------------------------------------------------------------
    def handle(self, event: Event) -> Effects:
        effects: Effects = []
        if event.wall is not None:  # the wall clock may have been stepped since: follow it
            self._wall_offset = event.wall - event.now
        if isinstance(event, Submit):
            self._submit(event, effects)
        elif isinstance(event, Cancel):
            self._cancel(event, effects)
        elif isinstance(event, AgentFinished):
            self._finished(event, effects)
        elif isinstance(event, TimerFired):
            self._timer(event, effects)
        self._dispatch(event.now, effects)
        return effects

    def _new_call_id(self) -> int:
        call_id = self._next_call_id
        self._next_call_id += 1
        return call_id

    def _submit(self, event: Submit, effects: Effects) -> None:
        request = event.request
        if request.action == "stop":
            for key in [k for k in self._recurring if k[0] == request.resource]:
                self._cancel_op(self._ops[self._recurring[key]], event.now, effects)
        key = (request.resource, request.action, request.interval_ms)
        existing = self._recurring.get(key) if request.interval_ms > 0 else None
        if existing is not None:
            op = self._ops[existing]
            self._merge(op, event, effects)
        else:
            call_id = self._new_call_id()
            op = _Op(
                call_id=call_id,
                request=request,
                client=event.client,
                queued_at=event.now,
                params=full_parameters(request),
                replied=not request.reply,
            )
            self._queue.append(call_id)
            if op.interval_ms > 0:
                self._recurring[key] = call_id
            self._ops[call_id] = op
        if event.client:
            effects.append(Send(Client(event.client), ExecAccepted(op.call_id)))

    def _merge(self, op: _Op, event: Submit, effects: Effects) -> None:
        """A duplicate recurring request replaces the old one's parameters and client, resets
        the first-result flag, and runs at once if it was waiting for its next interval.
        The call id is kept, so a running process stays matched to its operation."""
        if op.state is _State.WAITING:
            effects.append(CancelTimer(f"recur:{op.call_id}"))
            op.state = _State.QUEUED
            op.queued_at = event.now
            self._queue.append(op.call_id)
        op.request = event.request
        op.params = full_parameters(event.request)
        op.digest = ""
        op.client = event.client
        op.replied = not event.request.reply
        op.last_reported = None

    def _cancel(self, event: Cancel, effects: Effects) -> None:
        key = (event.resource, event.action, event.interval_ms)
        call_id = self._recurring.get(key)
        if call_id is None:
            call_id = next((c for c in self._queue if self._ops[c].key == key), None)
        if call_id is not None:
            self._cancel_op(self._ops[call_id], event.now, effects)
        if event.client:
            effects.append(Send(Client(event.client), Ack(call_id is not None)))

    def _cancel_op(self, op: _Op, now: float, effects: Effects) -> None:
        self._recurring.pop(op.key, None)
        if op.state is _State.RUNNING:
            op.cancelled = True  # reported when the process ends
            return
        if op.state is _State.QUEUED:
            self._queue.remove(op.call_id)
        else:
            effects.append(CancelTimer(f"recur:{op.call_id}"))
        del self._ops[op.call_id]
        self._drop_recurring_history(op)
        result = self._result(op, int(OcfRc.SUCCESS), OpStatus.CANCELLED, now)
        self._report(op, result, effects, force=True)

    def _timer(self, event: TimerFired, effects: Effects) -> None:
        kind, _, number = event.key.partition(":")
        op = self._ops.get(int(number)) if number.isdigit() else None
        if op is None:
            return
        if kind == "recur" and op.state is _State.WAITING:
            op.state = _State.QUEUED
            op.queued_at = event.now
            self._queue.append(op.call_id)
        elif op.state is not _State.RUNNING:
            return
        elif kind == "timeout":
            op.timed_out = True
            effects.append(KillProcessGroup(op.call_id, int(signal.SIGTERM)))
            effects.append(ArmTimer(f"kill:{op.call_id}", event.now + self.kill_grace))
        elif kind == "kill":
            effects.append(KillProcessGroup(op.call_id, int(signal.SIGKILL)))
            effects.append(ArmTimer(f"abandon:{op.call_id}", event.now + self.kill_grace))
        elif kind == "abandon":
            self._finished(
                AgentFinished(
                    op.call_id,
                    int(OcfRc.ERR_GENERIC),
                    event.now,
                    OpStatus.TIMEOUT,
                    "agent did not exit after SIGKILL",
                ),
                effects,
            )

    def _finished(self, event: AgentFinished, effects: Effects) -> None:
        op = self._ops.get(event.call_id)
        if op is None or op.state is not _State.RUNNING:
            return  # a late report for an operation already finalised
        del self._running[op.resource]
        for kind in ("timeout", "kill", "abandon"):
            effects.append(CancelTimer(f"{kind}:{op.call_id}"))
        status, rc, reason = event.status, event.rc, event.exit_reason
        if op.timed_out:
            status, rc = OpStatus.TIMEOUT, int(OcfRc.ERR_GENERIC)
            reason = f"timed out after {op.request.timeout_ms} ms"
        if op.cancelled:
            status = OpStatus.CANCELLED
        result = self._result(op, rc, status, event.now, reason, event.output)
        if op.cancelled:
            self._drop_recurring_history(op)
        else:
            self._record(result)
        recurring = op.interval_ms > 0 and not op.cancelled
        self._report(op, result, effects, force=not recurring)
        if recurring:
            op.state = _State.WAITING
            effects.append(ArmTimer(f"recur:{op.call_id}", event.now + op.interval_ms / 1000))
        else:
            del self._ops[op.call_id]

    def _result(
        self, op: _Op, rc: int, status: OpStatus, now: float, reason: str = "", output: str = ""
    ) -> OpCompleted:
        started = op.started_at if op.state is _State.RUNNING else now
        request = op.request
        last_rc_change = self._wall_offset + started
        previous = self._rc_changed.get(_op_key(op))
        if op.interval_ms > 0 and previous is not None and previous[0] == rc:
            last_rc_change = previous[1]
        if status is not OpStatus.CANCELLED:
            self._rc_changed[_op_key(op)] = (rc, last_rc_change)
        return OpCompleted(
            call_id=op.call_id,
            resource=op.resource,
            agent=request.agent,
            action=request.action,
            interval_ms=op.interval_ms,
            rc=rc,
            status=int(status),
            exit_reason=reason,
            output=output,
            exec_time_ms=round((now - started) * 1000) if op.state is _State.RUNNING else 0,
            queue_time_ms=round(max(0.0, started - op.queued_at) * 1000),
            last_run=self._wall_offset + started,
            last_rc_change=last_rc_change,
            op_digest=op.digest or op_digest(op.params, op.interval_ms, request.timeout_ms),
            params=op.params,
            timeout_ms=request.timeout_ms,
            target_rc=request.target_rc,
        )

    def _report(self, op: _Op, result: OpCompleted, effects: Effects, *, force: bool) -> None:
        outcome = (result.rc, result.status)
        # Pacemaker's executor reports a recurring result only when it changes (the
        # controller submits with lrmd_opt_notify_changes_only): a monitor failing again
        # before the DC reacted is the same failure, not another one to count.
        if force or op.last_reported != outcome:
            effects.append(Publish(OP_TOPIC, result))
        op.last_reported = outcome
        if op.client and not op.replied:
            effects.append(Send(Client(op.client), result))
            op.replied = True

    def _record(self, result: OpCompleted) -> None:
        if result.action in ("meta-data", "notify", "validate-all"):
            return
        if len(result.output) > HISTORY_OUTPUT_LIMIT:  # history is kept for every resource
            result = replace(result, output=result.output[:HISTORY_OUTPUT_LIMIT])
        entries = self._history.setdefault(result.resource, {})
        entry_id = history_entry_id(result)
        entries[entry_id] = result
        if result.failed and result.interval_ms == 0:
            entries[f"{result.resource}_last_0"] = result
        elif result.interval_ms == 0 and result.action != "monitor":
            for key in [
                k
                for k, r in entries.items()
                if r.interval_ms > 0
                and k != entry_id
                and (r.resource, r.action, r.interval_ms) not in self._recurring
            ]:
                del entries[key]

    def _drop_recurring_history(self, op: _Op) -> None:
        entries = self._history.get(op.resource, {})
        entries.pop(_op_key(op), None)

    def _dispatch(self, now: float, effects: Effects) -> None:
        for call_id in list(self._queue):
            if len(self._running) >= self.max_parallel:
                return
            op = self._ops[call_id]
            if op.resource in self._running:
                continue
            self._queue.remove(call_id)
            if not op.digest:
                op.digest = op_digest(op.params, op.interval_ms, op.request.timeout_ms)
            op.state = _State.RUNNING
            op.started_at = now
            op.timed_out = False
            self._running[op.resource] = call_id
            effects.append(RunAgent(call_id, op.request, op.params))
            effects.append(ArmTimer(f"timeout:{call_id}", now + op.request.timeout_ms / 1000))


def _op_key(op: _Op) -> str:
    return f"{op.resource}_{op.request.action}_{op.interval_ms}"
