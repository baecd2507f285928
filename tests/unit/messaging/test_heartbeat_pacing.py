"""When heartbeat reads its sockets (messaging.heartbeat.pacing), driven with explicit times.

A dense, quiet keepalive stream (16 nodes at 200 ms: 75 datagrams a second) is read in
batches every snooze instead of one wake-up per datagram; a sparse one (3 nodes) is read
as it comes, since ending a snooze is a wake-up too; and after this node sends something,
or after any status change, every datagram is read at once so no answer, membership round
or recovery waits for a snooze.
"""

from __future__ import annotations

from messaging.heartbeat.pacing import SNOOZE, ReadPacing


def _stream(pacing: ReadPacing, per_second: float, seconds: float,
            start: float = 0.0) -> list[float | None]:
    """Read one datagram at a time at `per_second`; the decisions taken."""
    decisions = []
    for k in range(1, int(per_second * seconds) + 1):
        decisions.append(pacing.read(1, start + k / per_second))
    return decisions


def test_a_dense_quiet_stream_is_read_every_snooze() -> None:
    pacing = ReadPacing()
    decisions = _stream(pacing, 75.0, 3.0)
    first_second = decisions[:74]
    assert all(d is None for d in first_second)  # no rate known yet
    later = decisions[76:]
    assert later and all(d is not None for d in later)
    now = 3.0
    assert pacing.read(1, now) == now + SNOOZE


def test_a_sparse_stream_is_read_as_it_comes() -> None:
    pacing = ReadPacing()
    assert all(d is None for d in _stream(pacing, 10.0, 5.0))  # 3 nodes: 10 a second
    assert all(d is None for d in _stream(pacing, 40.0, 5.0, start=5.0))  # under 2/snooze


def test_after_sending_the_answers_are_read_at_once() -> None:
    pacing = ReadPacing()
    _stream(pacing, 75.0, 3.0)
    pacing.sent(3.0)
    assert pacing.read(1, 3.0 + pacing.awake_after_send / 2) is None
    assert pacing.read(1, 3.0 + pacing.awake_after_send + 0.01) is not None


def test_after_a_status_change_every_datagram_is_read_at_once_for_a_while() -> None:
    pacing = ReadPacing()
    _stream(pacing, 75.0, 3.0)
    pacing.status_changed(3.0)
    assert all(d is None for d in _stream(pacing, 75.0, pacing.awake_after_change - 0.1,
                                          start=3.0))
    assert pacing.read(1, 3.0 + pacing.awake_after_change + 0.1) is not None


def test_an_earlier_send_never_shortens_the_wake_after_a_change() -> None:
    pacing = ReadPacing()
    _stream(pacing, 75.0, 3.0)
    pacing.status_changed(3.0)
    pacing.sent(3.1)
    assert pacing.read(1, 5.0) is None


def test_the_rate_follows_the_stream_down() -> None:
    pacing = ReadPacing()
    _stream(pacing, 75.0, 3.0)
    assert all(d is None for d in _stream(pacing, 10.0, 3.0, start=3.0)[12:])
