"""Reduced regression cases found by the differential test (tests/differential/cases).

Each NAME.xml is a shrunk generated CIB; NAME.summary is Pacemaker 2.1.5's Transition Summary
for it, recorded from Debian's crm_simulate (tests/differential/record.py). Comparison is
whitespace-insensitive, line by line, in order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pengine.api import schedule
from tests.differential.compare import norm

CASES = sorted(Path(__file__).with_name("cases").glob("*.xml"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_reduced_case_matches_pacemaker(case: Path) -> None:
    expected = case.with_suffix(".summary").read_text().splitlines()
    got = schedule(case.read_text()).summary
    assert norm(got) == norm(expected), "\n".join(["expected:", *expected, "got:", *got])
