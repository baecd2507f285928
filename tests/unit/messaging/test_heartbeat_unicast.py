"""Addressed messages go to their node alone (unicast), and the other receivers step over
their sequence numbers without asking for them; order and exactly-once delivery hold."""

from __future__ import annotations

import pytest

from lab.sim import Simulation, heartbeat_simulation
from messaging.auth import AuthKey, KeyRing
from messaging.heartbeat.api import MessageReceived
from messaging.heartbeat.core import CoreSettings, HeartbeatCore
from messaging.heartbeat.direct import MAX_PENDING
from messaging.heartbeat.events import SendDatagram, SendRequest, Started
from messaging.heartbeat.liveness import Timing
from messaging.heartbeat.stream import Delivery, InStream, Sent
from messaging.wire import Data, Skip

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"test-secret"),))
TIMING = Timing(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=10.0)


def payloads(net: Simulation, observer: str) -> list[bytes]:
    return [e.payload for e in net.daemon(observer, "heartbeat").published
            if isinstance(e, MessageReceived)]


def counter(net: Simulation, node: str, name: str) -> int:
    return net.core(node, "heartbeat").counters[name]


def started(names: list[str], seed: int = 0) -> Simulation:
    net = heartbeat_simulation(names, KEYS, TIMING, seed=seed)
    net.start()
    net.run_for(1.5)  # every node heard every other: their addresses are known
    return net


def test_an_addressed_message_reaches_only_its_node_and_others_do_not_ask_for_it() -> None:
    net = started(["a", "b", "c"])
    before = {n: counter(net, n, "rx.packets") for n in ("b", "c")}
    for i in range(4):
        net.feed("a", "heartbeat", SendRequest("b", "ccm", f"to-b{i}".encode(), net.now))
        net.feed("a", "heartbeat", SendRequest("*", "ccm", f"all{i}".encode(), net.now))
    net.feed("a", "heartbeat", SendRequest("b", "ccm", b"last-to-b", net.now))
    net.run_for(0.3)  # before the next keepalive: only the messages themselves arrived
    got = {n: counter(net, n, "rx.packets") - before[n] for n in ("b", "c")}
    assert got == {"b": 9, "c": 4}  # c never received the five datagrams addressed to b
    assert payloads(net, "b") == [b"to-b0", b"all0", b"to-b1", b"all1", b"to-b2", b"all2",
                                  b"to-b3", b"all3", b"last-to-b"]
    assert payloads(net, "c") == [b"all0", b"all1", b"all2", b"all3"]
    net.run_for(3)  # the keepalives' Status names the last one: c steps over it
    assert counter(net, "c", "rexmit.requested") == 0
    assert counter(net, "b", "rexmit.requested") == 0
    net.feed("a", "heartbeat", SendRequest("*", "ccm", b"after", net.now))
    net.run_for(0.1)
    assert payloads(net, "c")[-1] == b"after"  # no gap was left open


@pytest.mark.parametrize("seed", range(5))
def test_order_and_exactly_once_hold_for_mixed_traffic_under_loss(seed: int) -> None:
    net = started(["a", "b", "c", "d"], seed)
    link = net.network.links["eth0"]
    link.drop, link.duplicate, link.jitter = 0.3, 0.2, 0.05
    targets = ["b", "*", "c", "c", "*", "d", "b", "b", "*"]
    sent = []
    for i in range(60):
        dst = targets[(i * 7 + seed) % len(targets)]
        payload = f"{seed}-{i}-{dst}".encode() * (1 + i % 5) * 60  # some are fragmented
        sent.append((dst, payload))
        net.feed("a", "heartbeat", SendRequest(dst, "ccm", payload, net.now))
        net.run_for(0.01)
    link.drop = 0.0
    net.run_for(6)
    for observer in ("b", "c", "d"):
        assert payloads(net, observer) == [p for d, p in sent if d in ("*", observer)]
        assert counter(net, observer, "messages.lost") == 0


def test_a_node_never_heard_from_gets_its_messages_by_broadcast() -> None:
    names = ("b", "c")
    core = HeartbeatCore(CoreSettings("a", "test", 1, TIMING, ("eth0",), names, KEYS))
    core.handle(Started(0.0))
    effects = core.handle(SendRequest("b", "ccm", b"x", 0.1))
    assert [e.dest for e in effects if isinstance(e, SendDatagram)] == [None]


def test_too_many_unannounced_runs_fall_back_to_broadcast_and_carry_them() -> None:
    net = started(["a", "b", "c"])
    sent = []
    for i in range(3 * MAX_PENDING):  # b, c, b, c...: every message is a run of its own
        dst = "bc"[i % 2]
        sent.append((dst, f"m{i}".encode()))
        net.feed("a", "heartbeat", SendRequest(dst, "attrd", sent[-1][1], net.now))
    net.run_for(2)
    for observer in ("b", "c"):
        assert payloads(net, observer) == [p for d, p in sent if d == observer]
        assert counter(net, observer, "rexmit.requested") == 0
    assert max(len(d) for _, _, _, d in net.wire_log) <= 1400


def test_note_skips_releases_what_waited_behind_fragments_for_others() -> None:
    stream = InStream("me")
    assert stream.on_data(Sent("", Data(1, "c", b"one"))) == [Delivery("c", b"one", True)]
    assert stream.on_data(Sent("", Data(4, "c", b"four"))) == []  # 2 and 3 not seen
    assert stream.note_skips((Skip("other", 2, 2),)) == []  # 3 still missing
    assert stream.gap() == (3, 3)
    assert stream.note_skips((Skip("me", 3, 3),)) == []  # ours: it must come, not be skipped
    assert stream.note_skips((Skip("else", 3, 3),)) == [Delivery("c", b"four", True)]
    assert stream.gap() is None
