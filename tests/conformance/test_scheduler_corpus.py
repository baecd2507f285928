"""Ratchets over Pacemaker 2.1.5's scheduler corpus: listed cases must keep passing (their
Transition Summary, and their whole `crm_simulate -S` output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pengine.conformance import RATCHET, WHOLE_RATCHET, report, run_all


def test_scheduler_corpus_ratchet(shared: Path) -> None:
    corpus = shared / "conformance" / "scheduler"
    if not (corpus / "MANIFEST.tsv").is_file():
        pytest.skip("scheduler corpus not present")
    results = run_all(corpus)
    passing = {r.name for r in results if r.passed}
    listed = {line.strip() for line in RATCHET.read_text().splitlines() if line.strip()}
    print(report(results))
    newly = sorted(passing - listed)
    if newly:
        print(f"newly passing (add with --write-ratchet): {' '.join(newly)}")
    lost = sorted(listed - passing)
    assert not lost, f"cases that used to pass now fail: {lost}"
    whole = {r.name for r in results if r.whole_passed}
    whole_listed = {line.strip() for line in WHOLE_RATCHET.read_text().splitlines() if line.strip()}
    whole_lost = sorted(whole_listed - whole)
    assert not whole_lost, f"cases whose whole -S output matched now differ: {whole_lost}"
