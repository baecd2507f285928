"""clear_failcount actions against Pacemaker 2.1.5's transition graphs (the corpus's .exp files).

Each case's expected set of (operation key, node) comes from the recorded graph; reasons
covered: an expired failure (legacy and per-operation counts), failure-timeout ignored for an
on-fail=block failure, a disabled or changed recurring op while the resource has a fail
count, and last-failure entries whose parameters changed (failed probes of clones).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from pengine.api import schedule

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "scheduler"
CASES = ["failcount", "expire-non-blocked-failure", "failcount-block", "bug-5069-op-disabled",
         "failed-probe-clone", "bug-5025-1", "bug-5025-3", "bug-5025-4", "bug-lf-2106",
         "not-reschedule-unneeded-monitor"]
_CLEAR = re.compile(r'operation_key="([^"]*_clear_failcount_0)" on_node="([^"]*)"')


@pytest.mark.parametrize("name", CASES)
def test_clear_failcount_like_pacemaker(name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    expected = sorted(set(_CLEAR.findall((CORPUS / "exp" / f"{name}.exp").read_text())))
    # The graphs were recorded long after these histories' failures: any later date will do.
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    transition = schedule((CORPUS / "xml" / f"{name}.xml").read_bytes(), now, default_now=now)
    got = sorted({(a.key, a.node) for a in transition.actions
                  if a.task == "clear_failcount" and a.in_graph})
    assert got == expected
