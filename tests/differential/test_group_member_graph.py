"""Orderings between one group's members in the transition graph, against Pacemaker's.

tests/differential/group_graphs/NAME.xml is a made-up CIB, NAME.dot the graph Debian's
Pacemaker 2.1.5 wrote for it (`crm_simulate -x NAME.xml -S -D NAME.dot`). The test compares
the edges from one member's stop to another's: the fire order alone does not show an edge
whose two stops would fire in that order anyway.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.differential.dot_graph import our_dot

HERE = Path(__file__).with_name("group_graphs")
CASES = sorted(HERE.glob("*.xml"))
STOP_EDGE = re.compile(r'^"(\S+_stop_0 \S+)" -> "(\S+_stop_0 \S+)"')


def _stop_edges(dot: str) -> set[tuple[str, str]]:
    return {(m[1], m[2]) for m in map(STOP_EDGE.match, dot.splitlines()) if m}


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_member_stop_edges_match_pacemaker(case: Path, tmp_path: Path) -> None:
    expected = _stop_edges(case.with_suffix(".dot").read_text())
    assert expected, "the recorded graph orders no member's stop after another's"
    assert _stop_edges(our_dot(case, tmp_path)) == expected
