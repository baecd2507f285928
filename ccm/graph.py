"""The reachability graph behind ccm's target membership (pure functions, no state).

Two nodes are linked when each one's latest report says it hears the other; the local node
uses its live heartbeat state for its own side. The target membership of a node is its
clique in a deterministic decomposition of its connected component: nodes are visited in
order of (distrust, name) and each joins the first clique whose every member it is linked
to, or starts a new one. Distrust of X = how many nodes X claims to hear that do not claim
to hear X: a node that just died keeps claiming everyone in its last report while the
survivors stop claiming it, so it sorts last and cannot drag the survivors into its
clique before every one of them noticed. Everyone holding the same reports computes the
same cliques, so targets of different nodes are either equal or disjoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from .protocol import Report


def linked(name: str, heard: Set[str], reports: Mapping[str, Report], a: str, b: str) -> bool:
    """Whether `a` and `b` hear each other, as far as `name` knows."""
    if a == b:
        return True
    if b == name:
        a, b = b, a
    if a == name:
        report = reports.get(b)
        return b in heard and report is not None and name in report.reach
    ra, rb = reports.get(a), reports.get(b)
    return ra is not None and rb is not None and b in ra.reach and a in rb.reach


def _links(name: str, heard: Set[str], reach: Mapping[str, Set[str]]) -> dict[str, set[str]]:
    """Each node's linked peers: `linked` for every pair at once, with each report's reach
    as a set (a target is worked out on every change of a report's reach, at a boot on
    nearly every message: O(N^2) set lookups, not O(N^3) calls scanning tuples)."""
    hears = {**reach, name: heard}
    links: dict[str, set[str]] = {node: set() for node in heard}
    for node, claimed in hears.items():
        links[node] = {peer for peer in claimed
                       if peer != node and (back := hears.get(peer)) is not None
                       and node in back}
    return links


def component(name: str, heard: Set[str], reports: Mapping[str, Report]) -> list[str]:
    """The sorted connected component of `name` in the graph."""
    return sorted(_component(name, _links(name, heard, _reach_sets(reports))))


def _reach_sets(reports: Mapping[str, Report]) -> dict[str, frozenset[str]]:
    return {node: frozenset(report.reach) for node, report in reports.items()}


def _component(name: str, links: Mapping[str, Set[str]]) -> set[str]:
    seen, frontier = {name}, [name]
    while frontier:
        fresh = links[frontier.pop()] - seen
        seen |= fresh
        frontier.extend(fresh)
    return seen


def distrust(node: str, reports: Mapping[str, Report]) -> int:
    """How many nodes `node` claims to hear that do not claim to hear it."""
    return _distrust(node, _reach_sets(reports))


def _distrust(node: str, reach: Mapping[str, Set[str]]) -> int:
    own = reach.get(node)
    if own is None:
        return 0
    return sum(1 for peer in own if (other := reach.get(peer)) is not None and node not in other)


def cliques(name: str, heard: Set[str], reports: Mapping[str, Report]) -> list[frozenset[str]]:
    """The deterministic clique decomposition of `name`'s component."""
    reach = _reach_sets(reports)
    links = _links(name, heard, reach)
    groups: list[set[str]] = []
    order = sorted(_component(name, links), key=lambda n: (_distrust(n, reach), n))
    for node in order:
        for group in groups:
            if group <= links[node]:  # linked to every member
                group.add(node)
                break
        else:
            groups.append({node})
    return [frozenset(group) for group in groups]


def target_membership(name: str, heard: Set[str], reports: Mapping[str, Report]) -> frozenset[str]:
    """The clique containing `name`."""
    for group in cliques(name, heard, reports):
        if name in group:
            return group
    return frozenset({name})  # unreachable: name is always in its own component


def ambiguous_peers(name: str, heard: Set[str], reports: Mapping[str, Report],
                    target: frozenset[str]) -> frozenset[str]:
    """Peers linked to `name` yet outside its target: stale reports or a non-transitive cut."""
    return frozenset(p for p in heard if p not in target and linked(name, heard, reports, name, p))
