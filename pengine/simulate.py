"""Execute a transition graph in simulation: fire order, console lines, resulting CIB.

Pure: synapses and a CIB tree in, a new CIB tree out (the input tree is never modified).
Firing follows Pacemaker's graph consumer with a simulator that confirms every action at
once: passes walk the synapses in document order and fire each one whose inputs are all
confirmed at that moment, so a synapse may fire in the same pass as its inputs when it comes
after them. Every fired action succeeds with its expected rc (CRM_meta_op_target_rc, else
0). Results are written the way the controller records them (reference controller.md §1):
one lrm_rsc_op per resource and node for the last non-recurring result (`<rsc>_last_0`),
one per recurring op (`<rsc>_<task>_<ms>`), fencing turns the node's state down and drops its
history and transient attributes; shutdown and pseudo actions change nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from messaging.digest import parameters_digest
from pengine.graph_xml import Synapse, graph_name, key_resource
from pengine.inject import inject_failcount, record_result
from pengine.model import Action
from pengine.opspec import failure_for

FAKE_DC_UUID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"  # what crm_simulate writes
_NO_HISTORY = frozenset({"stonith", "do_shutdown", "clear_failcount", "lrm_refresh",
                         "lrm_delete", "maintenance_nodes", "probe_again", "delete"})


def fire_order(synapses: Sequence[Synapse]) -> tuple[Action, ...]:
    """The order in which the simulator fires the synapses' actions.

    A synapse at position j whose last input was confirmed in pass p at position i fires in
    pass p when i < j, else in pass p + 1; synapses without inputs fire in pass 0. Synapses
    on a cycle (never ready) or waiting for an input left out of the graph are not fired.
    """
    position = {s.action.id: index for index, s in enumerate(synapses)}
    waiting = {s.action.id: len(s.inputs) + len(s.held) for s in synapses}
    dependents: dict[int, list[int]] = {}
    for synapse in synapses:
        for before in synapse.inputs:
            dependents.setdefault(before.id, []).append(synapse.action.id)
    fire_pass = {aid: 0 for aid, count in waiting.items() if count == 0}
    ready = list(fire_pass)
    while ready:
        done = ready.pop()
        for then in dependents.get(done, ()):
            if then not in waiting:
                continue
            needed = fire_pass[done] + (0 if position[done] < position[then] else 1)
            fire_pass[then] = max(fire_pass.get(then, 0), needed)
            waiting[then] -= 1
            if waiting[then] == 0:
                ready.append(then)
    fired = sorted(fire_pass, key=lambda aid: (fire_pass[aid], position[aid]))
    by_id = {s.action.id: s.action for s in synapses}
    return tuple(by_id[aid] for aid in fired if waiting[aid] == 0)


_SILENT_TASKS = frozenset({"probe_again"})
_CLUSTER_TASKS = frozenset({"do_shutdown", "clear_failcount", "lrm_refresh", "lrm_delete",
                            "maintenance_nodes"})


def fired_item(action: Action) -> tuple[str, tuple[tuple[str, str | None], ...]] | None:
    """What crm_simulate reports of a fired action, in text and XML alike: the XML tag and
    its attributes (None: not reported)."""
    if action.task in _SILENT_TASKS:
        return None
    if action.pseudo:
        return "pseudo_action", (("task", action.operation_key),)
    if action.task == "stonith":
        return "fencing_action", (("target", action.node), ("op", fence_kind(action)))
    if action.resource is None or action.task in _CLUSTER_TASKS:
        # crm_simulate names the graph's <primitive id>: `d` for an anonymous instance
        return "cluster_action", (("task", action.task), ("node", action.node),
                                  ("id", graph_name(action) if action.resource else None))
    interval = str(action.interval_ms) if action.interval_ms else None
    return "rsc_action", (("resource", resource_label(action)), ("op", action.task),
                          ("node", action.node), ("interval", interval))


def action_line(action: Action) -> str | None:
    """One "Executing Cluster Transition" line for a fired action (None: not printed)."""
    item = fired_item(action)
    if item is None:
        return None
    kind, pairs = item
    fields = dict(pairs)
    if kind == "pseudo_action":
        return f"  * Pseudo action:   {fields['task']}"
    if kind == "fencing_action":
        return f"  * Fencing {fields['target']} ({fields['op']})"
    if kind == "cluster_action":
        target = f" for {fields['id']}" if fields["id"] else ""
        return f"  * Cluster action:  {fields['task']}{target} on {fields['node']}"
    task = f"{fields['op']}={fields['interval']}" if fields["interval"] else fields["op"]
    return f"  * Resource action: {fields['resource']:<15} {task} on {fields['node']}"


def resource_label(action: Action) -> str:
    """The name crm_simulate prints for a resource action: the graph's <primitive id>
    unless Pacemaker finds no resource by it (then its long-id, `d:0`)."""
    return action.label or graph_name(action)


def fence_kind(action: Action) -> str:
    """reboot, off or on: from CRM_meta_stonith_action, else the key's last word."""
    meta = dict(action.attributes).get("CRM_meta_stonith_action")
    return meta or action.key.rsplit("-", 1)[-1]


@dataclass(slots=True)
class _Recorder:
    """Writes results into a private copy of the CIB, with indexes built once."""

    cib: etree._Element
    transition_id: int
    now: int
    dc_uuid: str
    call_id: int = 0
    node_states: dict[str, etree._Element] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    histories: dict[tuple[str, str], etree._Element] = field(default_factory=dict)

    def node_state(self, action: Action) -> etree._Element:
        name = action.node or ""
        state = self.node_states.get(name)
        if state is None:
            status = self.cib.find("status")
            if status is None:
                status = etree.SubElement(self.cib, "status")
            state = etree.SubElement(status, "node_state", id=action.node_id or name, uname=name)
            self.node_states[name] = state
        return state

    def record(self, action: Action) -> None:
        if action.pseudo or action.node is None:
            return
        if action.task == "stonith":
            if fence_kind(action) != "on":
                self._fenced(self.node_state(action))
            return
        # crm_simulate only prints a resource's cleanup ("delete": an orphan's or an agent
        # change's) and the DC's lrm_delete (an expired shutdown lock's): neither changes
        # the simulated history, so a wiped lock still shows "(LOCKED)" and a pending start
        # the stop does not outdate keeps an orphan active
        if action.task in ("delete", "lrm_delete") and action.resource is not None:
            return
        if action.resource is None or action.task in _NO_HISTORY:
            return
        self._rsc_result(action)

    def fail(self, action: Action, name: str, rc: int, failure_now: int) -> list[str]:
        """Record `action` as returning `rc` (-F/--op-fail): the lines Pacemaker prints."""
        meta = dict(action.attributes)
        probe = action.task == "monitor" and action.interval_ms == 0
        target = int(meta.get("CRM_meta_op_target_rc", "7" if probe else "0"))
        record_result(self._lrm_resource(action), action.task, action.interval_ms, rc,
                      target_rc=target, now=self.now, exit_reason="User-injected result",
                      digest=self._digest(action))
        lines = [f"Pretending action {action.id} failed with rc={rc}"]
        done = inject_failcount(self.node_state(action), name, action.task,
                                action.interval_ms, rc, failure_now)
        return lines + [f"  * {step.text()}" for step in done]

    def _fenced(self, state: etree._Element) -> None:
        for name, value in (("in_ccm", "false"), ("crmd", "offline"), ("join", "down"),
                            ("expected", "down")):
            state.set(name, value)
        for child in list(state):
            if child.tag in ("lrm", "transient_attributes"):
                state.remove(child)
        uname = state.get("uname", "")
        for key in [key for key in self.histories if key[0] == uname]:
            del self.histories[key]

    def _lrm_resource(self, action: Action) -> etree._Element:
        name = history_name(action)
        # pcmk__inject_resource_history: the entry under the name the simulator found the
        # resource by (the long-id when no resource or history id is the graph's id), else
        # the one under the graph's id, else a new one under the graph's id
        for known in (action.label or name, name):
            found = self.histories.get((action.node or "", known))
            if found is not None and found.getparent() is not None:
                return found
        state = self.node_state(action)
        lrm = state.find("lrm")
        if lrm is None:
            lrm = etree.SubElement(state, "lrm", id=state.get("id", ""))
        resources = lrm.find("lrm_resources")
        if resources is None:
            resources = etree.SubElement(lrm, "lrm_resources")
        entry = etree.SubElement(resources, "lrm_resource", id=name)
        parts = (action.agent or "").split(":")
        entry.set("class", parts[0])  # Pacemaker's order: id, class, provider, type
        if len(parts) == 3:
            entry.set("provider", parts[1])
        entry.set("type", parts[-1])
        self.histories[(action.node or "", name)] = entry
        return entry

    def _rsc_result(self, action: Action) -> None:
        entry = self._lrm_resource(action)
        name = history_name(action)  # ops are keyed by the graph's id, whatever the entry
        # crm_simulate records a cancel like any other result (`<rsc>_cancel_<ms>`, rc 0) and
        # leaves the cancelled monitor's entry in place
        meta = dict(action.attributes)
        if action.task == "notify":
            # the controller files a notification under `<rsc>_<type>_notify_<op>_0` and
            # records it as succeeded whatever it returned (pcmk__create_history_xml)
            op_id = (f"{name}_{meta.get('CRM_meta_notify_type')}_notify_"
                     f"{meta.get('CRM_meta_notify_operation')}_0")
            record_result(entry, "notify", 0, 0, target_rc=0, now=self.now, exit_reason="",
                          digest=self._digest(action), op_id=op_id, rsc_id=name)
            return
        probe = action.task == "monitor" and action.interval_ms == 0
        # Pacemaker always writes the target rc of a probe; 7 (not running) is its usual value
        rc = int(meta.get("CRM_meta_op_target_rc", "7" if probe else "0"))
        # crm_simulate records an agent reload as a start (its history then shows one)
        task = "start" if action.task in ("reload", "reload-agent") else action.task
        record_result(entry, task, action.interval_ms, rc, target_rc=rc, now=self.now,
                      exit_reason="", digest=self._digest(action), rsc_id=name)
        if action.task.startswith("migrate"):
            op_id = f"{name}_{action.task}_{action.interval_ms}"
            op = next(op for op in entry if op.get("id") == op_id)
            for source, target in (("CRM_meta_migrate_source", "migrate_source"),
                                   ("CRM_meta_migrate_target", "migrate_target")):
                if source in meta:
                    op.set(target, meta[source])

    def _digest(self, action: Action) -> str:
        params = {k: v for k, v in action.attributes
                  if not k.startswith("CRM_meta_") and k != "crm_feature_set"}
        if not params:
            params = dict(self.params.get((action.resource or "").split(":")[0], {}))
        if action.interval_ms:
            timeout = dict(action.attributes).get("CRM_meta_timeout")
            if timeout is not None:
                params["CRM_meta_timeout"] = timeout
        return operation_digest(params)


def operation_digest(params: dict[str, str]) -> str:
    """The op-digest the controller records for `params` (messaging.digest)."""
    return parameters_digest(params)


def history_name(action: Action) -> str:
    """The lrm_resource id: the graph's name (anonymous instances: the base id)."""
    return action.name or action.resource or ""


def _primitive_params(cib: etree._Element) -> dict[str, dict[str, str]]:
    """Plain (rule-less) instance attributes of every primitive, for op-digest."""
    found: dict[str, dict[str, str]] = {}
    for primitive in cib.iter("primitive"):
        values: dict[str, str] = {}
        for block in primitive.iterfind("instance_attributes"):
            if block.find("rule") is not None:
                continue
            for pair in block.iterfind("nvpair"):
                values.setdefault(pair.get("name", ""), pair.get("value", ""))
        found[primitive.get("id", "")] = values
    return found


def _recorder(cib: etree._Element, transition_id: int, now: int) -> _Recorder:
    """A recorder over a private copy of `cib`, its indexes built once."""
    result = copy.deepcopy(cib)
    recorder = _Recorder(result, transition_id, now, FAKE_DC_UUID)
    recorder.params = _primitive_params(result)
    recorder.node_states = {state.get("uname", ""): state for state in result.iter("node_state")}
    recorder.histories = {(state.get("uname", ""), entry.get("id", "")): entry
                          for state in recorder.node_states.values()
                          for entry in state.iterfind("lrm/lrm_resources/lrm_resource")}
    recorder.call_id = max((int(op.get("call-id", "0")) for op in result.iter("lrm_rsc_op")
                            if op.get("call-id", "").lstrip("-").isdigit()), default=0)
    return recorder


def apply(cib: etree._Element, fired: Sequence[Action], *, transition_id: int = -1,
          now: int = 0) -> etree._Element:
    """A copy of `cib` with the results of the fired actions written into its status."""
    recorder = _recorder(cib, transition_id, now)
    for action in fired:
        recorder.record(action)
    return recorder.cib


@dataclass(frozen=True, slots=True)
class Simulation:
    """What a simulated run did: the fired actions, their console lines and the new CIB.

    failed: the action -F/--op-fail made fail (the transition stopped there), if any;
    warnings: -F specs that matched an action but had no numeric result code.
    """

    fired: tuple[Action, ...]
    lines: tuple[str, ...]
    cib: etree._Element
    failed: Action | None = None
    warnings: tuple[str, ...] = ()


def simulate(cib: etree._Element, synapses: Sequence[Synapse], *, transition_id: int = -1,
             now: int = 0, op_fail: tuple[str, ...] = (),
             failure_now: int | None = None) -> Simulation:
    """Fire every synapse in simulator order and record the results in a copy of `cib`.

    An action matching an `op_fail` spec returns that spec's rc instead: it is recorded as
    failed (with fail-count/last-failure stamped `failure_now`, default `now`) and, as in
    Pacemaker, the transition aborts: nothing after it fires.
    """
    recorder = _recorder(cib, transition_id, now)
    fired: list[Action] = []
    lines: list[str] = []
    warnings: list[str] = []
    for action in fire_order(synapses):
        line = action_line(action)
        if line is not None:
            lines.append(line)
        fired.append(action)
        failure = _failure(action, op_fail, warnings) if op_fail else None
        if failure is None:
            recorder.record(action)
            continue
        stamp = now if failure_now is None else failure_now
        lines += recorder.fail(action, failure[0], failure[1], stamp)
        return Simulation(tuple(fired), tuple(lines), recorder.cib, action, tuple(warnings))
    return Simulation(tuple(fired), tuple(lines), recorder.cib, None, tuple(warnings))


def _failure(action: Action, specs: tuple[str, ...],
             warnings: list[str]) -> tuple[str, int] | None:
    """(name, rc) of the -F spec that makes this resource action fail, if any."""
    if action.pseudo or action.resource is None or action.node is None \
            or action.task in _NO_HISTORY:
        return None
    names = (key_resource(action.operation_key) or action.resource, action.resource)
    for spec in specs:
        prefixes = [f"{n}_{action.task}_{action.interval_ms}@{action.node}=" for n in names]
        if any(spec[: len(p)].lower() == p.lower() for p in prefixes):
            found = failure_for((spec,), names, action.task, action.interval_ms, action.node)
            if found is not None:
                return found
            warnings.append(f"Invalid failed operation '{spec}' (result code must be integer)")
    return None
