"""A small deterministic cluster around `crmd.fsa.Controller` cores, for FSA tests.

A CIB copy per node: an update reaches every copy of the writer's partition (what
replication does), a join sync copies the chosen node's CIB to its partition; a fake lrmd
per node (start/stop/monitor answer at once; failures can be injected), a fencer that
powers its target off, membership views on every kill or partition, a fake clock with
timers. The whole-cluster simulator
(lab/sim) is the real thing; this is only enough to drive the controller end to end.
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from crmd.fsa import Controller, ControllerTiming, run_scheduler
from crmd.messages import (
    CibChanged,
    CibSynced,
    DeleteCib,
    ExecuteFencing,
    FenceCompleted,
    LocalOpResult,
    LrmdRequest,
    MembershipView,
    ModifyCib,
    PeerMessage,
    RunScheduler,
    StatusUpdated,
    StopController,
    SyncCib,
    UpdateAttribute,
)
from crmd.node_actions import ClearFailures
from crmd.recorder import merge_status
from crmd.wire import decode, encode
from lrmd.api import CancelRequest, ExecRequest, OpCompleted, op_digest
from messaging.effects import ArmTimer, CancelTimer, Node, Send, TimerFired

WALL0 = 1_700_000_000.0


@dataclass
class FakeLrmd:
    running: set[str] = field(default_factory=set)
    starts: list[str] = field(default_factory=list)
    failing: set[tuple[str, str, int]] = field(default_factory=set)
    hanging: set[tuple[str, str, int]] = field(default_factory=set)  # never answered
    calls: int = 0

    def run(self, request: ExecRequest, wall: float) -> OpCompleted:
        self.calls += 1
        rsc, action = request.resource, request.action
        key = (rsc, action, request.interval_ms)
        rc = 0
        if action == "start":
            self.running.add(rsc)
            self.starts.append(rsc)
        elif action == "stop":
            self.running.discard(rsc)
        elif action == "monitor":
            rc = 0 if rsc in self.running else 7
        if key in self.failing:
            rc = 1
            self.failing.discard(key)
            self.running.discard(rsc)
        return OpCompleted(call_id=self.calls, resource=rsc, agent=request.agent,
                           action=action, interval_ms=request.interval_ms, rc=rc, status=0,
                           exec_time_ms=1, last_run=wall, last_rc_change=wall,
                           params=request.params, timeout_ms=request.timeout_ms,
                           op_digest=op_digest(request.params, request.interval_ms,
                                               request.timeout_ms))


class Cluster:
    def __init__(self, cib_path: Path, *, stonith: bool = False, delay: float = 0.01,
                 results_from_cib: bool = False) -> None:
        self.results_from_cib = results_from_cib
        self.cib = etree.parse(str(cib_path)).getroot()
        status = self.cib.find("status")
        assert status is not None
        for child in list(status):
            status.remove(child)
        if stonith:
            for nv in self.cib.iter("nvpair"):
                if nv.get("name") == "stonith-enabled":
                    nv.set("value", "true")
            resources = self.cib.find("configuration/resources")
            assert resources is not None
            resources.insert(0, etree.fromstring(
                '<primitive id="fencing" class="stonith" type="fence_lab"/>'))
        self.node_ids = {str(n.get("uname")): str(n.get("id")) for n in
                         self.cib.iterfind("configuration/nodes/node")}
        self.template = self.cib
        self.cibs: dict[str, etree._Element] = {}
        self.names = sorted(self.node_ids)
        self.delay = delay
        self.now = 0.0
        self.timing = ControllerTiming(recheck_interval=1e9)
        self.nodes: dict[str, Controller] = {}
        self.lrmds: dict[str, FakeLrmd] = {}
        self.alive: set[str] = set()
        self.groups: list[frozenset[str]] = []
        self.fenced: list[str] = []
        self.timeline: list[tuple[float, str, str, str]] = []  # (time, what, node, resource)
        self.violations: list[tuple[float, str, str, str]] = []
        self.stopped: list[str] = []
        self.fencing_broken = False  # every fencing attempt fails (after a second)
        self.fence_attempts: list[str] = []
        self.prepared: dict[str, FakeLrmd] = {}  # lrmds with injected faults, used at boot
        self.version = [0, 1, 0]
        self._queue: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self._timers: dict[tuple[str, str], float] = {}
        self._boots: dict[str, int] = {}

    # --- control ------------------------------------------------------------------------

    def boot(self, name: str) -> None:
        self._boots[name] = self._boots.get(name, 0) + 1
        self.nodes[name] = Controller(name, self.node_ids, WALL0 + self.now, self.timing,
                                      results_from_cib=self.results_from_cib,
                                      wall_offset=WALL0)
        self.lrmds[name] = self.prepared.pop(name, FakeLrmd())
        self.cibs[name] = copy.deepcopy(self.template)
        self.alive.add(name)
        self._apply(name, self.nodes[name].start(self.now))

    def start_all(self) -> None:
        for name in self.names:
            self.boot(name)
        self.partition([self.names])

    def partition(self, groups: list[list[str]] | list[frozenset[str]]) -> None:
        listed = [frozenset(g) & self.alive for g in groups]
        rest = self.alive - set().union(*listed)
        self.groups = [g for g in listed if g] + [frozenset({n}) for n in sorted(rest)]
        for group in self.groups:
            quorate = len(group) > len(self.names) // 2
            for name in sorted(group):
                self._deliver_event(name, MembershipView(tuple(sorted(group)), quorate,
                                                         self.now))

    def kill(self, name: str) -> None:
        self.alive.discard(name)
        self.lrmds[name].running.clear()
        self.partition([g - {name} for g in self.groups])

    def request_shutdown(self, name: str) -> None:
        """`hacluster node stop` on `name`: its controller asks the DC."""
        from crmd.messages import ShutdownRequested

        self._deliver_event(name, ShutdownRequested(name, self.now))

    def restart_controller(self, name: str) -> None:
        """Only the controller restarts: the node stays in the view, its lrmd keeps running."""
        self._boots[name] += 1
        self.nodes[name] = Controller(name, self.node_ids, WALL0 + self.now, self.timing,
                                      results_from_cib=self.results_from_cib,
                                      wall_offset=WALL0)
        self._apply(name, self.nodes[name].start(self.now))
        group = tuple(sorted(self._group_of(name)))
        quorate = len(group) > len(self.names) // 2
        self._deliver_event(name, MembershipView(group, quorate, self.now))

    def revive(self, name: str) -> None:
        """The node (re)starts with empty history and joins everyone it can reach."""
        self.boot(name)
        self.partition([sorted(self.alive)])

    def audit(self) -> None:
        """No resource runs on two nodes at once (sampled from every executor, not the CIB)."""
        seen: dict[str, str] = {}
        for node in sorted(self.alive):
            for rsc in self.lrmds[node].running:
                if rsc in seen:
                    self.violations.append((self.now, rsc, seen[rsc], node))
                seen[rsc] = node

    def run_for(self, seconds: float) -> None:
        deadline = self.now + seconds
        while self._queue and self._queue[0][0] <= deadline:
            when, _, kind, payload = heapq.heappop(self._queue)
            self.now = max(self.now, when)
            name, boot, item = payload
            if name not in self.alive or self._boots[name] != boot:
                continue
            if kind == "timer":
                if self._timers.get((name, item.key)) != item.deadline:
                    continue
                del self._timers[(name, item.key)]
                self._deliver_event(name, TimerFired(item.key, self.now))
            elif kind == "event":
                self._deliver_event(name, item)
            elif kind == "stop":
                self.kill(name)
            elif kind == "msg":
                source, send = item
                if source in self.alive and name in self._group_of(source):
                    self._deliver_event(name, PeerMessage(source, send.message, self.now))
            self.audit()
        self.now = deadline

    # --- queries ------------------------------------------------------------------------

    def dc(self) -> str | None:
        dcs = [n for n in self.alive if self.nodes[n].is_dc]
        return dcs[0] if len(dcs) == 1 else None

    def placement(self) -> set[tuple[str, str]]:
        return {(rsc, n) for n in self.alive for rsc in self.lrmds[n].running}

    def cib_text(self, node: str | None = None) -> bytes:
        """A node's CIB copy (default: the DC's)."""
        return etree.tostring(self.cibs[node or self.dc() or sorted(self.alive)[0]])

    # --- plumbing -----------------------------------------------------------------------

    def _group_of(self, name: str) -> frozenset[str]:
        return next((g for g in self.groups if name in g), frozenset())

    def _push(self, when: float, kind: str, name: str, item: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, kind, (name, self._boots[name], item)))

    def _deliver_event(self, name: str, event: Any) -> None:
        self._apply(name, self.nodes[name].handle(event))

    def _apply(self, name: str, effects: list[Any]) -> None:
        for effect in effects:
            self._perform(name, effect)

    def _perform(self, name: str, effect: Any) -> None:
        later = self.now + self.delay
        if isinstance(effect, LrmdRequest):
            if isinstance(effect.request, ExecRequest):
                self.timeline.append((self.now, effect.request.action, name,
                                      effect.request.resource))
                request = effect.request
                lrmd = self.lrmds[name]
                if (request.resource, request.action, request.interval_ms) in lrmd.hanging:
                    lrmd.hanging.discard((request.resource, request.action,
                                          request.interval_ms))
                    return
                result = lrmd.run(request, WALL0 + self.now)
                self._push(later, "event", name, LocalOpResult(result, later))
            elif not isinstance(effect.request, CancelRequest):
                raise AssertionError(effect)
        elif isinstance(effect, Send):
            # every message between controllers goes through its wire form
            wired = Send(effect.destination, decode(encode(effect.message)))
            assert isinstance(effect.destination, Node)
            if effect.destination.name in self.alive:
                self._push(later, "msg", effect.destination.name, (name, wired))
        elif isinstance(effect, ArmTimer):
            self._timers[(name, effect.key)] = effect.deadline
            self._push(effect.deadline, "timer", name, effect)
        elif isinstance(effect, CancelTimer):
            self._timers.pop((name, effect.key), None)
        elif isinstance(effect, RunScheduler):
            done = run_scheduler(self.cib_text(name), effect, later)
            self._push(later, "event", name, done)
        elif isinstance(effect, SyncCib):
            source = self.cibs[effect.source or name]
            for node in self._group_of(name):
                self.cibs[node] = copy.deepcopy(source)
            self._push(later, "event", name, CibSynced(True, later))
        elif isinstance(effect, ExecuteFencing):
            self.timeline.append((self.now, "fence", effect.target, ""))
            if self.fencing_broken:
                self.fence_attempts.append(effect.target)
                self._push(later + 1.0, "event", name, FenceCompleted(
                    effect.transition_key, effect.target, False, later + 1.0))
                return
            self.fenced.append(effect.target)
            if effect.target in self.alive:
                self.kill(effect.target)
            self._push(later, "event", name, FenceCompleted(effect.transition_key,
                                                            effect.target, True, later))
        elif isinstance(effect, StopController):
            self.stopped.append(name)
            self._push(later, "stop", name, None)
        else:
            self._cib_effect(name, effect)

    def _cib_effect(self, name: str, effect: Any) -> None:
        for node in sorted(self._group_of(name) & self.alive):
            self.cib = self.cibs[node]
            if not self._edit_copy(effect):
                return
        self.version[2] += 1
        change = CibChanged(tuple(self.version), self.now,  # type: ignore[arg-type]
                            attributes_changed=isinstance(effect, (UpdateAttribute,
                                                                   ClearFailures)))
        for node in sorted(self._group_of(name) & self.alive):
            self._push(self.now + self.delay, "event", node, change)
            if self.results_from_cib and isinstance(effect, ModifyCib) \
                    and effect.section == "status":  # the DC learns results from CIB diffs
                self._push(self.now + self.delay, "event", node,
                           StatusUpdated(effect.xml, self.now + self.delay))

    def _edit_copy(self, effect: Any) -> bool:
        status = self.cib.find("status")
        assert status is not None
        if isinstance(effect, ModifyCib) and effect.section == "status":
            merge_status(status, effect.xml)
        elif isinstance(effect, ModifyCib) and effect.section == "cib":
            for key, value in etree.fromstring(effect.xml).attrib.items():
                self.cib.set(key, value)
        elif isinstance(effect, ModifyCib) and effect.section == "nodes":
            pass  # every node is configured already
        elif isinstance(effect, DeleteCib):
            for found in self.cib.xpath(effect.xpath.replace("/cib/", "/cib/", 1)):
                found.getparent().remove(found)
        elif isinstance(effect, UpdateAttribute):
            self._set_attribute(effect)
        elif isinstance(effect, ClearFailures):
            self._clear_failures(effect)
        else:
            return False  # logs and the like
        return True

    def _attributes(self, node: str) -> etree._Element:
        node_id = self.node_ids[node]
        status = self.cib.find("status")
        assert status is not None
        merge_status(status, f'<node_state id="{node_id}" uname="{node}"><transient_attributes '
                     f'id="{node_id}"><instance_attributes id="status-{node_id}"/>'
                     "</transient_attributes></node_state>")
        found = status.find(f"node_state[@id='{node_id}']/transient_attributes/"
                            "instance_attributes")
        assert found is not None
        return found

    def _set_attribute(self, update: UpdateAttribute) -> None:
        attributes = self._attributes(update.node)
        node_id = self.node_ids[update.node]
        pair_id = f"status-{node_id}-{update.name}".replace("#", ".")
        pair = attributes.find(f"nvpair[@name='{update.name}']")
        old = pair.get("value", "0") if pair is not None else "0"
        value = update.value
        if value == "value++":
            value = "INFINITY" if old == "INFINITY" else str(int(old) + 1)
        if pair is None:
            pair = etree.SubElement(attributes, "nvpair", id=pair_id, name=update.name)
        pair.set("value", value)

    def _clear_failures(self, clear: ClearFailures) -> bool:
        attributes = self._attributes(clear.node)
        hit = False
        for pair in list(attributes):
            name = pair.get("name", "")
            if name.startswith((f"fail-count-{clear.resource}#",
                                f"last-failure-{clear.resource}#")):
                attributes.remove(pair)
                hit = True
        return hit


def fail_recurring_monitor(cluster: Cluster, node: str, resource: str, interval_ms: int) -> None:
    """The resource dies on `node`; its recurring monitor reports a generic error (the
    resource has no parameters and a 20 s monitor timeout, as in examples/cib-3node.xml)."""
    lrmd = cluster.lrmds[node]
    lrmd.running.discard(resource)
    lrmd.calls += 1
    from lrmd.api import AgentSpec

    result = OpCompleted(call_id=lrmd.calls, resource=resource,
                         agent=AgentSpec("ocf", "Dummy", "heartbeat"), action="monitor",
                         interval_ms=interval_ms, rc=1, status=0, exec_time_ms=1,
                         last_run=WALL0 + cluster.now, last_rc_change=WALL0 + cluster.now,
                         timeout_ms=20000, op_digest=op_digest({}, interval_ms, 20000))
    cluster._push(cluster.now, "event", node, LocalOpResult(result, cluster.now))
