"""ccm.graph against its definition, on random reachability: the component is what `linked`
connects, the cliques split it in (distrust, name) order into groups whose members are
pairwise linked, each node in the first group it is linked to all of, and every node
holding the same reports computes the same cliques."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ccm.graph import cliques, component, distrust, linked, target_membership
from ccm.protocol import Report

NAMES = ("a", "b", "c", "d", "e", "f", "g")


@st.composite
def graphs(draw: st.DrawFn) -> tuple[str, set[str], dict[str, Report]]:
    """(local name, what it hears, the latest report of some of the others): reach claims
    drawn freely, one-way and towards unknown nodes included."""
    nodes = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=len(NAMES),
                          unique=True))
    name, others = nodes[0], nodes[1:]
    heard = draw(st.sets(st.sampled_from(others))) if others else set()
    reporting = draw(st.sets(st.sampled_from(others))) if others else set()
    reports = {node: Report(node, 1, 1, 0, tuple(sorted(
        draw(st.sets(st.sampled_from([n for n in NAMES if n != node])))))) for node in reporting}
    return name, heard, reports


def _reference_component(name: str, heard: set[str], reports: dict[str, Report]) -> set[str]:
    nodes = set(reports) | heard | {name}
    seen, frontier = {name}, [name]
    while frontier:
        current = frontier.pop()
        for other in nodes - seen:
            if linked(name, heard, reports, current, other):
                seen.add(other)
                frontier.append(other)
    return seen


@settings(max_examples=400, deadline=None)
@given(graphs())
def test_cliques_follow_the_definition(graph: tuple[str, set[str], dict[str, Report]]) -> None:
    name, heard, reports = graph
    groups = cliques(name, heard, reports)
    members = _reference_component(name, heard, reports)
    assert component(name, heard, reports) == sorted(members)
    assert sorted(n for group in groups for n in group) == sorted(members)  # a partition
    for group in groups:
        assert all(linked(name, heard, reports, x, y) for x in group for y in group)
    order = sorted(members, key=lambda n: (distrust(n, reports), n))
    for node in order:  # in the first group that was all linked to it when its turn came
        mine = next(i for i, group in enumerate(groups) if node in group)
        for earlier in groups[:mine]:
            before = [m for m in earlier if order.index(m) < order.index(node)]
            assert not all(linked(name, heard, reports, node, m) for m in before)
    assert name in target_membership(name, heard, reports)


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_distrust_counts_unanswered_claims(graph: tuple[str, set[str], dict[str, Report]]
                                           ) -> None:
    _, _, reports = graph
    for node, report in reports.items():
        unanswered = [p for p in report.reach
                      if p in reports and node not in reports[p].reach]
        assert distrust(node, reports) == len(unanswered)
