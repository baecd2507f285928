"""Runs every tests/scenarios/*.txt script through lab.sim.script and compares the transcript.

A scenario fails when one of its `expect-*` commands fails (always, even with
--update-golden) or when its transcript differs from the file (regenerate with
`pytest tests/scenarios --update-golden` and review the diff).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from lab.sim.script import run_script, trace_of

HERE = Path(__file__).parent
SCRIPTS = sorted(HERE.glob("*.txt"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_scenario(path: Path, request: pytest.FixtureRequest) -> None:
    text = path.read_text()
    produced, failures = run_script(text)
    update = request.config.getoption("--update-golden", default=False)
    if update:
        path.write_text(produced)
    assert not failures, "\n".join(failures)
    if produced != text and not update:
        diff = difflib.unified_diff(text.splitlines(), produced.splitlines(), "golden",
                                    "produced", lineterm="")
        pytest.fail("transcript changed (rerun with --update-golden to accept):\n"
                    + "\n".join(diff))


def test_a_broken_expectation_is_reported() -> None:
    script = "add-nodes 2\n----\n\nstabilize 5\n----\n\nexpect-view n1 | n2\n----\n"
    _, failures = run_script(script)
    assert failures and "expect-view n1 | n2" in failures[0]


def test_the_same_seed_gives_the_same_trace() -> None:
    # Issue 7: the kill-during-fencing-and-monitor scenario is deterministic: every
    # publication of every daemon on every node, with its time, is the same on a rerun.
    text = (HERE / "kill_during_fencing_and_monitor.txt").read_text()
    first, second = trace_of(text), trace_of(text)
    assert len(first) > 100 and first == second
    assert any("FenceResult" in line for line in first)
    assert any("OpCompleted" in line for line in first)


def test_another_seed_gives_another_trace() -> None:
    text = (HERE / "lossy_network.txt").read_text()
    assert trace_of(text) != trace_of(text.replace("seed=", "seed=9", 1))


def test_a_controller_scenario_is_deterministic() -> None:
    # Issue 10: every scenario also runs in the simulator, deterministically: the whole
    # trace (views, lrmd results, fencing, power) of a partition with fencing, twice.
    text = (HERE / "crm_partition_no_quorum_stop.txt").read_text()
    first, second = trace_of(text), trace_of(text)
    assert len(first) > 100 and first == second
    assert any("FenceResult" in line for line in first)
