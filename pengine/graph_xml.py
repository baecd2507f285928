"""Turn a Transition into Pacemaker's transition graph: ordered synapses, XML and dot text.

Pure functions of a `Transition`. Invariants:
- Only actions in `Transition.graph` (required and runnable) become synapses; a synapse's
  inputs are exactly its action's predecessors in that graph.
- Synapse order follows Pacemaker's graph writer: resources in the scheduler's resource order
  (`Transition.resource_order` when the engine provides it, else display order), each
  resource's own actions newest first (descending action id), then its children; then every
  action without a resource (fencing, shutdown, ...) newest first. The simulator fires
  synapses in this order, so it decides the "Executing Cluster Transition" order.
- Output is deterministic: attributes are written sorted by name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from pengine.api import Transition
from pengine.model import Action, ResourceStatus

FEATURE_SET = "3.16.1"
_CLUSTER_TASKS = frozenset({"stonith", "do_shutdown", "clear_failcount", "lrm_refresh",
                            "lrm_delete", "maintenance_nodes"})


@dataclass(frozen=True, slots=True)
class Synapse:
    """One graph step: an action and the actions that must be confirmed before it fires."""

    id: int
    action: Action
    inputs: tuple[Action, ...]


def synapses(transition: Transition) -> tuple[Synapse, ...]:
    """The transition's synapses in Pacemaker's order (see the module docstring)."""
    graph = transition.graph
    ordered = list(_ordered_actions(transition))
    result = []
    for index, action in enumerate(ordered):
        preds = sorted(graph.predecessors(action.id))
        inputs = tuple(graph.nodes[p]["action"] for p in preds)
        result.append(Synapse(index, action, inputs))
    return tuple(result)


def _ordered_actions(transition: Transition) -> Iterator[Action]:
    graph = transition.graph
    by_resource: dict[str, list[Action]] = {}
    loose: list[Action] = []
    for node_id in graph.nodes:
        action: Action = graph.nodes[node_id]["action"]
        if action.resource is None:
            loose.append(action)
        else:
            by_resource.setdefault(action.resource, []).append(action)
    seen: set[str] = set()
    for rsc_id in _resource_order(transition):
        if rsc_id in by_resource and rsc_id not in seen:
            seen.add(rsc_id)
            yield from sorted(by_resource[rsc_id], key=lambda a: -a.id)
    rest = [a for rid, acts in by_resource.items() if rid not in seen for a in acts]
    yield from sorted(rest + loose, key=lambda a: -a.id)


def _resource_order(transition: Transition) -> list[str]:
    """Resource ids depth first: parent before its children, top level in scheduler order."""
    tree = {rsc.id: rsc for rsc in transition.status.resources}
    top: Iterable[str] = getattr(transition, "resource_order", None) or list(tree)
    order: list[str] = []
    for rsc_id in top:
        if rsc_id in tree:
            _walk(tree[rsc_id], order)
        else:
            order.append(rsc_id)
    return order


def _walk(rsc: ResourceStatus, out: list[str]) -> None:
    out.append(rsc.id)
    for child in rsc.children:
        _walk(child, out)



_MULTIWORD_TASKS = ("migrate_to", "migrate_from", "clear_failcount", "lrm_delete", "lrm_refresh",
                    "probe_again")


def key_resource(key: str) -> str | None:
    """The resource part of an operation key (`rsc:1_post_notify_demote_0` -> `rsc:1`).

    The simulator prints the name the graph's operation key carries: for clone instances
    that is the name their history is recorded under, not always the instance id.
    """
    head, sep, interval = key.rpartition("_")
    if not sep or not interval.isdigit():
        return None
    for marker in ("_pre_notify_", "_post_notify_", "_confirmed-pre_notify_",
                   "_confirmed-post_notify_"):
        if marker in head:
            return head.split(marker, 1)[0]
    for task in _MULTIWORD_TASKS:
        if head.endswith("_" + task):
            return head[: -len(task) - 1]
    rsc, sep, _task = head.rpartition("_")
    return rsc if sep else None


def _tag(action: Action) -> str:
    if action.pseudo:
        return "pseudo_event"
    if action.task == "probe_again":  # Pacemaker writes the reprobe request as an rsc_op
        return "rsc_op"
    if action.resource is None or action.task in _CLUSTER_TASKS:
        return "crm_event"
    return "rsc_op"


_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._:-]*$")
_SPECIAL = re.compile(r'[&<>"\n\r\t]')


def _quote(value: str) -> str:
    """An attribute value in double quotes (quoteattr only when escaping is needed)."""
    return quoteattr(value) if _SPECIAL.search(value) else f'"{value}"'


def _attrs(pairs: Iterable[tuple[str, str]]) -> str:
    pairs = list(pairs)
    if _SPECIAL.search("".join(value for _, value in pairs)) is None:  # the common case
        return "".join(f' {name}="{value}"' for name, value in pairs)
    return "".join(f" {name}={_quote(value)}" for name, value in pairs)


@functools.lru_cache(maxsize=4096)
def _is_xml_name(name: str) -> bool:
    return _XML_NAME.match(name) is not None


def _describe(action: Action) -> str:
    """Tag and attributes shared by an action element and a trigger naming it."""
    pairs = [("id", str(action.id)), ("operation", action.task),
             ("operation_key", action.key)]
    if not action.pseudo and action.node is not None:
        pairs += [("on_node", action.node), ("on_node_uuid", action.node_id or action.node)]
    if action.task == "lrm_delete":
        pairs.append(("mode", "cib"))  # history removal happens in the CIB only
    return f"{_tag(action)}{_attrs(pairs)}"


def _action_lines(action: Action, head: str) -> list[str]:
    pad = " " * 8
    lock = getattr(action, "shutdown_lock", None)
    if lock:
        head += _attrs([("shutdown-lock", str(lock))])
    lines = [f"      <{head}>"]
    if action.resource is not None and not action.pseudo:
        lines.append(f"{pad}<primitive{_attrs(_primitive(action))}/>")
    attributes = dict(action.attributes)
    attributes.setdefault("crm_feature_set", FEATURE_SET)
    names = sorted(attributes)
    plain = [n for n in names if _is_xml_name(n)]
    odd = [n for n in names if not _is_xml_name(n)]  # e.g. "1" (positional parameters)
    head = f"{pad}<attributes{_attrs((n, attributes[n]) for n in plain)}"
    if odd:
        lines.append(head + ">")
        lines += [f"{pad}  <param{_attrs([('name', n), ('value', attributes[n])])}/>"
                  for n in odd]
        lines.append(f"{pad}</attributes>")
    else:
        lines.append(head + "/>")
    takes_down = action.task == "do_shutdown" or (
        action.task == "stonith" and _fence_kind(action) != "on")
    if takes_down and action.node_id is not None:
        lines += [f"{pad}<downed>", f"{pad}  <node id={_quote(action.node_id)}/>",
                  f"{pad}</downed>"]
    lines.append(f"      </{_tag(action)}>")
    return lines


def _primitive(action: Action) -> list[tuple[str, str]]:
    rsc = action.resource or ""
    name = key_resource(action.key) or rsc
    pairs = [("id", name)]
    if name != rsc:
        pairs.append(("long-id", rsc))
    parts = (action.agent or "::").split(":")
    if len(parts) == 3:
        pairs += [("class", parts[0]), ("provider", parts[1]), ("type", parts[2])]
    elif len(parts) == 2:
        pairs += [("class", parts[0]), ("type", parts[1])]
    return pairs


def _fence_kind(action: Action) -> str:
    meta = dict(action.attributes).get("CRM_meta_stonith_action")
    return meta or action.key.rsplit("-", 1)[-1]


def _header(transition: Transition) -> list[tuple[str, str]]:
    options = dict(transition.status.options) | dict(transition.options)
    pairs = [("cluster-delay", options.get("cluster-delay", "60s")),
             ("stonith-timeout", options.get("stonith-timeout", "60s")),
             ("failed-stop-offset", "INFINITY"), ("failed-start-offset", "INFINITY"),
             ("batch-limit", options.get("batch-limit", "0")),
             ("transition_id", str(transition.transition_id))]
    if options.get("migration-limit", "-1") != "-1":
        pairs.append(("migration-limit", options["migration-limit"]))
    return pairs


def to_xml(transition: Transition, ordered: tuple[Synapse, ...] | None = None) -> str:
    """The transition graph as text, in the layout `crm_simulate -G` writes.

    Written as text rather than through an element tree: for 2000 resources the graph has
    tens of thousands of elements, and building them costs more than the scheduling.
    """
    steps = ordered if ordered is not None else synapses(transition)
    head = f"<transition_graph{_attrs(_header(transition))}"
    if not steps:
        return head + "/>\n"
    described: dict[int, str] = {}

    def describe(action: Action) -> str:
        text = described.get(action.id)
        if text is None:
            text = described[action.id] = _describe(action)
        return text

    lines = [head + ">"]
    for synapse in steps:
        priority = getattr(synapse.action, "priority", 0)
        extra = f' priority="{priority}"' if priority else ""
        lines += [f'  <synapse id="{synapse.id}"{extra}>', "    <action_set>",
                  *_action_lines(synapse.action, describe(synapse.action)), "    </action_set>"]
        if not synapse.inputs:
            lines.append("    <inputs/>")
        else:
            lines.append("    <inputs>")
            for before in synapse.inputs:
                lines += ["      <trigger>", f"        <{describe(before)}/>", "      </trigger>"]
            lines.append("    </inputs>")
        lines.append("  </synapse>")
    lines.append("</transition_graph>")
    return "\n".join(lines) + "\n"


def dot_name(action: Action) -> str:
    """An action's dot node name: the key, plus the node when the action has one.

    Pseudo actions tied to a node (a stop implied by fencing) keep the node in dot,
    although their graph element never carries on_node.
    """
    if action.node is None:
        # an unassigned resource action (a blocked start) is named "<key> <none>"
        return action.key if action.pseudo else f"{action.key} <none>"
    return f"{action.key} {action.node}"


def _unmanaged(resources: Iterable[ResourceStatus]) -> set[str]:
    found: set[str] = set()
    for rsc in resources:
        if not rsc.managed:
            found.add(rsc.id)
        found |= _unmanaged(rsc.children)
    return found


def _dot_node(action: Action, in_graph: bool, unmanaged: set[str],
              all_actions: bool) -> str | None:
    """The node statement of one action, or None when it is not drawn."""
    font = "orange" if action.pseudo else "black"
    if in_graph:
        style, color = "bold", "green"
    elif action.resource in unmanaged:
        if not all_actions:
            return None
        style, color, font = "dashed", "red", "purple"
    elif action.optional:
        if not all_actions:
            return None
        style, color = "dashed", "blue"
    else:
        style, color = "dashed", "red"
    return f'"{dot_name(action)}" [ style={style} color="{color}" fontcolor="{font}"]'


def to_dot(transition: Transition, *, all_actions: bool = False) -> str:
    """The graph in Pacemaker's dot layout.

    Actions in the graph are bold green (pseudo ones with an orange label), required but
    blocked actions dashed red; optional (blue) and unmanaged (red/purple) actions only
    appear with `all_actions`. Graph edges are bold; other orderings between drawn actions
    are dashed (they need `Transition.orderings`, all first->then action id pairs, when the
    engine provides it).
    """
    graph = transition.graph
    unmanaged = _unmanaged(transition.status.resources)
    lines = [' digraph "g" {']
    drawn: dict[int, Action] = {}
    newest_first = sorted(transition.actions, key=lambda a: -a.id)
    for action in newest_first:
        text = _dot_node(action, action.id in graph, unmanaged, all_actions)
        if text is not None:
            drawn[action.id] = action
            lines.append(text)
    extra: dict[int, set[int]] = {}
    for first, then in getattr(transition, "orderings", ()):
        if first in drawn and then in drawn and not graph.has_edge(first, then):
            extra.setdefault(then, set()).add(first)
    for action in newest_first:
        befores = [(b, "bold") for b in graph.predecessors(action.id)] \
            if action.id in graph else []
        befores += [(b, "dashed") for b in extra.get(action.id, ())]
        for before, style in sorted(befores):
            lines.append(f'"{dot_name(drawn[before])}" -> "{dot_name(action)}" '
                         f"[ style = {style}]")
    lines.append("}")
    return "\n".join(lines) + "\n"
