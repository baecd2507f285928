"""Freeze propagated actions into public Actions and the networkx transition graph.

Invariants: graph nodes are exactly the actions that are required and runnable; an edge
first -> then exists when an ordering links two such actions.
"""

from __future__ import annotations

import networkx as nx

from pengine.actions import Work
from pengine.model import Action
from pengine.ordering import Link
from pengine.state import Unpacked


def freeze(u: Unpacked, works: list[Work]) -> tuple[Action, ...]:
    node_ids = {n.name: n.id for n in u.nodes}
    agents = {r.id: r.agent for r in u.resources if r.kind == "primitive"}
    out = []
    for w in works:
        attrs: list[tuple[str, str]] = []
        if w.node is not None and not w.pseudo:
            attrs += [("CRM_meta_on_node", w.node),
                      ("CRM_meta_on_node_uuid", node_ids.get(w.node, w.node))]
        if w.interval_ms:
            attrs.append(("CRM_meta_interval", str(w.interval_ms)))
        out.append(Action(
            id=w.id, key=w.key, task=w.task, resource=w.rsc,
            node=None if w.pseudo and w.task != "stonith" else w.node,
            node_id=node_ids.get(w.node) if w.node else None,
            interval_ms=w.interval_ms, pseudo=w.pseudo, optional=w.optional,
            runnable=w.runnable, attributes=tuple(sorted(attrs)), reason=w.reason,
            agent=agents.get(w.rsc or "") if not w.pseudo else None,
        ))
    return tuple(out)


def build_graph(actions: tuple[Action, ...], links: list[Link]) -> nx.DiGraph:  # type: ignore[type-arg]
    graph: nx.DiGraph = nx.DiGraph()  # type: ignore[type-arg]
    for action in actions:
        if action.in_graph:
            graph.add_node(action.id, action=action)
    for link in links:
        if "nograph" not in link.flags and link.first.id in graph and link.then.id in graph:
            graph.add_edge(link.first.id, link.then.id)
    return graph
