"""crmd's pipelined CIB writes (`crmd.write_pipeline`): several outstanding at once, in
sequence order; a resend (outcome unknown) goes again with every later write, in order,
once every outstanding one is answered, so no resend overtakes a later write."""

from __future__ import annotations

from cib.api import WireRequest
from crmd.cib_events import attribute_write
from crmd.write_pipeline import Outcome, WritePipeline


def _delete(xpath: str) -> WireRequest:
    return WireRequest("delete", None, None, xpath, multiple=True, force=True)


def _sent(pipeline: WritePipeline, now: float = 0.0) -> list[tuple[int, tuple[int, ...]]]:
    return [(send.send_id, send.seqs) for send in pipeline.sendable(now)]


def test_writes_leave_at_once_up_to_the_window_in_sequence_order() -> None:
    pipeline = WritePipeline(window=2)
    for n in range(3):
        pipeline.write(_delete(f"/cib/status/x{n}"))
    assert _sent(pipeline) == [(1, (1,)), (2, (2,))], "two outstanding, the third waits"
    assert pipeline.answered(1, Outcome.DONE, 0.1).released == ()
    assert _sent(pipeline) == [(3, (3,))]


def test_a_run_of_status_modifications_is_merged_into_one_request() -> None:
    pipeline = WritePipeline()
    pipeline.write(attribute_write("1", "n1", "a", "1"))
    pipeline.write(attribute_write("2", "n2", "b", "2"))
    pipeline.write(_delete("/cib/status/x"))
    sends = pipeline.sendable(0.0)
    assert [s.seqs for s in sends] == [(1, 2), (3,)]
    assert sends[0].request.data is not None and sends[0].request.data.startswith("<status>")


def test_a_barrier_is_released_once_every_earlier_write_completed_in_order() -> None:
    pipeline = WritePipeline()
    pipeline.write(_delete("/a"))
    pipeline.write(_delete("/b"))
    assert pipeline.barrier("sync") == ()
    pipeline.write(_delete("/c"))  # after the barrier: not waited for
    pipeline.sendable(0.0)
    assert pipeline.answered(2, Outcome.DONE, 0.1).released == (), "1 is still out"
    assert pipeline.answered(1, Outcome.DONE, 0.1).released == ("sync",)
    assert pipeline.completed_through == 2
    assert pipeline.barrier("now") == (), "3 is still out"


def test_a_resend_waits_for_every_answer_then_resends_all_later_writes_in_order() -> None:
    pipeline = WritePipeline()
    for name in "abc":
        pipeline.write(_delete(f"/{name}"))
    pipeline.sendable(0.0)
    pipeline.answered(1, Outcome.RESEND, 0.1)  # the master changed: outcome unknown
    pipeline.write(_delete("/d"))
    assert _sent(pipeline, 0.1) == [], "nothing leaves while answers are outstanding"
    pipeline.answered(3, Outcome.DONE, 0.2)  # applied after 1's fate was unknown
    assert _sent(pipeline, 0.2) == []
    pipeline.answered(2, Outcome.DONE, 0.3)
    resent = pipeline.sendable(0.3)
    # 1 again, then 2 and 3 again (already applied: re-applied after 1), then the new 4
    assert [s.request.xpath for s in resent] == ["/a", "/b", "/c", "/d"]
    assert pipeline.completed_through == 0, "nothing completed out of order"
    for send in resent:
        pipeline.answered(send.send_id, Outcome.DONE, 0.4)
    assert pipeline.completed_through == 4 and pipeline.unanswered() == []


def test_an_answer_to_a_replaced_request_is_ignored() -> None:
    pipeline = WritePipeline()
    pipeline.write(_delete("/a"))
    pipeline.sendable(0.0)
    pipeline.answered(1, Outcome.RESEND, 0.1)
    again = pipeline.sendable(0.1)
    assert [s.send_id for s in again] == [2]
    assert pipeline.answered(1, Outcome.DONE, 0.2).released == ()
    assert pipeline.completed_through == 0


def test_an_unanswered_write_is_resent_after_the_retry_interval_then_given_up() -> None:
    pipeline = WritePipeline(retry_for=1.0)
    pipeline.write(_delete("/a"))
    pipeline.barrier("sync")
    pipeline.sendable(0.0)
    finished = pipeline.answered(1, Outcome.UNANSWERED, 0.5)
    assert finished.rewind_after_delay and pipeline.sendable(0.5) == []
    pipeline.resume()
    assert _sent(pipeline, 0.7) == [(2, (1,))]
    finished = pipeline.answered(2, Outcome.UNANSWERED, 1.5)  # first sent at 0.0
    assert [seq for seq, _ in finished.lost] == [1] and finished.released == ("sync",)


def test_a_write_refused_for_good_completes_without_a_resend() -> None:
    pipeline = WritePipeline()
    pipeline.write(_delete("/a"))
    pipeline.sendable(0.0)
    finished = pipeline.answered(1, Outcome.DROPPED, 0.1)
    assert finished.lost == () and pipeline.completed_through == 1
    assert pipeline.sendable(0.1) == []
