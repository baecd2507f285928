"""The receive stream on its own: ordering, gaps, skips and messages joined mid-way."""

from __future__ import annotations

from messaging.heartbeat.stream import Delivery, InStream, OutStream, Sent
from messaging.wire import Data


def test_fragments_number_consecutively_with_index_and_more() -> None:
    out = OutStream(chunk_size=4)
    sent = out.fragments("", "c", b"abcdefghij")
    assert [(s.data.mseq, s.data.chunk, s.data.more, s.data.index) for s in sent] == [
        (1, b"abcd", True, 0), (2, b"efgh", True, 1), (3, b"ij", False, 2)]
    assert out.fragments("n2", "c", b"")[0].data == Data(4, "c", b"", False, 0)
    assert [s.data.mseq for s in out.resend(2, 9)] == [2, 3, 4]


def test_joining_mid_message_drops_that_message_whole() -> None:
    stream = InStream("me")
    assert stream.on_data(Sent("", Data(5, "c", b"mid", True, 3))) == []
    assert stream.on_data(Sent("", Data(6, "c", b"end", False, 4))) == []
    assert stream.torn == 1
    assert stream.on_data(Sent("", Data(7, "c", b"new", False, 0))) == [
        Delivery("c", b"new", True)]


def test_skip_over_lost_history_never_delivers_a_truncated_message() -> None:
    stream = InStream("me")
    stream.on_status(0, 1)  # first contact: expect mseq 1
    assert stream.on_data(Sent("", Data(1, "c", b"head", True, 0))) == []
    assert stream.gap() is None
    stream.on_status(9, 1)
    assert stream.gap() == (2, 9)
    assert stream.on_data(Sent("", Data(4, "c", b"tail", False, 3))) == []  # buffered
    assert stream.skip_to(4) == []  # 2 and 3 are gone: the message is torn
    assert (stream.lost, stream.torn) == (2, 1)
    assert stream.on_data(Sent("me", Data(5, "c", b"next", False, 0))) == [
        Delivery("c", b"next", False)]


def test_messages_for_other_nodes_advance_but_are_not_delivered() -> None:
    stream = InStream("me")
    stream.on_status(0, 1)
    assert stream.on_data(Sent("other", Data(1, "c", b"x", False, 0))) == []
    assert stream.on_data(Sent("", Data(2, "c", b"y", False, 0))) == [Delivery("c", b"y", True)]
    assert stream.expected == 3
