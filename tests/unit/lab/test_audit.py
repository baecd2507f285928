"""lab.audit: running resources from lrmd history records, double runs from samples."""

from __future__ import annotations

from lab.audit import DoubleRunAudit, placement, placement_differences, running_instances
from lrmd.api import AgentSpec, OpCompleted

DUMMY = AgentSpec("ocf", "Dummy", "heartbeat")


def op(call_id: int, action: str, rc: int = 0, interval_ms: int = 0, status: int = 0,
       last_run: float | None = None, resource: str = "r1") -> OpCompleted:
    return OpCompleted(call_id, resource, DUMMY, action, interval_ms, rc, status,
                       last_run=float(call_id) if last_run is None else last_run)


def test_a_successful_start_runs_and_a_later_stop_does_not() -> None:
    assert running_instances([op(3, "start")]) == {"r1": (3, 3.0)}
    assert running_instances([op(3, "start"), op(4, "monitor", interval_ms=10000),
                              op(5, "stop")]) == {}


def test_probe_results_decide_by_rc() -> None:
    assert running_instances([op(2, "monitor", rc=0)]) == {"r1": (2, 2.0)}
    assert running_instances([op(2, "monitor", rc=7)]) == {}
    assert running_instances([op(2, "monitor", rc=8)]) == {"r1": (2, 2.0)}


def test_failed_start_or_stop_is_not_proof_of_running() -> None:
    assert running_instances([op(3, "start", rc=1)]) == {}
    assert running_instances([op(3, "start", status=2)]) == {}
    assert running_instances([op(3, "start"), op(6, "stop", rc=1)]) == {}


def test_a_failed_recurring_monitor_after_the_start_means_stopped() -> None:
    history = [op(3, "start"), op(4, "monitor", rc=7, interval_ms=10000, last_run=9.0)]
    assert running_instances(history) == {}
    # a monitor failure from before a restart does not count against the new start
    history = [op(8, "start", last_run=10.0), op(4, "monitor", rc=7, interval_ms=10000,
                                                   last_run=9.0)]
    assert running_instances(history) == {"r1": (8, 10.0)}


def test_a_move_never_looks_like_a_double_run_however_samples_interleave() -> None:
    audit = DoubleRunAudit()
    audit.add("a", 0.0, 0.1, {"r1": (3, 0.0)})
    audit.add("b", 0.1, 0.2, {})
    audit.add("a", 0.2, 0.3, {"r1": (3, 0.0)})  # stop on a happens after 0.2 (sent)
    audit.add("b", 0.25, 0.6, {"r1": (7, 0.0)})  # start on b finished before 0.6
    audit.add("a", 0.6, 0.7, {})
    audit.add("b", 0.7, 0.8, {"r1": (7, 0.0)})
    assert audit.double_runs() == []


def test_overlapping_certain_intervals_are_a_double_run() -> None:
    audit = DoubleRunAudit()
    for t in (0.0, 1.0, 2.0):
        audit.add("a", t, t + 0.1, {"r1": (3, 0.0), "r2": (4, 0.0)})
        audit.add("b", t + 0.2, t + 0.3, {"r1": (9, 0.0)})
    runs = audit.double_runs()
    assert [(r.resource, r.nodes) for r in runs] == [("r1", ("a", "b"))]
    assert runs[0].start == 0.3 and runs[0].end == 2.0
    assert "r1 ran on a and b at once" in str(runs[0])


def test_single_samples_prove_no_overlap_and_unique_filters() -> None:
    audit = DoubleRunAudit(unique=frozenset({"r2"}))
    audit.add("a", 0.0, 0.1, {"r1": (3, 0.0)})
    audit.add("a", 1.0, 1.1, {"r1": (3, 0.0)})
    audit.add("b", 0.5, 0.6, {"r1": (9, 0.0)})
    audit.add("b", 0.6, 0.7, {"r2": (1, 0.0)})
    audit.add("c", 0.6, 0.7, {"r2": (2, 0.0)})
    assert audit.double_runs() == []  # r1 not audited; r2 seen once per node
    assert audit.instances_seen("r2") == {"b": 1, "c": 1}


def test_placement_differences_name_each_disagreement() -> None:
    truth = placement({"a": {"r1": (1, 0.0)}, "b": {"r2": (2, 0.0), "r1": (5, 0.0)}})
    assert truth == {"r1": {"a", "b"}, "r2": {"b"}}
    problems = placement_differences({"r1": {"a"}, "r2": {"b"}, "r3": {"c"}}, truth)
    assert problems == ["r1: expected on ['a'], runs on ['a', 'b']",
                        "r3: expected on ['c'], runs on no node"]


def test_a_restarted_lrmd_reusing_a_call_id_is_another_instance() -> None:
    """A node fenced while running r1 and rebooted later: its new lrmd counts call ids from
    1 again, and the same call id must not bridge the time it was down (when r1 ran on
    another node)."""
    audit = DoubleRunAudit()
    audit.add("c", 0.0, 0.1, {"r1": (4, 100.0)})
    audit.add("c", 1.0, 1.1, {"r1": (4, 100.0)})  # then c is fenced
    audit.add("a", 2.0, 2.1, {"r1": (9, 102.0)})
    audit.add("a", 5.0, 5.1, {"r1": (9, 102.0)})  # r1 moves back: stopped on a
    audit.add("c", 6.0, 6.1, {"r1": (4, 106.0)})  # rebooted c, same call id, new start
    audit.add("c", 7.0, 7.1, {"r1": (4, 106.0)})
    assert audit.double_runs() == []
    assert audit.instances_seen("r1") == {"c": 2, "a": 1}
