"""Keepalives on the cluster's wall-clock grid (liveness.to_grid), and the repeated keepalive
that tells a sender's stream nothing new: driven by events and a fake clock."""

from __future__ import annotations

import pytest

from messaging.auth import AuthKey, KeyRing
from messaging.effects import ArmTimer, TimerFired
from messaging.heartbeat.core import CoreSettings, HeartbeatCore
from messaging.heartbeat.events import PacketReceived, SendDatagram, Started
from messaging.heartbeat.liveness import Timing, to_grid
from messaging.wire import Data, Envelope, RetransmitRequest, Status, open_datagram, seal

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"test-secret"),))
TIMING = Timing(keepalive=0.2, warntime=0.5, deadtime=1.0, initdead=2.0)
PEER = ("10.0.0.2", 694)


def _core(node: str = "a") -> HeartbeatCore:
    return HeartbeatCore(CoreSettings(node, "test", 1, TIMING, ("eth0",), ("a", "b"), KEYS))


def _keepalive_deadline(effects: list[object]) -> float:
    return next(e.deadline for e in effects if isinstance(e, ArmTimer) and e.key == "keepalive")


def test_two_nodes_started_apart_beat_at_the_same_wall_clock_instants() -> None:
    # each node's monotonic clock has its own origin; their wall clocks agree
    a_first = _keepalive_deadline(_core("a").handle(Started(10.0, 1000.03)))
    b_first = _keepalive_deadline(_core("b").handle(Started(500.0, 1000.17)))
    assert a_first - 10.0 + 1000.03 == pytest.approx(1000.2)
    assert b_first - 500.0 + 1000.17 == pytest.approx(1000.2)
    c_first = _keepalive_deadline(_core("b").handle(Started(7.0, 1000.19)))
    assert c_first - 7.0 + 1000.19 == pytest.approx(1000.4)  # 1000.2 is under 0.02 away


def test_the_grid_goes_on_from_the_deadline_not_from_a_late_fire() -> None:
    core = _core()
    first = _keepalive_deadline(core.handle(Started(10.0, 1000.05)))
    assert first == pytest.approx(10.15)
    late = core.handle(TimerFired("keepalive", first + 0.08, 1000.28))
    assert _keepalive_deadline(late) == pytest.approx(10.35)


def test_after_a_stall_the_node_joins_the_grid_again_without_catch_up_beats() -> None:
    core = _core()
    core.handle(Started(10.0, 1000.05))
    stalled = core.handle(TimerFired("keepalive", 11.02, 1001.07))
    assert len([e for e in stalled if isinstance(e, SendDatagram)]) == 1
    assert _keepalive_deadline(stalled) == pytest.approx(11.15)  # wall 1001.2


@pytest.mark.parametrize(("wall", "expected"), [
    (None, 0.2), (0.0, 0.2), (1000.0, 0.2), (1000.05, 0.15), (1000.19, 0.21),
    (1000.199999, 0.200001)])
def test_to_grid(wall: float | None, expected: float) -> None:
    assert to_grid(wall, 0.2) == pytest.approx(expected)


def _packet(seq: int, message: object, dst: str = "") -> bytes:
    return seal(Envelope("test", "b", 50, seq, dst, message), KEYS.signing_key())


def test_a_repeated_keepalive_is_counted_and_an_open_gap_is_still_asked_for() -> None:
    core = _core()
    core.handle(Started(0.0))
    core.handle(PacketReceived("eth0", _packet(1, Status(0, 1)), PEER, 0.1))
    for seq in range(2, 6):
        core.handle(PacketReceived("eth0", _packet(seq, Status(0, 1)), PEER, 0.1 * seq))
    assert core.counters["rx.keepalive_unchanged"] == 4
    # b's stream moves to 2 while its Data 1 and 2 were lost: the gap is asked for once,
    # the same news again asks nothing, and the rexmit timer asks again
    first = core.handle(PacketReceived("eth0", _packet(6, Status(2, 1)), PEER, 0.6))
    again = core.handle(PacketReceived("eth0", _packet(7, Status(2, 1)), PEER, 0.65))
    assert [_request(e) for e in first if _request(e)] == [(1, 2)]
    assert not [e for e in again if _request(e)]
    timer = core.handle(TimerFired("rexmit", 0.9))
    assert [_request(e) for e in timer if _request(e)] == [(1, 2)]
    delivered = core.handle(PacketReceived("eth0", _packet(8, Data(1, "ccm", b"x")), PEER, 1.0))
    assert [e.event.payload for e in delivered if hasattr(e, "event")] == [b"x"]


def _request(effect: object) -> tuple[int, int] | None:
    if not isinstance(effect, SendDatagram):
        return None
    message = open_datagram(effect.data, KEYS).message
    return (message.first, message.last) if isinstance(message, RetransmitRequest) else None
