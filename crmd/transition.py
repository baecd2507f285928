"""The transition engine core: executes one transition graph at a time, by events.

Pure: `start(graph, now, wall)` and `handle(event)` return effects; time only arrives in
events. Behaviour follows Pacemaker's graph consumer and controller:

- An action fires when every input is confirmed and none failed (unless the input may fail).
  Pseudo actions and `op_no_wait` actions are confirmed as soon as they fire.
- Each pass walks the actions in synapse order; non-pseudo actions stop firing when
  `batch-limit` (if > 0) actions are in flight, or when their priority is below the
  graph's abort priority (after an abort nothing new starts; pseudo actions are exempt);
  a migration waits while `migration-limit` (if >= 0) migrations involve its source or
  target node. Per-node job limits (node-action-limit, load) are not modelled.
- Every fired, waited-for action gets a timer: its timeout + cluster-delay (fencing:
  stonith-timeout + cluster-delay; no timeout: cluster-delay alone). Expiry fails it, asks
  the DC to record a synthesized timeout and aborts ("Action lost").
- Results are matched by transition key. A key of another DC, another transition or no
  transition aborts ("Foreign/Old/Unexpected event"). A result whose rc differs from the
  target rc (190/191 count as 0/8) fails the action, aborts with priority + 1, and fails
  count through the attribute manager (not for probes; start/stop failures set INFINITY).
- When nothing is in flight and nothing can fire, `TransitionFinished` tells whether the
  graph completed, must be replanned (aborted or failed), or is stuck ("terminated": an
  input that is never confirmed, such as a held one; not replanned, as in Pacemaker).

Invariants: an action is confirmed at most once; no effect is ever produced for a graph
after its `TransitionFinished`; in-flight actions are never cancelled by an abort.
"""

from __future__ import annotations

import enum
import heapq

from crmd import graph as reading
from crmd.graph import FAKE_DC_UUID, ActionKind, parse_transition_key
from crmd.graph import transition_key as make_key
from crmd.messages import (
    AbortTransition,
    ActionResult,
    ExecuteClusterAction,
    ExecuteFencing,
    ExecuteResourceAction,
    NodeLeft,
    RecordActionTimeout,
    TransitionFinished,
    UpdateAttribute,
)
from messaging.effects import ArmTimer, CancelTimer, Effect, Log, TimerFired
from messaging.types import OpStatus
from pengine.api import GraphAction, TransitionGraph

INFINITY = 1_000_000
TIMER_PREFIX = "action:"
_EFFECTIVE_RC = {190: 0, 191: 8}  # degraded results count as their healthy equivalent
_MIGRATIONS = frozenset({"migrate_to", "migrate_from"})

Event = ActionResult | AbortTransition | NodeLeft | TimerFired
EngineEffect = (Effect | ExecuteResourceAction | ExecuteFencing | ExecuteClusterAction
                | RecordActionTimeout | TransitionFinished | UpdateAttribute)


def _migration_nodes(action: GraphAction) -> set[str]:
    meta = reading.meta(action)
    nodes = {meta.get("CRM_meta_migrate_source"), meta.get("CRM_meta_migrate_target")}
    return {n for n in nodes if n}


class Progress(enum.Enum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class TransitionEngine:
    """Runs graphs for one DC. `dc_uuid` goes into every transition key."""

    def __init__(self, dc_uuid: str) -> None:
        self.dc_uuid = dc_uuid
        self.graph: TransitionGraph | None = None
        self.progress: dict[int, Progress] = {}
        self.abort_priority = 0
        self.abort_reason = ""
        self.finished = True
        self.fired_order: list[int] = []
        self.unmatched = 0  # results that matched no running action (the FSA replans)
        self._wall_offset = 0.0
        self._by_id: dict[int, GraphAction] = {}
        self._kind: dict[int, ActionKind] = {}
        self._priority: dict[int, int] = {}
        self._position: dict[int, int] = {}
        self._dependents: dict[int, list[int]] = {}
        self._missing: dict[int, int] = {}
        self._ready: list[tuple[int, int]] = []
        self._outcomes: dict[int, tuple[int, int]] = {}  # confirmed results (rc, status)
        self._in_flight: set[int] = set()

    # --- public -------------------------------------------------------------------------

    def start(self, graph: TransitionGraph, now: float, wall: float = 0.0) -> list[EngineEffect]:
        """Begin executing `graph` (the previous one must have finished)."""
        if not self.finished:
            raise RuntimeError("start() while a transition is still running")
        self.graph = graph
        self.progress = {s.action.id: Progress.PENDING for s in graph.synapses}
        self.abort_priority = 0
        self.abort_reason = ""
        self.finished = False
        self.fired_order = []
        self._wall_offset = wall - now
        self._by_id = graph.actions()
        self._kind = {i: reading.action_kind(a) for i, a in self._by_id.items()}
        self._priority = {s.action.id: s.priority for s in graph.synapses}
        self._position = {s.action.id: index for index, s in enumerate(graph.synapses)}
        self._outcomes = {}
        self._in_flight = set()
        self._dependents = {i: [] for i in self._by_id}
        # a held input (a required action left out of the graph) is never confirmed: its
        # action never fires and the graph ends "terminated", as Pacemaker's does
        self._missing = {s.action.id: len(s.inputs) + len(s.held) for s in graph.synapses}
        for synapse in graph.synapses:
            for before in synapse.inputs:
                self._dependents[before].append(synapse.action.id)
        self._ready = [(self._position[s.action.id], s.action.id) for s in graph.synapses
                       if not s.inputs and not s.held]
        heapq.heapify(self._ready)
        effects: list[EngineEffect] = [Log("transition_started", fields=(
            ("transition_id", graph.transition_id), ("actions", len(graph.synapses))))]
        return effects + self._pass(now)

    def handle(self, event: Event) -> list[EngineEffect]:
        if isinstance(event, ActionResult):
            return self._on_result(event)
        if isinstance(event, AbortTransition):
            return self.abort(event.reason, event.now, event.priority)
        if isinstance(event, NodeLeft):
            return self._on_node_left(event)
        if event.key.startswith(TIMER_PREFIX):
            return self._on_timer(event)
        return []

    def abort(self, reason: str, now: float, priority: int = INFINITY) -> list[EngineEffect]:
        """Stop firing new actions; in-flight ones complete; then replan."""
        if self.finished:
            return []
        if priority > self.abort_priority:
            self.abort_priority = priority
            self.abort_reason = reason
        log = Log("transition_aborted", fields=(("reason", reason),
                                                 ("transition_id", self._id)))
        return [log, *self._pass(now)]

    def key_of(self, action: GraphAction) -> str:
        return make_key(action.id, self._id, reading.target_rc(action), self.dc_uuid)

    def takes_down(self, node_id: str) -> bool:
        """Pacemaker's match_down_event: the current (or last) graph fences or shuts down
        `node_id`, so its attributes and history going away was expected."""
        return any(node_id in action.downed for action in self._by_id.values())

    @property
    def in_flight(self) -> list[int]:
        return sorted(self._in_flight)

    # --- firing -------------------------------------------------------------------------

    @property
    def _id(self) -> int:
        return self.graph.transition_id if self.graph is not None else -1

    def _settle(self, action_id: int, progress: Progress) -> None:
        """Record a final state; dependents whose inputs are now all satisfied become ready."""
        self.progress[action_id] = progress
        self._in_flight.discard(action_id)
        if progress is Progress.FAILED and not reading.can_fail(self._by_id[action_id]):
            return
        for then in self._dependents[action_id]:
            self._missing[then] -= 1
            if self._missing[then] == 0 and self.progress[then] is Progress.PENDING:
                heapq.heappush(self._ready, (self._position[then], then))

    def _pass(self, now: float) -> list[EngineEffect]:
        """Fire every ready action allowed to fire, in synapse order (a heap of positions,
        so unlocking by pseudo actions costs log n, not another walk over the graph)."""
        effects: list[EngineEffect] = []
        deferred: list[tuple[int, int]] = []
        while self._ready:
            entry = heapq.heappop(self._ready)
            action = self._by_id[entry[1]]
            if self.progress[action.id] is not Progress.PENDING:
                continue
            if self._may_fire(action):
                effects += self._fire(action, now)
            else:
                deferred.append(entry)
        for entry in deferred:
            heapq.heappush(self._ready, entry)
        return effects + self._check_finished()

    def _may_fire(self, action: GraphAction) -> bool:
        if self._kind[action.id] is ActionKind.PSEUDO:
            return True
        if self.abort_priority and self._priority[action.id] < self.abort_priority:
            return False
        assert self.graph is not None
        limit = self.graph.batch_limit
        if limit > 0 and len(self._in_flight) >= limit:
            return False
        return self._migration_allowed(action)

    def _migration_allowed(self, action: GraphAction) -> bool:
        """migration-limit: live migrations in flight per node, counted on both the
        source and the target (Pacemaker's graph_action_allowed)."""
        assert self.graph is not None
        limit = self.graph.migration_limit
        if limit < 0 or action.operation not in _MIGRATIONS:
            return True
        busy: dict[str, int] = {}
        for action_id in self._in_flight:
            other = self._by_id[action_id]
            if other.operation in _MIGRATIONS:
                for node in _migration_nodes(other):
                    busy[node] = busy.get(node, 0) + 1
        return all(busy.get(node, 0) < limit for node in _migration_nodes(action))

    def _fire(self, action: GraphAction, now: float) -> list[EngineEffect]:
        self.fired_order.append(action.id)
        if self._kind[action.id] is ActionKind.PSEUDO:
            self._settle(action.id, Progress.CONFIRMED)
            return []
        key = self.key_of(action)
        effects: list[EngineEffect] = [self._dispatch(action, key)]
        if reading.no_wait(action):
            self._settle(action.id, Progress.CONFIRMED)
            return effects
        self.progress[action.id] = Progress.IN_FLIGHT
        self._in_flight.add(action.id)
        effects.append(ArmTimer(self._timer_key(action.id), now + self._timer_s(action)))
        return effects

    def _dispatch(self, action: GraphAction, key: str) -> EngineEffect:
        assert self.graph is not None
        kind = self._kind[action.id]
        if kind is ActionKind.FENCE:
            return ExecuteFencing(key, action.on_node or "", reading.fence_action(action),
                                  reading.stonith_timeout_ms(self.graph) / 1000)
        if kind is ActionKind.CLUSTER:
            return ExecuteClusterAction(action.on_node or "", key, action)
        return ExecuteResourceAction(action.on_node or "", key, action)

    def _timer_s(self, action: GraphAction) -> float:
        assert self.graph is not None
        delay = reading.cluster_delay_ms(self.graph)
        timeout = (reading.stonith_timeout_ms(self.graph)
                   if self._kind[action.id] is ActionKind.FENCE
                   else reading.timeout_ms(action))
        return (timeout + delay if timeout > 0 else delay) / 1000

    def _timer_key(self, action_id: int) -> str:
        return f"{TIMER_PREFIX}{self._id}:{action_id}"

    def _check_finished(self) -> list[EngineEffect]:
        if self.finished or self._in_flight:
            return []
        self.finished = True
        failed = tuple(i for i, p in self.progress.items() if p is Progress.FAILED)
        pending = [i for i, p in self.progress.items() if p is Progress.PENDING]
        if not pending and not failed and not self.abort_priority:
            outcome = "complete"
        elif pending and not self.abort_priority:
            outcome = "terminated"
        else:
            outcome = "stopped"
        # Pacemaker replans only an aborted graph: a stuck one (an input never confirmed)
        # ends "Transition failed: terminated" and the controller goes idle until the
        # cluster changes (te_graph_trigger, notify_crmd: I_TE_SUCCESS)
        replan = outcome == "stopped"
        log = Log("transition_finished", fields=(("transition_id", self._id),
                                                 ("outcome", outcome)))
        return [log, TransitionFinished(self._id, outcome, replan, failed)]

    # --- events -------------------------------------------------------------------------

    def _on_result(self, event: ActionResult) -> list[EngineEffect]:
        key = parse_transition_key(event.transition_key)
        if event.status == OpStatus.PENDING or (
                event.status == OpStatus.CANCELLED and event.interval_ms):
            return []
        if key is None or -1 in (key.action_id, key.transition_id) or key.dc_uuid == FAKE_DC_UUID:
            return self._unmatched(event, "Unexpected event", outside=True)
        if key.dc_uuid != self.dc_uuid.rstrip():
            return self._unmatched(event, "Foreign event")
        if key.transition_id == self._id:
            action = self._by_id.get(key.action_id)
            if action is not None and self.progress[action.id] is Progress.IN_FLIGHT:
                return self._confirm(action, event)
            if action is not None and reading.no_wait(action):
                return []  # confirmed when fired; its result changes nothing
            if action is not None and self._outcomes.get(action.id) == (event.rc, event.status):
                return []  # another copy of a known result (_last_0 + _last_failure_0, or
                # the direct report and the CIB entry)
        reason = "Change in recurring result" if event.interval_ms else "Old event"
        return self._unmatched(event, reason, target_rc=key.target_rc)

    def _unmatched(self, event: ActionResult, reason: str, *, outside: bool = False,
                   target_rc: int = 0) -> list[EngineEffect]:
        """A result no running action waits for: abort (the caller replans when no graph
        runs) and count a failure (probes only count when initiated outside the cluster)."""
        self.unmatched += 1
        self.abort_reason = reason if self.finished else self.abort_reason
        effects = self.abort(reason, event.now)
        rc = _EFFECTIVE_RC.get(event.rc, event.rc)
        failed = event.status != OpStatus.DONE or rc != target_rc
        if failed and event.resource and event.task:
            probe = event.task == "monitor" and event.interval_ms == 0
            if outside or not probe:
                effects += self._failcount(event.resource, event.task, event.interval_ms,
                                           "", event)
        return effects

    def _confirm(self, action: GraphAction, event: ActionResult) -> list[EngineEffect]:
        self._outcomes[action.id] = (event.rc, event.status)
        effects: list[EngineEffect] = [CancelTimer(self._timer_key(action.id))]
        rc = _EFFECTIVE_RC.get(event.rc, event.rc)
        ok = event.status == OpStatus.DONE and rc == reading.target_rc(action)
        on_fail = reading.meta(action).get("CRM_meta_on_fail", "")
        if ok or on_fail == "ignore":
            self._settle(action.id, Progress.CONFIRMED)
            if not ok:
                effects += self._action_failcount(action, event)
            return effects + self._pass(event.now)
        self._settle(action.id, Progress.FAILED)
        effects += self._action_failcount(action, event)
        return effects + self.abort("Event failed", event.now, self._priority[action.id] + 1)

    def _action_failcount(self, action: GraphAction, event: ActionResult) -> list[EngineEffect]:
        if self._kind[action.id] is not ActionKind.RESOURCE or action.resource is None:
            return []
        # update_failcount names the resource as the result's operation key does (an
        # anonymous clone instance d:0 runs, and fails, as "d")
        return self._failcount(reading.resource_name(action), action.operation,
                               reading.interval_ms(action),
                               reading.meta(action).get("CRM_meta_on_fail", ""), event)

    def _failcount(self, resource: str, task: str, interval_ms: int, on_fail: str,
                   event: ActionResult) -> list[EngineEffect]:
        """Pacemaker's update_failcount: probes never count; start/stop failures ban."""
        if task == "monitor" and interval_ms == 0:
            return []
        suffix = f"{resource}#{task}_{interval_ms}"
        wall = event.wall or (event.now + self._wall_offset)
        updates = [UpdateAttribute(event.node, f"last-failure-{suffix}", str(int(wall)))]
        if on_fail != "ignore":
            value = "INFINITY" if task in ("start", "stop") else "value++"
            updates.insert(0, UpdateAttribute(event.node, f"fail-count-{suffix}", value))
        return list(updates)

    def _on_timer(self, event: TimerFired) -> list[EngineEffect]:
        transition, _, action_text = event.key[len(TIMER_PREFIX):].partition(":")
        if self.finished or transition != str(self._id):
            return []
        action = self._by_id.get(int(action_text))
        if action is None or self.progress[action.id] is not Progress.IN_FLIGHT:
            return []
        self._settle(action.id, Progress.FAILED)
        effects: list[EngineEffect] = [Log("action_timed_out", "warning", (
            ("transition_id", self._id), ("action", action.operation_key)))]
        if self._kind[action.id] is ActionKind.RESOURCE:
            # The synthesized result counts as a failure like any other (and its copy
            # coming back through the CIB is then known, not counted twice).
            self._outcomes[action.id] = (1, int(OpStatus.TIMEOUT))
            wall = event.wall or event.now + self._wall_offset
            node = action.on_node or ""
            reason = f"Controller on {action.on_node} did not return result in time"
            effects.append(RecordActionTimeout(node, self.key_of(action), action, reason, wall))
            effects += self._action_failcount(action, ActionResult(
                self.key_of(action), node, 1, int(OpStatus.TIMEOUT), event.now,
                reading.interval_ms(action), reason, wall))
        return effects + self.abort("Action lost", event.now)

    def _on_node_left(self, event: NodeLeft) -> list[EngineEffect]:
        """Pacemaker's fail_incompletable_actions: the node's actions can never complete."""
        if self.finished or self.graph is None:
            return []
        effects: list[EngineEffect] = []
        hit = False
        for action in self._by_id.values():
            if action.on_node != event.node or self._kind[action.id] in (ActionKind.PSEUDO,
                                                                         ActionKind.FENCE):
                continue
            state = self.progress[action.id]
            if state is Progress.IN_FLIGHT:
                effects.append(CancelTimer(self._timer_key(action.id)))
            if state in (Progress.IN_FLIGHT, Progress.PENDING):
                self._settle(action.id, Progress.FAILED)
                hit = True
        if not hit:
            return effects
        return effects + self.abort("Node failure", event.now)
