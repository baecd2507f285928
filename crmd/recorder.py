"""Record operation results into the CIB status section exactly as Pacemaker's controller does.

`Recorder` is one node's controller-side history: for every executor result it returns the
``<node_state>`` update to merge into the CIB (one ``lrm_rsc_op``, two for a failed one-shot
operation) and keeps Pacemaker's in-memory cache (`update_history_cache`): per resource the
last successful one-shot result, the last failure, one entry per active recurring operation.
`lrm_xml()` rebuilds the node's whole ``<lrm>`` from that cache, as the join confirmation
does (`build_active_RAs`): last failure, then last, then each recurring operation.

Entry ids and attributes come from `lrmd.api.lrm_rsc_op_attributes` (the one place that
knows the ``lrm_rsc_op`` shape); this module adds what the controller decides: which results
are recorded at all (not cancel/delete/notify/meta-data, not cancelled ones), the target rc
taken from the transition key, timing attributes only when some timing is known, pending
records and the DC's synthesized timeouts.

Invariants: per resource and node the produced status holds at most ``_last_0``,
``_last_failure_0``, one entry per recurring op key, and migrate entries; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lxml import etree

from crmd import graph as reading
from crmd.graph import FEATURE_SET, parse_transition_key
from crmd.messages import ActionResult
from lrmd.api import AgentSpec, OpCompleted, lrm_rsc_op_attributes, op_digest
from messaging.types import OcfRc, OpStatus
from pengine.api import GraphAction

_NOT_RECORDED = frozenset({"cancel", "delete", "notify", "meta-data"})
_TIMING = ("last-rc-change", "exec-time", "queue-time")
_PENDING_RC = 193  # PCMK_OCF_UNKNOWN
_KEEPS_STOP_PARAMS = frozenset({"start", "reload", "reload-agent", "monitor"})


@dataclass(slots=True)
class ResourceHistory:
    """The controller's memory of one resource on this node."""

    agent: AgentSpec
    last: OpCompleted | None = None
    failed: OpCompleted | None = None
    recurring: dict[str, OpCompleted] = field(default_factory=dict)
    stop_params: dict[str, str] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)  # call id -> transition key


class Recorder:
    """The lrm history of one node (`node` is its name, `node_id` its CIB node id)."""

    def __init__(self, node: str, node_id: str, feature_set: str = FEATURE_SET) -> None:
        self.node = node
        self.node_id = node_id
        self.feature_set = feature_set
        self.resources: dict[str, ResourceHistory] = {}

    # --- recording ----------------------------------------------------------------------

    def record(self, result: OpCompleted, transition_key: str = "",
               metadata: str = "") -> str | None:
        """Remember `result`; return the node_state XML to merge into the CIB, or None
        when Pacemaker records nothing for it."""
        result = self._with_target(result, transition_key)
        history = self.resources.setdefault(result.resource, ResourceHistory(result.agent))
        history.agent = result.agent
        if transition_key:
            history.keys[result.call_id] = transition_key
        if result.action in _NOT_RECORDED:
            return None
        if result.status == OpStatus.CANCELLED:
            if result.interval_ms:
                history.recurring.pop(result.op_key, None)
            return None
        self._update_cache(history, result)
        ops = self._entries(result, transition_key, "do_update_resource", metadata)
        return self._node_state_xml("do_update_resource", {result.resource: ops})

    def pending(self, resource: str, agent: AgentSpec, action: str, interval_ms: int,
                transition_key: str, wall: float, params: dict[str, str] | None = None) -> str:
        """The record Pacemaker writes before executing (call-id -1, rc 193, status -1)."""
        self.resources.setdefault(resource, ResourceHistory(agent))
        op = OpCompleted(call_id=-1, resource=resource, agent=agent, action=action,
                         interval_ms=interval_ms, rc=_PENDING_RC, status=int(OpStatus.PENDING),
                         last_rc_change=wall, params=dict(params or {}))
        attributes = self._attributes(op, transition_key, "do_update_resource", "")
        return self._node_state_xml("do_update_resource", {resource: [attributes]})

    def lrm_xml(self) -> str:
        """The whole ``<lrm>`` rebuilt from memory (join confirmation / refresh)."""
        resources: dict[str, list[dict[str, str]]] = {}
        for resource, history in sorted(self.resources.items()):
            entries: dict[str, dict[str, str]] = {}
            ordered = [history.failed, history.last, *history.recurring.values()]
            for op in ordered:
                if op is None:
                    continue
                key = history.keys.get(op.call_id, "")
                for attributes in self._entries(op, key, "build_active_RAs", ""):
                    entries[attributes["id"]] = attributes  # same id: overwritten in place
            if entries:
                resources[resource] = list(entries.values())
        lrm = self._lrm_element(resources)
        return etree.tostring(lrm, encoding="unicode")

    def forget(self, resource: str) -> None:
        """The resource's history was deleted (clean-up/refresh)."""
        self.resources.pop(resource, None)

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def _with_target(result: OpCompleted, transition_key: str) -> OpCompleted:
        """Pacemaker judges failure against the target rc carried by the transition key."""
        key = parse_transition_key(transition_key) if transition_key else None
        if key is not None and key.action_id >= 0:
            return replace(result, target_rc=key.target_rc)
        return result

    @staticmethod
    def _update_cache(history: ResourceHistory, result: OpCompleted) -> None:
        if result.failed:
            history.failed = result
        elif result.interval_ms == 0:
            history.last = result
            if result.action in _KEEPS_STOP_PARAMS and result.params:
                history.stop_params = dict(result.params)
        if result.interval_ms > 0:
            history.recurring.pop(result.op_key, None)
            history.recurring[result.op_key] = result
        elif history.recurring and result.action != "monitor":
            history.recurring.clear()  # a stop/start ends every recurring operation

    def _entries(self, op: OpCompleted, transition_key: str, origin: str,
                 metadata: str) -> list[dict[str, str]]:
        """One entry, or two for a failed one-shot op (``_last_failure_0`` and ``_last_0``)."""
        attributes = self._attributes(op, transition_key, origin, metadata)
        entries = [attributes]
        if attributes["id"].endswith("_last_failure_0") and op.interval_ms == 0:
            entries.append({**attributes, "id": f"{op.resource}_last_0"})
        return entries

    def _attributes(self, op: OpCompleted, transition_key: str, origin: str,
                    metadata: str) -> dict[str, str]:
        attributes = lrm_rsc_op_attributes(op, node=self.node, transition_key=transition_key,
                                           crm_feature_set=self.feature_set, origin=origin,
                                           metadata=metadata)
        if not (op.last_run or op.last_rc_change or op.exec_time_ms or op.queue_time_ms):
            for name in _TIMING:
                attributes.pop(name, None)
        return attributes

    def _lrm_element(self, resources: dict[str, list[dict[str, str]]]) -> etree._Element:
        lrm = etree.Element("lrm", id=self.node_id)
        container = etree.SubElement(lrm, "lrm_resources")
        for resource, entries in resources.items():
            history = self.resources[resource]
            element = etree.SubElement(container, "lrm_resource", id=resource,
                                       type=history.agent.type)
            element.set("class", history.agent.standard)
            if history.agent.provider:
                element.set("provider", history.agent.provider)
            for attributes in entries:
                etree.SubElement(element, "lrm_rsc_op", attributes)
        return lrm

    def _node_state_xml(self, origin: str, resources: dict[str, list[dict[str, str]]]) -> str:
        state = etree.Element("node_state", id=self.node_id, uname=self.node)
        state.set("crm-debug-origin", origin)
        state.append(self._lrm_element(resources))
        return etree.tostring(state, encoding="unicode")


def timeout_record(node: str, node_id: str, action: GraphAction, transition_key: str,
                   exit_reason: str, wall: float, feature_set: str = FEATURE_SET) -> str:
    """The DC's synthesized result for an action whose node never answered
    (`controld_record_action_timeout`): op-status timeout, rc 1, call-id -1."""
    spec = reading.agent(action)
    agent = AgentSpec.parse(spec) if spec else AgentSpec("ocf", "unknown")
    params, interval, timeout = (reading.params(action), reading.interval_ms(action),
                                 reading.timeout_ms(action))
    # named by the <primitive id> (an anonymous instance d:0 is "d"), as Pacemaker's
    # controld_record_action_timeout names it
    rsc = action.resource.id if action.resource is not None else ""
    op = OpCompleted(call_id=-1, resource=rsc, agent=agent,
                     action=action.operation, interval_ms=interval,
                     rc=int(OcfRc.ERR_GENERIC), status=int(OpStatus.TIMEOUT),
                     exit_reason=exit_reason, last_run=wall, last_rc_change=wall,
                     params=params, timeout_ms=timeout,
                     op_digest=op_digest(params, interval, timeout))
    recorder = Recorder(node, node_id, feature_set)
    recorder.resources[op.resource] = ResourceHistory(agent)
    entries = recorder._entries(op, transition_key, "controld_record_action_event", "")
    return recorder._node_state_xml("controld_record_action_event", {op.resource: entries})


def merge_status(status: etree._Element, update_xml: str) -> None:
    """Merge a node_state update into a ``<status>`` element the way a CIB modify does:
    elements matched by tag and id, attributes overwritten, missing children added."""
    _merge_into(status, etree.fromstring(update_xml))


def _merge_into(parent: etree._Element, update: etree._Element) -> None:
    existing = None
    for child in parent:
        if child.tag == update.tag and child.get("id") == update.get("id"):
            existing = child
            break
    if existing is None:
        parent.append(update)
        return
    for name, value in update.attrib.items():
        existing.set(name, value)
    for child in list(update):
        _merge_into(existing, child)


def results_in(status_xml: str, now: float) -> list[ActionResult]:
    """The results recorded in a status fragment (a node_state or anything holding them),
    as the DC matches them against its graph (`process_graph_event`): decoded from
    ``transition-magic``; pending records are skipped."""
    root = etree.fromstring(status_xml.encode())
    found = []
    for op in root.iter("lrm_rsc_op"):
        status_text, _, rest = (op.get("transition-magic") or "").partition(":")
        rc_text, _, key = rest.partition(";")
        try:
            status, rc = int(status_text), int(rc_text)
        except ValueError:
            continue
        if status == int(OpStatus.PENDING) or not key:
            continue
        parent = op.getparent()
        found.append(ActionResult(
            transition_key=key, node=op.get("on_node", ""), rc=rc, status=status, now=now,
            interval_ms=int(op.get("interval", "0") or 0), exit_reason=op.get("exit-reason", ""),
            wall=float(op.get("last-rc-change", "0") or 0),
            resource=parent.get("id", "") if parent is not None else "",
            task=op.get("operation", "")))
    return found
