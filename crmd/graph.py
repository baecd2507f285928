"""The frozen transition graph the transition engine executes, and transition keys.

A `TransitionGraph` is plain data: its actions in synapse order, each naming the ids of the
actions that must be confirmed before it may fire. Two sources produce it:
`from_transition` (the in-process pengine result) and `from_graph_xml` (Pacemaker's
``<transition_graph>`` text, as written by ``crm_simulate -G`` and stored in the scheduler
corpus as ``.exp``), so the engine can be checked against graphs Pacemaker itself produced.

Invariants: action ids are unique; every input id names an action of the same graph; the
graph is immutable once built (the engine keeps its own mutable progress elsewhere).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from lxml import etree

from messaging.errors import Location, ValidationError
from pengine.api import Action, Transition

FEATURE_SET = "3.16.2"  # the CRM feature set this controller speaks (Pacemaker 2.1.5)
FAKE_DC_UUID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
# Pacemaker sends these as cluster (crm_event) actions, not executor operations.
_CLUSTER_TASKS = frozenset({"do_shutdown", "clear_failcount", "lrm_refresh", "lrm_delete",
                            "maintenance_nodes"})
_DEFAULT_DELAY_MS = 60_000  # cluster-delay and stonith-timeout default (60s)


class ActionKind(enum.Enum):
    """How the engine carries an action out."""

    PSEUDO = "pseudo"  # completes locally, at once
    RESOURCE = "resource"  # an executor operation on the action's node
    FENCE = "fence"  # a request to the fencer
    CLUSTER = "cluster"  # a controller-level action (shutdown, clear_failcount, ...)


@dataclass(frozen=True, slots=True)
class GraphAction:
    """One synapse: an action plus the ids of the actions it waits for."""

    id: int
    key: str
    task: str
    kind: ActionKind
    inputs: tuple[int, ...] = ()
    resource: str | None = None
    agent: str | None = None
    node: str | None = None
    node_id: str | None = None
    interval_ms: int = 0
    attributes: tuple[tuple[str, str], ...] = ()
    priority: int = 0

    @property
    def meta(self) -> dict[str, str]:
        return dict(self.attributes)

    @property
    def timeout_ms(self) -> int:
        """CRM_meta_timeout plus start-delay (0 when absent or invalid)."""
        meta = self.meta
        return _int(meta.get("CRM_meta_timeout")) + _int(meta.get("CRM_meta_start_delay"))

    @property
    def target_rc(self) -> int:
        return _int(self.meta.get("CRM_meta_op_target_rc"))

    @property
    def no_wait(self) -> bool:
        return self.meta.get("CRM_meta_op_no_wait") == "true"

    @property
    def can_fail(self) -> bool:
        return self.meta.get("CRM_meta_can_fail") == "true"

    @property
    def fence_action(self) -> str:
        """reboot / off / on for a fencing action."""
        return self.meta.get("CRM_meta_stonith_action") or self.key.rsplit("-", 1)[-1]

    @property
    def params(self) -> dict[str, str]:
        """Instance parameters (everything that is not CRM_meta_* or crm_feature_set)."""
        return {k: v for k, v in self.attributes
                if not k.startswith("CRM_meta_") and k != "crm_feature_set"}


@dataclass(frozen=True, slots=True)
class TransitionGraph:
    """A whole transition graph: header values and the actions in synapse order."""

    transition_id: int
    actions: tuple[GraphAction, ...]
    cluster_delay_ms: int = _DEFAULT_DELAY_MS
    stonith_timeout_ms: int = _DEFAULT_DELAY_MS
    batch_limit: int = 0  # 0: no fixed limit
    migration_limit: int = -1

    def action(self, action_id: int) -> GraphAction | None:
        for action in self.actions:
            if action.id == action_id:
                return action
        return None


def _int(text: str | None) -> int:
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


_UNITS = {"ms": 1, "msec": 1, "s": 1000, "sec": 1000, "": 1000, "m": 60_000, "min": 60_000,
          "h": 3_600_000, "hr": 3_600_000}


def duration_ms(text: str | None, default: int) -> int:
    """A graph header duration ("60s", "3m", "500ms", bare seconds) in milliseconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text or "")
    if match is None or match.group(2).lower() not in _UNITS:
        return default
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _kind(action: Action) -> ActionKind:
    if action.pseudo:
        return ActionKind.PSEUDO
    if action.task == "stonith":
        return ActionKind.FENCE
    if action.resource is None or action.task in _CLUSTER_TASKS:
        return ActionKind.CLUSTER
    return ActionKind.RESOURCE


def from_transition(transition: Transition, transition_id: int | None = None) -> TransitionGraph:
    """Freeze pengine's result into the graph the engine runs.

    Synapse order is ascending action id (the order the scheduler created the actions);
    Pacemaker's writer orders by resource, which only matters when batch-limit bites.
    """
    graph = transition.graph
    options = dict(transition.status.options) | dict(transition.options)
    actions = []
    for action_id in sorted(graph.nodes):
        action: Action = graph.nodes[action_id]["action"]
        actions.append(GraphAction(
            id=action.id, key=action.key, task=action.task, kind=_kind(action),
            inputs=tuple(sorted(graph.predecessors(action_id))), resource=action.resource,
            agent=action.agent, node=action.node, node_id=action.node_id,
            interval_ms=action.interval_ms, attributes=action.attributes,
            priority=int(getattr(action, "priority", 0) or 0)))
    delay = duration_ms(options.get("cluster-delay"), _DEFAULT_DELAY_MS)
    return TransitionGraph(
        transition_id=transition.transition_id if transition_id is None else transition_id,
        actions=tuple(actions), cluster_delay_ms=delay,
        stonith_timeout_ms=duration_ms(options.get("stonith-timeout"), delay),
        batch_limit=_int(options.get("batch-limit")),
        migration_limit=int(options.get("migration-limit", "-1") or -1))


_TAG_KIND = {"pseudo_event": ActionKind.PSEUDO, "rsc_op": ActionKind.RESOURCE,
             "crm_event": ActionKind.CLUSTER}


def from_graph_xml(text: str | bytes, source: str = "<graph>") -> TransitionGraph:
    """Parse Pacemaker's ``<transition_graph>`` XML.

    Raises:
        ValidationError: not XML, not a transition graph, or an input naming no action.
    """
    try:
        root = etree.fromstring(text.encode() if isinstance(text, str) else text,
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise ValidationError(f"transition graph is not XML: {error}",
                              location=Location(source)) from None
    if root.tag != "transition_graph":
        raise ValidationError(f"expected <transition_graph>, found <{root.tag}>",
                              location=Location(source))
    actions = [_synapse_action(synapse, source) for synapse in root.iter("synapse")]
    known = {a.id for a in actions}
    for action in actions:
        missing = set(action.inputs) - known
        if missing:
            raise ValidationError(f"action {action.id} waits for unknown actions {missing}",
                                  location=Location(source, element=f"synapse {action.id}"))
    delay = duration_ms(root.get("cluster-delay"), _DEFAULT_DELAY_MS)
    return TransitionGraph(
        transition_id=_int(root.get("transition_id")), actions=tuple(actions),
        cluster_delay_ms=delay,
        stonith_timeout_ms=duration_ms(root.get("stonith-timeout"), delay),
        batch_limit=_int(root.get("batch-limit")),
        migration_limit=int(root.get("migration-limit", "-1")))


def _synapse_action(synapse: etree._Element, source: str) -> GraphAction:
    found = list(synapse.iterfind("action_set/*"))
    if len(found) != 1 or found[0].tag not in _TAG_KIND:
        raise ValidationError("a synapse must hold exactly one action",
                              location=Location(source, element=f"synapse {synapse.get('id')}"))
    element = found[0]
    attributes = element.find("attributes")
    pairs: dict[str, str] = {}
    if attributes is not None:
        pairs = {str(k): str(v) for k, v in attributes.attrib.items()}
        pairs |= {str(p.get("name")): str(p.get("value", "")) for p in attributes.iter("param")}
    primitive = element.find("primitive")
    task = str(element.get("operation"))
    kind = _TAG_KIND[element.tag]
    if kind is ActionKind.CLUSTER and task == "stonith":
        kind = ActionKind.FENCE
    agent = None
    if primitive is not None:
        parts = [primitive.get("class"), primitive.get("provider"), primitive.get("type")]
        agent = ":".join(p for p in parts if p)
    return GraphAction(
        id=int(str(element.get("id"))), key=str(element.get("operation_key")), task=task,
        kind=kind,
        inputs=tuple(sorted(int(str(t.get("id"))) for t in synapse.iterfind("inputs/trigger/*"))),
        resource=(primitive.get("long-id") or primitive.get("id")) if primitive is not None
        else None,
        agent=agent, node=element.get("on_node"), node_id=element.get("on_node_uuid"),
        interval_ms=_int(pairs.get("CRM_meta_interval")),
        attributes=tuple(sorted((str(k), str(v)) for k, v in pairs.items())),
        priority=_int(synapse.get("priority")))


def transition_key(action_id: int, transition_id: int, target_rc: int, dc_uuid: str) -> str:
    """Pacemaker's transition key: action first, the DC's UUID padded to 36 characters."""
    return f"{action_id}:{transition_id}:{target_rc}:{dc_uuid:<36}"


@dataclass(frozen=True, slots=True)
class TransitionKey:
    action_id: int
    transition_id: int
    target_rc: int
    dc_uuid: str


def parse_transition_key(key: str) -> TransitionKey | None:
    """Decode a transition key; None when it is not one."""
    parts = key.split(":", 3)
    if len(parts) != 4:
        return None
    try:
        return TransitionKey(int(parts[0]), int(parts[1]), int(parts[2]), parts[3].rstrip())
    except ValueError:
        return None
