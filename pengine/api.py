"""The public entry of the policy engine: `schedule(cib, now) -> Transition`.

The engine is a pure function. It never reads the clock, files or the network: "now" is
the `now` argument, else the CIB's `execution-date`, else the caller's `default_now`,
else the fixed `FALLBACK_NOW` (2022-12-08T00:00:00Z, the Pacemaker 2.1.5 tag date, so
that the same input always gives the same transition). Bad input raises
`messaging.errors.ValidationError` or `ConfigError` with a Location; nothing else escapes.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, NoReturn

from lxml import etree

from messaging.record import Record
from pengine.model import (
    Action,
    ClusterStatus,
    FailedOperation,
    LocationBan,
    NodeStatus,
    Pairs,
    ResourceStatus,
)
from pengine.status_xml import (
    ResourceWriter,
    StatusFacts,
    leaves,
    nodes_element,
    resources_element,
    status_facts,
)

if TYPE_CHECKING:  # networkx costs ~100 ms to import: only the views that need it load it
    from collections.abc import Callable, Mapping

    import networkx as nx

    from pengine.transition_graph import (
        GraphAction,
        GraphResource,
        GraphSynapse,
        TransitionGraph,
    )

FALLBACK_NOW = datetime.datetime(2022, 12, 8, tzinfo=datetime.UTC)

CibInput = str | bytes | etree._Element


class Transition(Record):
    """The result of one scheduler run.

    edges: (first id, then id) pairs between actions of the transition graph (required and
    runnable, pseudo included): "then waits for first". `graph` is the same as a networkx
    DiGraph and `pengine.transition_graph.build` the frozen, serialisable graph.
    actions: every action created, in creation order (optional/blocked ones included).
    summary: the Transition Summary lines exactly as crm_simulate prints them.
    scores: "<function>: <rsc> allocation score on <node>: <score>" lines of the assignment
    (pcmk__primitive_assign, pcmk__group_assign, pcmk__clone_allocate), in Pacemaker's order.
    held: (first id, then id) inputs of graph actions from actions left out of the graph
    (Pacemaker keeps them, so 'then' never fires); not part of `edges` or `graph`.
    """

    __slots__ = ("actions", "edges", "held", "instance_order", "now", "options",
                 "resource_order", "scores", "status", "summary", "transition_id")

    def __init__(self, edges: tuple[tuple[int, int], ...], actions: tuple[Action, ...],
                 summary: tuple[str, ...], scores: tuple[str, ...], status: ClusterStatus,
                 now: datetime.datetime, transition_id: int = 0, options: Pairs = (),
                 resource_order: tuple[str, ...] = (),
                 held: tuple[tuple[int, int], ...] = (),
                 instance_order: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.edges = edges
        self.held = held
        self.actions = actions
        self.summary = summary
        self.scores = scores
        self.status = status
        self.now = now
        self.transition_id = transition_id
        self.options = options
        self.resource_order = resource_order  # top-level resources in Pacemaker's sorted order
        # clone id -> its instances in the order Pacemaker's clone keeps its children in
        self.instance_order = instance_order or {}

    @property
    def graph(self) -> nx.DiGraph:  # type: ignore[type-arg]
        """A new networkx view: node key Action.id with attribute "action", edge first->then.

        Built on each call (networkx is imported only here), so callers keep the result.
        """
        import networkx

        view: nx.DiGraph = networkx.DiGraph()  # type: ignore[type-arg]
        view.add_nodes_from((action.id, {"action": action}) for action in self.actions
                            if action.in_graph)
        view.add_edges_from(self.edges)
        return view

    def predecessors(self) -> dict[int, list[int]]:
        """then id -> the ids it waits for, in edge order (graph actions only)."""
        found: dict[int, list[int]] = {}
        for first, then in self.edges:
            found.setdefault(then, []).append(first)
        return found


def schedule(
    cib: CibInput,
    now: datetime.datetime | None = None,
    *,
    default_now: datetime.datetime | None = None,
    transition_id: int = 0,
) -> Transition:
    """Compute the transition for a CIB.

    Args:
        cib: the whole CIB (<cib> with configuration and status) as text, bytes or element.
        now: the effective time ("crm_simulate -t"); overrides the CIB's execution-date.
        default_now: used when neither `now` nor execution-date is given.
        transition_id: copied into the result.

    Returns:
        The Transition (graph, actions, summary, scores, unpacked status).

    Raises:
        ValidationError: the input is not a usable CIB (bad XML, missing sections, ...).
    """
    from pengine.scheduler import run

    return run(cib, now, default_now or FALLBACK_NOW, transition_id)


def unpack_status(
    cib: CibInput,
    now: datetime.datetime | None = None,
    *,
    default_now: datetime.datetime | None = None,
    with_bans: bool = False,
) -> ClusterStatus:
    """Unpack only the cluster status (nodes, resources, failures) of a CIB.

    with_bans: also list the location constraints' negative scores (crm_mon's bans).
    """
    from pengine.status import status_only

    return status_only(cib, now, default_now or FALLBACK_NOW, with_bans=with_bans)


def location_scores(cib: CibInput, now: datetime.datetime | None = None
                    ) -> tuple[LocationBan, ...]:
    """Every node score the location constraints give (rules evaluated on the nodes'
    attributes), newest constraint first, as Pacemaker's crm_resource --constraints lists
    them; `weight` is the score (LocationBan's fields, not only negative ones)."""
    from pengine.status import location_scores as scores
    from pengine.status import unpack_cib

    return scores(unpack_cib(cib, now, FALLBACK_NOW))


def transition_graph(transition: Transition) -> TransitionGraph:
    """The frozen, serialisable transition graph of a scheduler result (what crmd executes).

    Synapses in Pacemaker's order, each action as `crm_simulate -G` describes it; see
    pengine.transition_graph for to_dict/from_dict, pack/unpack, render_xml, to_networkx.
    """
    from pengine.transition_graph import build

    return build(transition)


def read_transition_graph(text: str | bytes, source: str = "<graph>") -> TransitionGraph:
    """Pacemaker's ``<transition_graph>`` XML (crm_simulate -G, the corpus .exp) as the frozen
    graph; ValidationError naming `source` when it is not XML, not a transition graph, or an
    input names no action of the graph."""
    from messaging.errors import Location, ValidationError
    from pengine.transition_graph import from_xml

    try:
        root = etree.fromstring(text.encode() if isinstance(text, str) else text,
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        raise ValidationError(f"transition graph is not XML: {error}",
                              location=Location(source)) from None
    if root.tag != "transition_graph":
        raise ValidationError(f"expected <transition_graph>, found <{root.tag}>",
                              location=Location(source))
    try:
        graph = from_xml(text)
    except (ValueError, TypeError, IndexError) as error:
        raise ValidationError(f"malformed transition graph: {error}",
                              location=Location(source)) from None
    # a trigger naming no synapse's action is a held input (GraphSynapse.held), as
    # Pacemaker writes one for a required action it left out of the graph
    return graph


_GRAPH_TYPES = frozenset({"GraphAction", "GraphResource", "GraphSynapse", "TransitionGraph"})


def __getattr__(name: str) -> object:
    """The graph's value types, imported on first use (crm_simulate -R never needs them)."""
    if name in _GRAPH_TYPES:
        from pengine import transition_graph as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def crm_simulate_main(argv: list[str] | None = None,
                      live_source: Callable[[], bytes] | None = None) -> NoReturn:
    """Run the crm_simulate command line; `live_source` gives -L/--live-check its CIB text
    (the tool's entry point in crmd passes cib.backend's)."""
    from pengine.cli import main

    main(argv, live_source)


def node_lines(status: ClusterStatus) -> list[str]:
    """crm_mon's "Node List" entries (special nodes one per line, then Online/OFFLINE lists)."""
    from pengine import status_text

    return status_text.node_lines(status)


def node_state_text(node: NodeStatus, active: bool) -> str:
    """A node's state as crm_mon -n words it ("online", "OFFLINE", "standby", ...)."""
    from pengine import status_text

    special = status_text._node_state(node, active)
    if special is not None:
        return special
    return "online" if node.online else "OFFLINE"


def resource_lines(status: ClusterStatus, *, inactive: bool = True,
                   inactive_section: bool = False) -> list[str]:
    """crm_mon's resource lines (crm_simulate's too); inactive=False hides inactive ones;
    inactive_section: the lines of crm_mon -n's "Inactive Resources"."""
    from pengine import status_text

    return status_text.resource_lines(status, inactive=inactive,
                                      inactive_section=inactive_section)


def is_listed(rsc: ResourceStatus) -> bool:
    """Whether crm_mon lists a top-level resource at all (its text and XML alike)."""
    from pengine import status_text

    return status_text.is_listed(rsc)


def is_disabled(rsc: ResourceStatus, promotable: bool) -> bool:
    """Whether crm_mon counts and flags the resource disabled (target-role Stopped, or
    Unpromoted when its top-level parent is a promotable clone)."""
    from pengine import status_text

    return status_text.is_disabled(rsc, promotable)


def per_op_fail_counts(root: etree._Element) -> bool:
    """Whether the CIB's feature set (3.0.13 on) names fail counts per operation."""
    from pengine.unpack_options import _FEATURE_SET_PER_OP, _feature_set

    return _feature_set(root.get("crm_feature_set")) >= _FEATURE_SET_PER_OP


def sort_operations(ops: list[etree._Element]) -> list[etree._Element]:
    """One resource's history entries on a node, oldest first, as the scheduler orders
    them (call ids; a pending entry placed by its transition number)."""
    from pengine.unpack_history import sort_ops

    return sort_ops(ops)


def primitive_line(rsc: ResourceStatus, promotable: bool = False) -> str:
    """One primitive as `id<TAB>(agent):<TAB> state` (`promotable`: its top-level parent
    is a promotable clone)."""
    from pengine import status_text

    return status_text.primitive_line(rsc, promotable=promotable)


def failed_action_line(op: FailedOperation) -> str:
    """One "Failed Resource Actions" entry."""
    from pengine import status_text

    return status_text.failed_action_line(op)


def resource_counts(status: ClusterStatus) -> tuple[int, int, int]:
    """(primitive instances configured, disabled, blocked) for crm_mon's summary."""
    from pengine import status_text

    return status_text.resource_counts(status)


def duration_ms(text: str | None, default: int = 0) -> int:
    """A Pacemaker duration ("60s", "1min", "PT5M", "500ms") in milliseconds."""
    from pengine.xmlin import duration_ms as parse

    return parse(text, default)


def rc_text(rc: int) -> str:
    """An OCF exit code as Pacemaker words it ("not running")."""
    from pengine import status_text

    return status_text._rc_text(rc)


def pending_state(rsc: ResourceStatus) -> str | None:
    """A pending start/stop/migration/promotion/demotion as Pacemaker shows it in the
    role's place ("Starting", ...), or None."""
    from pengine import status_text

    return status_text._PENDING_STATE.get(rsc.pending_task or "")


def exec_status_text(status: int) -> str:
    """An operation's execution status as Pacemaker words it ("complete", "Timed Out")."""
    from pengine import status_text

    return status_text._status_text(status)


def readable_interval(ms: int) -> str:
    """Pacemaker's short duration text (10s, 1m30s, 2h)."""
    from pengine import status_text

    return status_text.readable_interval(ms)


__all__ = [
    "FALLBACK_NOW",
    "Action",
    "ClusterStatus",
    "FailedOperation",
    "GraphAction",
    "GraphResource",
    "GraphSynapse",
    "LocationBan",
    "NodeStatus",
    "ResourceStatus",
    "ResourceWriter",
    "StatusFacts",
    "Transition",
    "TransitionGraph",
    "exec_status_text",
    "failed_action_line",
    "is_disabled",
    "is_listed",
    "leaves",
    "location_scores",
    "node_lines",
    "node_state_text",
    "nodes_element",
    "pending_state",
    "per_op_fail_counts",
    "primitive_line",
    "rc_text",
    "read_transition_graph",
    "readable_interval",
    "resource_counts",
    "resource_lines",
    "resources_element",
    "schedule",
    "sort_operations",
    "status_facts",
    "transition_graph",
    "unpack_status",
]
