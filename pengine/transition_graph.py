"""The transition graph as a frozen, serialisable value: what crmd executes.

`build(transition)` is the one function from the scheduler's result to a `TransitionGraph`:
synapses in Pacemaker's graph-writer order (graph_xml.synapses), each with one action
described exactly as `crm_simulate -G` writes it and the ids of the actions it waits for.
`render_xml` writes that value as the graph XML (graph_xml.to_xml is `render_xml(build())`),
`from_xml` reads such XML back (ours or Pacemaker's .exp), `to_dict`/`from_dict` and
`pack`/`unpack` (msgpack through messaging.codec) move it between processes, and
`to_networkx` gives the graph view for analysis.

Invariants: every value here is a slotted messaging.record.Record (a value: never changed
once made; plain classes, as a graph of 2000 actions made frozen dataclasses at start-up
cost) of str/int/None and tuples;
synapse ids are 0..n-1 in order; an input id is the id of some synapse's action (a held
input is not, and is kept whole in `GraphSynapse.held`); attribute
pairs are sorted by name and include crm_feature_set, as in Pacemaker's graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from messaging.record import Record
from pengine.model import Pairs

if TYPE_CHECKING:
    import networkx as nx

    from pengine.api import Transition
    from pengine.graph_xml import Synapse


class GraphResource(Record):
    """The <primitive> of a resource action: history name, instance id and agent."""

    __slots__ = ("id", "long_id", "provider", "rsc_class", "type")

    def __init__(self, id: str, long_id: str | None, rsc_class: str | None,
                 provider: str | None, type: str | None) -> None:
        self.id, self.long_id, self.rsc_class = id, long_id, rsc_class
        self.provider, self.type = provider, type


class GraphAction(Record):
    """One action element: rsc_op, pseudo_event or crm_event, with its attributes.

    on_node/on_node_uuid are None for pseudo actions; downed lists the node ids the action
    takes down (fencing other than "on", shutdown); mode is "cib" for lrm_delete;
    internal_key is the scheduler's own key when the operation key names the resource
    otherwise (an anonymous clone instance: `d:0_start_0` under `d_start_0`).
    """

    __slots__ = ("attributes", "downed", "id", "internal_key", "kind", "mode", "on_node",
                 "on_node_uuid", "operation", "operation_key", "resource", "shutdown_lock")

    def __init__(self, id: int, kind: str, operation: str, operation_key: str,
                 on_node: str | None, on_node_uuid: str | None,
                 resource: GraphResource | None, attributes: Pairs,
                 downed: tuple[str, ...] = (), mode: str | None = None,
                 shutdown_lock: str | None = None, internal_key: str | None = None) -> None:
        self.id, self.kind, self.operation = id, kind, operation
        self.operation_key, self.on_node, self.on_node_uuid = operation_key, on_node, on_node_uuid
        self.resource, self.attributes, self.downed = resource, attributes, downed
        self.mode, self.shutdown_lock, self.internal_key = mode, shutdown_lock, internal_key


class GraphSynapse(Record):
    """One step: the action and the ids of the actions confirmed before it may fire.

    held: inputs that are no synapse's action (a required action the scheduler left out of
    the graph): never confirmed, so the action never fires and the transition ends
    "terminated", as Pacemaker's graph keeps such triggers.
    """

    __slots__ = ("action", "held", "id", "inputs", "priority")

    def __init__(self, id: int, priority: int, action: GraphAction,
                 inputs: tuple[int, ...], held: tuple[GraphAction, ...] = ()) -> None:
        self.id, self.priority, self.action, self.inputs = id, priority, action, inputs
        self.held = held


class TransitionGraph(Record):
    """The whole graph with the header values the executor needs (as Pacemaker writes them).

    batch_limit 0 means no limit; migration_limit -1 means unset.
    """

    __slots__ = ("batch_limit", "cluster_delay", "failed_start_offset",
                 "failed_stop_offset", "migration_limit", "stonith_timeout", "synapses",
                 "transition_id")

    def __init__(self, transition_id: int, cluster_delay: str, stonith_timeout: str,
                 failed_stop_offset: str, failed_start_offset: str, batch_limit: int,
                 migration_limit: int, synapses: tuple[GraphSynapse, ...]) -> None:
        self.transition_id, self.cluster_delay = transition_id, cluster_delay
        self.stonith_timeout, self.failed_stop_offset = stonith_timeout, failed_stop_offset
        self.failed_start_offset, self.batch_limit = failed_start_offset, batch_limit
        self.migration_limit, self.synapses = migration_limit, synapses

    def actions(self) -> dict[int, GraphAction]:
        """Action id -> action, for every synapse."""
        return {synapse.action.id: synapse.action for synapse in self.synapses}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (field names as keys); `from_dict` is the inverse."""
        return {
            "transition_id": self.transition_id, "cluster_delay": self.cluster_delay,
            "stonith_timeout": self.stonith_timeout,
            "failed_stop_offset": self.failed_stop_offset,
            "failed_start_offset": self.failed_start_offset,
            "batch_limit": self.batch_limit, "migration_limit": self.migration_limit,
            "synapses": [_synapse_dict(s) for s in self.synapses],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransitionGraph:
        """Inverse of `to_dict`, validated field by field (RemoteProtocolError on garbage)."""
        fields = [data.get(name) for name in ("transition_id", "cluster_delay",
                                              "stonith_timeout", "failed_stop_offset",
                                              "failed_start_offset", "batch_limit",
                                              "migration_limit")]
        synapses = [_synapse_list(s) for s in data.get("synapses") or []]
        from messaging import codec  # msgpack and typing work: not on crm_simulate's path

        return codec.build(cls, [*fields, synapses], "TransitionGraph")

    def pack(self) -> bytes:
        """msgpack bytes (positional fields, messaging.codec conventions)."""
        from messaging import codec

        return codec.pack(codec.to_plain(self))

    @classmethod
    def unpack(cls, data: bytes, *, max_size: int = 64 << 20) -> TransitionGraph:
        """Inverse of `pack`; RemoteProtocolError on anything that is not such a graph."""
        from messaging import codec

        return codec.build(cls, codec.unpack(data, max_size=max_size), "TransitionGraph")

    def to_networkx(self) -> nx.DiGraph:  # type: ignore[type-arg]
        """DiGraph on action ids (node attribute "action"), edge input -> action."""
        import networkx

        view: nx.DiGraph = networkx.DiGraph()  # type: ignore[type-arg]
        for synapse in self.synapses:
            view.add_node(synapse.action.id, action=synapse.action)
        for synapse in self.synapses:
            view.add_edges_from((before, synapse.action.id) for before in synapse.inputs)
        return view


def _synapse_dict(synapse: GraphSynapse) -> dict[str, Any]:
    return {"id": synapse.id, "priority": synapse.priority, "inputs": list(synapse.inputs),
            "action": _action_dict(synapse.action),
            "held": [_action_dict(action) for action in synapse.held]}


def _action_dict(action: GraphAction) -> dict[str, Any]:
    rsc = action.resource
    return {
            "id": action.id, "kind": action.kind, "operation": action.operation,
            "operation_key": action.operation_key, "on_node": action.on_node,
            "on_node_uuid": action.on_node_uuid,
            "resource": None if rsc is None else {
                "id": rsc.id, "long_id": rsc.long_id, "rsc_class": rsc.rsc_class,
                "provider": rsc.provider, "type": rsc.type},
            "attributes": dict(action.attributes), "downed": list(action.downed),
            "mode": action.mode, "shutdown_lock": action.shutdown_lock,
            "internal_key": action.internal_key,
    }


def _synapse_list(data: Any) -> list[Any]:
    """A synapse dict in codec's positional layout (garbage is left for codec to reject)."""
    if not isinstance(data, dict):
        return data  # type: ignore[no-any-return]
    held = data.get("held", [])
    if isinstance(held, list):
        held = [_action_list(action) for action in held]
    return [data.get("id"), data.get("priority", 0), _action_list(data.get("action")),
            data.get("inputs"), held]


def _action_list(action: Any) -> Any:
    """An action dict in codec's positional layout (garbage is left for codec to reject)."""
    if not isinstance(action, dict):
        return action
    rsc = action.get("resource")
    if isinstance(rsc, dict):
        rsc = [rsc.get(k) for k in ("id", "long_id", "rsc_class", "provider", "type")]
    attributes = action.get("attributes")
    if isinstance(attributes, dict):
        attributes = [[k, v] for k, v in attributes.items()]
    return [action.get("id"), action.get("kind"), action.get("operation"),
            action.get("operation_key"), action.get("on_node"), action.get("on_node_uuid"),
            rsc, attributes, action.get("downed", []), action.get("mode"),
            action.get("shutdown_lock"), action.get("internal_key")]


def build(transition: Transition,
          ordered: tuple[Synapse, ...] | None = None) -> TransitionGraph:
    """The frozen graph of a scheduler result (`ordered`: its synapses, if already made)."""
    from pengine.graph_xml import graph_action, header_values, synapses

    steps = ordered if ordered is not None else synapses(transition)
    header = header_values(transition)
    graph_synapses = tuple(
        GraphSynapse(step.id, getattr(step.action, "priority", 0), graph_action(step.action),
                     tuple(before.id for before in step.inputs),
                     tuple(graph_action(before) for before in step.held))
        for step in steps)
    return TransitionGraph(
        transition_id=transition.transition_id, cluster_delay=header["cluster-delay"],
        stonith_timeout=header["stonith-timeout"], failed_stop_offset="INFINITY",
        failed_start_offset="INFINITY", batch_limit=int(header["batch-limit"]),
        migration_limit=int(header.get("migration-limit", "-1")), synapses=graph_synapses)


_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._:-]*$")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


_NAMES: dict[str, bool] = {}


def _is_name(name: str) -> bool:
    """An XML attribute name? (Cached: a graph repeats the same few dozen names.)"""
    known = _NAMES.get(name)
    if known is None:
        known = _NAMES[name] = _XML_NAME.match(name) is not None
    return known


# the written pairs, when every name is an XML name and no value needs escaping
_PLAIN_PAIRS = re.compile(r'(?: [A-Za-z_][A-Za-z0-9._:-]*="[^"&<>\n\r\t]*")*')


def _attrs(pairs: Iterable[tuple[str, str]]) -> str:
    """ name="value" pairs, values escaped as libxml2 does (checked once: rarely needed)."""
    text = "".join([f' {name}="{value}"' for name, value in pairs])
    if _PLAIN_PAIRS.fullmatch(text) is not None:
        return text
    return "".join([f' {name}="{value.translate(_ESCAPES)}"' for name, value in pairs])


def _head(action: GraphAction) -> str:
    pairs = [("id", str(action.id)), ("operation", action.operation),
             ("operation_key", action.operation_key)]
    if action.internal_key is not None:
        pairs.append(("internal_operation_key", action.internal_key))
    if action.on_node is not None:
        pairs += [("on_node", action.on_node), ("on_node_uuid", action.on_node_uuid or "")]
    if action.mode is not None:
        pairs.append(("mode", action.mode))
    return f"{action.kind}{_attrs(pairs)}"


def _action_lines(action: GraphAction, head: str, lines: list[str]) -> None:
    pad = " " * 8
    if action.shutdown_lock:
        head += _attrs([("shutdown-lock", action.shutdown_lock)])
    lines.append(f"      <{head}>")
    rsc = action.resource
    if rsc is not None:
        pairs = [("id", rsc.id)]
        if rsc.long_id is not None:
            pairs.append(("long-id", rsc.long_id))
        pairs += [(name, value) for name, value in (("class", rsc.rsc_class),
                                                    ("provider", rsc.provider),
                                                    ("type", rsc.type)) if value is not None]
        lines.append(f"{pad}<primitive{_attrs(pairs)}/>")
    text = "".join([f' {name}="{value}"' for name, value in action.attributes])
    if _PLAIN_PAIRS.fullmatch(text) is not None:  # the common case, checked in one pass
        lines.append(f"{pad}<attributes{text}/>")
        return _downed(action, lines)
    plain = [pair for pair in action.attributes if _is_name(pair[0])]
    if len(plain) == len(action.attributes):
        lines.append(f"{pad}<attributes{_attrs(plain)}/>")
    else:  # positional parameters ("1", "2") cannot be attribute names
        lines.append(f"{pad}<attributes{_attrs(plain)}>")
        lines += [f"{pad}  <param{_attrs([('name', n), ('value', v)])}/>"
                  for n, v in action.attributes if not _is_name(n)]
        lines.append(f"{pad}</attributes>")
    _downed(action, lines)


def _downed(action: GraphAction, lines: list[str]) -> None:
    """The <downed> block (fencing, shutdown) and the action's closing tag."""
    pad = " " * 8
    if action.downed:
        lines.append(f"{pad}<downed>")
        lines += [f"{pad}  <node{_attrs([('id', node)])}/>" for node in action.downed]
        lines.append(f"{pad}</downed>")
    lines.append(f"      </{action.kind}>")


def render_xml(graph: TransitionGraph) -> str:
    """The graph as text, in the layout `crm_simulate -G` writes (attributes sorted).

    Written as text rather than through an element tree: for 2000 resources the graph has
    tens of thousands of elements, and building them costs more than the scheduling.
    """
    header = [("cluster-delay", graph.cluster_delay), ("stonith-timeout", graph.stonith_timeout),
              ("failed-stop-offset", graph.failed_stop_offset),
              ("failed-start-offset", graph.failed_start_offset),
              ("batch-limit", str(graph.batch_limit)),
              ("transition_id", str(graph.transition_id))]
    if graph.migration_limit != -1:
        header.append(("migration-limit", str(graph.migration_limit)))
    head = f"<transition_graph{_attrs(header)}"
    if not graph.synapses:
        return head + "/>\n"
    heads = {synapse.action.id: _head(synapse.action) for synapse in graph.synapses}
    heads |= {held.id: _head(held) for synapse in graph.synapses for held in synapse.held}
    lines = [head + ">"]
    for synapse in graph.synapses:
        extra = f' priority="{synapse.priority}"' if synapse.priority else ""
        lines += [f'  <synapse id="{synapse.id}"{extra}>', "    <action_set>"]
        _action_lines(synapse.action, heads[synapse.action.id], lines)
        lines.append("    </action_set>")
        triggers = sorted([*synapse.inputs, *(held.id for held in synapse.held)]) \
            if synapse.held else synapse.inputs
        if not triggers:
            lines.append("    <inputs/>")
            lines.append("  </synapse>")
            continue
        lines.append("    <inputs>")
        for before in triggers:
            lines += ["      <trigger>", f"        <{heads[before]}/>", "      </trigger>"]
        lines += ["    </inputs>", "  </synapse>"]
    lines.append("</transition_graph>")
    return "\n".join(lines) + "\n"


def from_xml(text: str | bytes) -> TransitionGraph:
    """Read graph XML (ours or Pacemaker's .exp) into a TransitionGraph.

    Attributes are kept as written (Pacemaker's own graphs included), sorted by name;
    `<param>` children of <attributes> count as attributes too.
    """
    from lxml import etree

    root = etree.fromstring(text.encode() if isinstance(text, str) else text)
    in_graph = {element.get("id") for element in root.iterfind("synapse/action_set/*")}
    synapses = []
    for synapse in root.iterfind("synapse"):
        element = synapse.find("action_set")[0]  # type: ignore[index]
        triggers = [trigger[0] for trigger in synapse.iterfind("inputs/trigger")]
        inputs = tuple(int(t.get("id", "")) for t in triggers if t.get("id") in in_graph)
        held = tuple(_read_action(t) for t in triggers if t.get("id") not in in_graph)
        synapses.append(GraphSynapse(int(synapse.get("id", "")),
                                     int(synapse.get("priority", "0")),
                                     _read_action(element), inputs, held))
    return TransitionGraph(
        transition_id=int(root.get("transition_id", "0")),
        cluster_delay=root.get("cluster-delay", ""),
        stonith_timeout=root.get("stonith-timeout", ""),
        failed_stop_offset=root.get("failed-stop-offset", ""),
        failed_start_offset=root.get("failed-start-offset", ""),
        batch_limit=int(root.get("batch-limit", "0")),
        migration_limit=int(root.get("migration-limit", "-1")), synapses=tuple(synapses))


def _read_action(element: Any) -> GraphAction:
    primitive = element.find("primitive")
    resource = None
    if primitive is not None:
        resource = GraphResource(primitive.get("id", ""), primitive.get("long-id"),
                                 primitive.get("class"), primitive.get("provider"),
                                 primitive.get("type"))
    attributes: dict[str, str] = {}
    block = element.find("attributes")
    if block is not None:
        attributes.update(block.attrib)
        attributes.update((p.get("name", ""), p.get("value", "")) for p in block)
    downed = tuple(node.get("id", "") for node in element.iterfind("downed/node"))
    return GraphAction(
        id=int(element.get("id", "")), kind=element.tag, operation=element.get("operation", ""),
        operation_key=element.get("operation_key", ""), on_node=element.get("on_node"),
        on_node_uuid=element.get("on_node_uuid"), resource=resource,
        attributes=tuple(sorted(attributes.items())), downed=downed, mode=element.get("mode"),
        shutdown_lock=element.get("shutdown-lock"),
        internal_key=element.get("internal_operation_key"))
