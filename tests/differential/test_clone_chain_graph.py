"""Orderings between the instances of one clone in the transition graph, against Pacemaker's.

tests/differential/graphs/NAME.xml is a made-up CIB, NAME.dot the graph Debian's Pacemaker
2.1.5 wrote for it (`crm_simulate -x NAME.xml -S -D NAME.dot`). The test compares the edges
that chain one instance's action to another's of the same kind: start -> start, stop -> stop,
promote -> promote, demote -> demote, and for cloned groups running -> start and
stopped -> stop (what `ordered=true` adds). Pacemaker's dot file names an anonymous instance's
action on a node by the instance's history name (`d_stop_0 node2`), ours by its id
(`d:1_stop_0 node2`), so the instance number is dropped from node-bound actions of
anonymous clones on both sides.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from tests.differential.dot_graph import our_dot

HERE = Path(__file__).with_name("graphs")
CASES = sorted(HERE.glob("*.xml"))
EDGE = re.compile(r'^"([^"]+)" -> "([^"]+)"')
ACTION = re.compile(r"^(?P<rsc>.+?)_(?P<task>[a-z]+)_(?P<interval>\d+)(?: (?P<node>\S+))?$")
CHAIN = {("start", "start"), ("stop", "stop"), ("promote", "promote"), ("demote", "demote"),
         ("running", "start"), ("stopped", "stop")}


def _anonymous(cib: Path) -> bool:
    tree = etree.parse(str(cib))
    unique = tree.xpath("//clone/meta_attributes/nvpair[@name='globally-unique']/@value")
    return not any(str(v).lower() == "true" for v in unique)


def _chain_edges(dot: str, anonymous: bool) -> set[tuple[str, str]]:
    edges = set()
    for line in dot.splitlines():
        match = EDGE.match(line)
        if not match:
            continue
        first, then = (ACTION.match(name) for name in match.groups())
        if first is None or then is None or (first["task"], then["task"]) not in CHAIN:
            continue
        names = []
        for action in (first, then):
            if ":" not in action["rsc"] and action["node"] is None:
                break  # the clone's own pseudo actions
            rsc = action["rsc"]
            if anonymous and action["node"] is not None:
                rsc = rsc.split(":", 1)[0]
            names.append(f"{rsc}_{action['task']} {action['node'] or ''}".strip())
        if len(names) == 2 and names[0] != names[1]:
            edges.add((names[0], names[1]))
    return edges


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_instance_chain_edges_match_pacemaker(case: Path, tmp_path: Path) -> None:
    anonymous = _anonymous(case)
    expected = _chain_edges(case.with_suffix(".dot").read_text(), anonymous)
    assert expected, "the recorded graph chains no instances: not an ordered-clone case"
    got = _chain_edges(our_dot(case, tmp_path), anonymous)
    assert got == expected, f"missing: {sorted(expected - got)}\nextra: {sorted(got - expected)}"
