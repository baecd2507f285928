"""Turn a Transition into Pacemaker's transition graph: ordered synapses, XML and dot text.

Pure functions of a `Transition`. Invariants:
- Only actions in the transition graph (required and runnable) become synapses; a
  synapse's inputs are exactly its action's predecessors along `Transition.edges`.
- Synapse order follows Pacemaker's graph writer: resources in the scheduler's resource order
  (`Transition.resource_order` when the engine provides it, else display order), each
  resource's own actions newest first (descending action id), then its children (a clone's
  in `Transition.instance_order`, the order its instances were assigned in); then every
  action without a resource (fencing, shutdown, ...) newest first. The simulator fires
  synapses in this order, so it decides the "Executing Cluster Transition" order.
- Output is deterministic: attributes are written sorted by name (transition_graph).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from messaging.record import Record
from pengine.api import Transition
from pengine.model import Action, ResourceStatus

if TYPE_CHECKING:
    from pengine.transition_graph import GraphAction, GraphResource

FEATURE_SET = "3.16.1"
_CLUSTER_TASKS = frozenset({"stonith", "do_shutdown", "clear_failcount", "lrm_refresh",
                            "lrm_delete", "maintenance_nodes"})


class Synapse(Record):
    """One graph step: an action and the actions that must be confirmed before it fires.

    held: inputs that are not in the graph themselves (Transition.held), so never confirmed.
    """

    __slots__ = ("action", "held", "id", "inputs")

    def __init__(self, id: int, action: Action, inputs: tuple[Action, ...],
                 held: tuple[Action, ...] = ()) -> None:
        self.id = id
        self.action = action
        self.inputs = inputs
        self.held = held


def synapses(transition: Transition) -> tuple[Synapse, ...]:
    """The transition's synapses in Pacemaker's order (see the module docstring)."""
    in_graph = {action.id: action for action in transition.actions if action.in_graph}
    before = transition.predecessors()
    held: dict[int, list[Action]] = {}
    by_id = {action.id: action for action in transition.actions}
    for first, then in getattr(transition, "held", ()):
        held.setdefault(then, []).append(by_id[first])
    result = []
    for index, action in enumerate(_ordered_actions(transition, in_graph)):
        inputs = tuple(in_graph[p] for p in sorted(set(before.get(action.id, ()))))
        result.append(Synapse(index, action, inputs, tuple(held.get(action.id, ()))))
    return tuple(result)


def _ordered_actions(transition: Transition, in_graph: dict[int, Action]) -> Iterator[Action]:
    by_resource: dict[str, list[Action]] = {}
    loose: list[Action] = []
    for action in in_graph.values():
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
    """Resource ids depth first (a clone after its instances), top level in scheduler order."""
    tree = {rsc.id: rsc for rsc in transition.status.resources}
    top: Iterable[str] = getattr(transition, "resource_order", None) or list(tree)
    order: list[str] = []
    instances = getattr(transition, "instance_order", None) or {}
    for rsc_id in top:
        if rsc_id in tree:
            _walk(tree[rsc_id], order, instances)
        else:
            order.append(rsc_id)
    return order


def _walk(rsc: ResourceStatus, out: list[str], instances: Mapping[str, Sequence[str]]) -> None:
    # clone_expand adds the instances' actions before the clone's own; a group's come first
    collective = rsc.kind in ("clone", "promotable")
    if not collective:
        out.append(rsc.id)
    for child in _children(rsc, instances.get(rsc.id, ())):
        _walk(child, out, instances)
    if collective:
        out.append(rsc.id)



def _children(rsc: ResourceStatus, order: Sequence[str]) -> list[ResourceStatus]:
    """A clone's instances as its children list stands when the graph is written: sorted
    for assignment (and promotion), an instance the sort left out after those it ranked."""
    rank = {inst: index for index, inst in enumerate(order)}
    return sorted(rsc.children, key=lambda child: rank.get(child.id, len(rank)))


_MULTIWORD_TASKS = ("migrate_to", "migrate_from", "clear_failcount", "lrm_delete", "lrm_refresh",
                    "probe_again")
_MULTIWORD_SUFFIXES = tuple("_" + task for task in _MULTIWORD_TASKS)


def key_resource(key: str) -> str | None:
    """The resource part of an operation key (`rsc:1_post_notify_demote_0` -> `rsc:1`).

    The simulator prints the name the graph's operation key carries: for clone instances
    that is the name their history is recorded under, not always the instance id.
    """
    head, sep, interval = key.rpartition("_")
    if not sep or not interval.isdigit():
        return None
    if "_notify_" in head:  # in every marker: one search rules them all out (graph writing)
        for marker in ("_pre_notify_", "_post_notify_", "_confirmed-pre_notify_",
                       "_confirmed-post_notify_"):
            if marker in head:
                return head.split(marker, 1)[0]
    if head.endswith(_MULTIWORD_SUFFIXES):
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


def graph_action(action: Action) -> GraphAction:
    """How the graph writer describes `action` (element, attributes, primitive, downed)."""
    from pengine.transition_graph import GraphAction

    attributes = dict(action.attributes)
    attributes.setdefault("crm_feature_set", FEATURE_SET)
    on_node = None if action.pseudo or action.node is None else action.node
    takes_down = action.task == "do_shutdown" or (
        action.task == "stonith" and _fence_kind(action) != "on")
    lock = getattr(action, "shutdown_lock", None)
    return GraphAction(
        id=action.id, kind=_tag(action),
        # Pacemaker's load_stopped pseudo action carries its node in its task as in its key
        operation=action.key if action.task == "load_stopped" else action.task,
        operation_key=action.operation_key,
        on_node=on_node, on_node_uuid=(action.node_id or action.node) if on_node else None,
        resource=_primitive(action) if action.resource is not None and not action.pseudo
        else None,
        attributes=tuple(sorted(attributes.items())),
        downed=(action.node_id,) if takes_down and action.node_id is not None else (),
        mode="cib" if action.task == "lrm_delete" else None,  # history removal: CIB only
        shutdown_lock=str(lock) if lock else None,
        # Pacemaker names a resource's action by its own key too when the operation key
        # names it otherwise (an anonymous instance under its base id; pseudo stops of an
        # instance on a fenced node included)
        internal_key=action.key if action.resource is not None
        and action.key != action.operation_key else None)


def graph_name(action: Action) -> str:
    """The id of an action's <primitive> in the graph, which crm_simulate prints.

    An anonymous clone's instances are all named after the configured primitive
    (`d` for `d:1`): any instance may run under that name on a node.
    """
    return action.name or key_resource(action.key) or action.resource or ""


def _primitive(action: Action) -> GraphResource:
    rsc = action.resource or ""
    name = graph_name(action)
    # Pacemaker's long-id of an anonymous instance is the name its history is recorded
    # under when that is not the configured id (`d:10` for the instance `d:1`), else the
    # instance id (crm_simulate -G of an anonymous clone whose history names `d:10`)
    history = key_resource(action.operation_key)
    long_id = history if history not in (None, name) and name != rsc else rsc
    return _resource_element(name, long_id, action.agent)


@functools.lru_cache(maxsize=8192)
def _resource_element(name: str, rsc: str, agent: str | None) -> GraphResource:
    """The <primitive> of a resource's actions (shared: a resource has many actions);
    `rsc` is its long-id, written when it is not the name."""
    from pengine.transition_graph import GraphResource

    long_id = rsc if name != rsc else None
    parts = (agent or "::").split(":")
    if len(parts) == 3:
        return GraphResource(name, long_id, parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return GraphResource(name, long_id, parts[0], None, parts[1])
    return GraphResource(name, long_id, None, None, None)


def _fence_kind(action: Action) -> str:
    meta = dict(action.attributes).get("CRM_meta_stonith_action")
    return meta or action.key.rsplit("-", 1)[-1]


def header_values(transition: Transition) -> dict[str, str]:
    """The graph header's option values (cluster options override the CIB's defaults)."""
    options = dict(transition.status.options) | dict(transition.options)
    values = {"cluster-delay": options.get("cluster-delay", "60s"),
              "stonith-timeout": options.get("stonith-timeout", "60s"),
              "batch-limit": options.get("batch-limit", "0")}
    if options.get("migration-limit", "-1") != "-1":
        values["migration-limit"] = options["migration-limit"]
    return values


def to_xml(transition: Transition, ordered: tuple[Synapse, ...] | None = None) -> str:
    """The transition graph as text, in the layout `crm_simulate -G` writes."""
    # imported here: -S without -G needs the synapses, not the frozen graph's classes
    from pengine.transition_graph import build, render_xml

    return render_xml(build(transition, ordered))


def dot_name(action: Action) -> str:
    """An action's dot node name: the key, plus the node when the action has one.

    Pseudo actions tied to a node (a stop implied by fencing) keep the node in dot,
    although their graph element never carries on_node.
    """
    key = action.operation_key
    if action.node is None:
        # an unassigned resource action (a blocked start) is named "<key> <none>"
        return key if action.pseudo else f"{key} <none>"
    return f"{key} {action.node}"


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
    waits_for = transition.predecessors()
    edges = set(transition.edges)
    unmanaged = _unmanaged(transition.status.resources)
    lines = [' digraph "g" {']
    drawn: dict[int, Action] = {}
    newest_first = sorted(transition.actions, key=lambda a: -a.id)
    for action in newest_first:
        text = _dot_node(action, action.in_graph, unmanaged, all_actions)
        if text is not None:
            drawn[action.id] = action
            lines.append(text)
    extra: dict[int, set[int]] = {}
    for first, then in getattr(transition, "orderings", ()):
        if first in drawn and then in drawn and (first, then) not in edges:
            extra.setdefault(then, set()).add(first)
    for action in newest_first:
        befores = [(b, "bold") for b in dict.fromkeys(waits_for.get(action.id, ()))]
        befores += [(b, "dashed") for b in extra.get(action.id, ())]
        for before, style in sorted(befores):
            lines.append(f'"{dot_name(drawn[before])}" -> "{dot_name(action)}" '
                         f"[ style = {style}]")
    lines.append("}")
    return "\n".join(lines) + "\n"
