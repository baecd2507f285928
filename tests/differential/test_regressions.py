"""Reduced regression cases found by the differential test (tests/differential/cases).

Each NAME.xml is a shrunk generated CIB; NAME.summary is Pacemaker 2.1.5's Transition Summary
for it, recorded from Debian's crm_simulate (tests/differential/record.py). Comparison is
whitespace-insensitive, line by line, in order. A case with NAME.scores (Pacemaker's
compared score lines from crm_simulate -s, in its order: `pcmk__primitive_assign`, and in
cases recorded since group, clone or promotion lines are compared, `pcmk__group_assign`,
`pcmk__clone_allocate` and promotion scores) must also print exactly those lines of the kinds
it holds, in the same order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pengine.api import schedule
from tests.differential.compare import norm, score_kind

CASES = sorted(Path(__file__).with_name("cases").glob("*.xml"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_reduced_case_matches_pacemaker(case: Path) -> None:
    expected = case.with_suffix(".summary").read_text().splitlines()
    got = schedule(case.read_text()).summary
    assert norm(got) == norm(expected), "\n".join(["expected:", *expected, "got:", *got])


SCORED = [c for c in CASES if c.with_suffix(".scores").exists()]


@pytest.mark.parametrize("case", SCORED, ids=[c.stem for c in SCORED])
def test_reduced_case_scores_match_pacemaker(case: Path) -> None:
    expected = set(case.with_suffix(".scores").read_text().splitlines())
    kinds = {score_kind(line) for line in expected} | {"pcmk__primitive_assign:"}
    ordered = [line for line in schedule(case.read_text()).scores
               if score_kind(line) in kinds]
    got = set(ordered)
    assert got == expected, "\n".join(["missing:", *sorted(expected - got),
                                       "extra:", *sorted(got - expected)])
    # Pacemaker prints each table when its assignment function shows it, nodes by name
    # with digits compared as numbers (node2 before node10)
    assert ordered == case.with_suffix(".scores").read_text().splitlines()
