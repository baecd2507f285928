"""The heartbeat core on an in-memory network with a fake clock: liveness, late/dead
detection, restarts, replay rejection and reliable ordered delivery under loss."""

from __future__ import annotations

import pytest

from lab.sim import Simulation, heartbeat_simulation
from messaging.auth import AuthKey, KeyRing
from messaging.effects import ArmTimer, Persist, TimerFired
from messaging.heartbeat.api import LinkState, MessageReceived, NodeState, NodeStatusChanged
from messaging.heartbeat.core import HOSTCACHE, CoreSettings, HeartbeatCore
from messaging.heartbeat.events import PacketReceived, SendDatagram, SendRequest, Started
from messaging.heartbeat.liveness import Timing
from messaging.wire import Envelope, Status, seal

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"test-secret"),))
TIMING = Timing(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=10.0)


def events(net: Simulation, observer: str) -> list[object]:
    return net.daemon(observer, "heartbeat").published


def statuses(net: Simulation, observer: str, node: str) -> list[tuple[str, float]]:
    return [(e.status.value, e.now) for e in net.daemon(observer, "heartbeat").published
            if isinstance(e, NodeStatusChanged) and e.node == node]


def messages(net: Simulation, observer: str) -> list[MessageReceived]:
    return [e for e in events(net, observer) if isinstance(e, MessageReceived)]


def test_nodes_come_up_and_a_killed_node_goes_late_then_dead() -> None:
    net = heartbeat_simulation(["a", "b", "c"], KEYS, TIMING)
    net.start()
    net.run_for(2)
    assert statuses(net, "a", "b") == [("up", pytest.approx(0.001))]
    net.kill("c")
    killed_at = net.now
    net.run_for(10)
    seen = statuses(net, "a", "c")
    assert [s for s, _ in seen] == ["up", "late", "dead"]
    late_at, dead_at = seen[1][1], seen[2][1]
    # last heartbeat from c was at most one keepalive before the kill
    latency = 0.01
    assert killed_at + TIMING.warntime - TIMING.keepalive <= late_at
    assert late_at <= killed_at + TIMING.warntime + latency
    assert killed_at + TIMING.deadtime - TIMING.keepalive <= dead_at
    assert dead_at <= killed_at + TIMING.deadtime + latency
    assert any(log.event == "heartbeat_late" and log.level == "warning"
               for log in net.daemon("a", "heartbeat").log.records)
    table = net.core("a", "heartbeat").table(net.now)
    assert table.status_of("c") is NodeState.DEAD and table.status_of("b") is NodeState.UP


def test_never_heard_node_is_declared_dead_at_initdead_not_before() -> None:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start("a")
    net.run_for(9.9)
    assert statuses(net, "a", "b") == []
    assert net.core("a", "heartbeat").table(net.now).status_of("b") is NodeState.DEAD
    net.run_for(0.2)
    assert statuses(net, "a", "b") == [("dead", pytest.approx(10.0))]


def test_node_alive_while_any_link_hears_it() -> None:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING, links=("eth0", "eth1"))
    net.start()
    net.run_for(2)
    net.network.cut("a", "b", "eth0", both=True)
    net.run_for(8)
    last = [e for e in events(net, "a") if isinstance(e, NodeStatusChanged)][-1]
    assert last.node == "b" and last.status is NodeState.UP
    assert last.links == {"eth0": LinkState.DEAD, "eth1": LinkState.UP}
    before = net.core("a", "heartbeat").counters["rx.duplicate"]
    net.run_for(2)
    assert net.core("a", "heartbeat").counters["rx.duplicate"] == before  # eth0 cut: no copies
    net.network.uncut("a", "b", "eth0", both=True)
    net.run_for(2)
    assert net.core("a", "heartbeat").counters["rx.duplicate"] > before  # one packet, two links
    last = [e for e in events(net, "a") if isinstance(e, NodeStatusChanged)][-1]
    assert last.links == {"eth0": LinkState.UP, "eth1": LinkState.UP}
    assert {s for s, _ in statuses(net, "a", "b")} == {"up"}


def test_restart_is_seen_as_a_new_generation() -> None:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start()
    net.run_for(2)
    old = net.core("b", "heartbeat").settings.generation
    net.kill("b")
    net.run_for(0.5)
    net.start("b")
    net.run_for(2)
    changes = [e for e in net.daemon("a", "heartbeat").published if isinstance(e, NodeStatusChanged)
               and e.node == "b"]
    assert [(e.status.value, e.generation > old) for e in changes] == [("up", False), ("up", True)]
    assert any(log.event == "node_restarted" for log in net.daemon("a", "heartbeat").log.records)


def test_clean_stop_marks_node_dead_at_once() -> None:
    from messaging.heartbeat.events import Stopping

    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start()
    net.run_for(2)
    net.feed("b", "heartbeat", Stopping(net.now))
    net.kill("b")
    net.run_for(0.1)
    assert statuses(net, "a", "b")[-1][0] == "dead"


def test_messages_broadcast_and_unicast_in_order_including_self() -> None:
    net = heartbeat_simulation(["a", "b", "c"], KEYS, TIMING)
    net.start()
    net.run_for(1.5)
    for i in range(5):
        net.feed("a", "heartbeat", SendRequest("*", "ccm", f"m{i}".encode(), net.now))
    net.feed("a", "heartbeat", SendRequest("b", "ccm", b"only-b", net.now))
    net.run_for(1)
    assert [m.payload for m in messages(net, "b")] == [b"m0", b"m1", b"m2", b"m3", b"m4",
                                                       b"only-b"]
    assert [m.payload for m in messages(net, "c")] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert [m.payload for m in messages(net, "a")] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert messages(net, "b")[-1].broadcast is False
    assert {m.src for m in messages(net, "c")} == {"a"}


def test_large_message_is_fragmented_and_reassembled() -> None:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start()
    net.run_for(1.5)
    payload = bytes(range(256)) * 400  # 100 KiB
    net.feed("a", "heartbeat", SendRequest("*", "cib", payload, net.now))
    net.run_for(1)
    assert max(len(d) for _, _, _, d in net.wire_log) <= 1400
    assert [m.payload for m in messages(net, "b")] == [payload]


@pytest.mark.parametrize("seed", range(6))
def test_reliable_ordered_delivery_despite_loss_duplicates_and_reordering(seed: int) -> None:
    net = heartbeat_simulation(["a", "b", "c"], KEYS, TIMING, seed=seed)
    net.start()
    net.run_for(2)  # streams are established (first contact) before the network degrades
    net.network.links["eth0"].drop = 0.3
    net.network.links["eth0"].duplicate = 0.2
    net.network.links["eth0"].jitter = 0.05
    sent = [f"{seed}-{i}".encode() * (1 + i % 7) * 100 for i in range(40)]
    for payload in sent:
        net.feed("a", "heartbeat", SendRequest("*", "ccm", payload, net.now))
        net.run_for(0.01)
    net.network.links["eth0"].drop = 0.0
    net.run_for(5)
    for observer in ("b", "c"):
        assert [m.payload for m in messages(net, observer)] == sent
        counters = net.core(observer, "heartbeat").counters
        assert counters["rexmit.requested"] > 0
        assert counters["messages.lost"] == 0


def test_lost_last_message_is_recovered_from_the_next_status() -> None:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start()
    net.run_for(1.5)
    net.network.cut("a", "b", both=True)
    net.feed("a", "heartbeat", SendRequest("*", "ccm", b"lost-once", net.now))
    net.run_for(0.1)
    net.network.uncut("a", "b", both=True)
    net.run_for(1.2)  # the next keepalive says "last_mseq 1"; b asks, a resends
    assert [m.payload for m in messages(net, "b")] == [b"lost-once"]


def test_history_gone_means_skip_and_count_lost() -> None:
    from messaging.heartbeat import stream

    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start()
    net.run_for(1.5)
    net.network.cut("a", "b", both=True)
    for i in range(stream.HISTORY_MESSAGES + 10):
        net.feed("a", "heartbeat", SendRequest("*", "x", str(i).encode(), net.now))
    net.network.uncut("a", "b", both=True)
    net.run_for(3)
    got = messages(net, "b")
    assert net.core("b", "heartbeat").counters["messages.lost"] == 10
    assert got[0].payload == b"10" and len(got) == stream.HISTORY_MESSAGES


def _core(name: str = "a") -> HeartbeatCore:
    settings = CoreSettings(name, "test", 1, TIMING, ("eth0",), ("a", "b"), KEYS)
    core = HeartbeatCore(settings)
    core.handle(Started(0.0))
    return core


def _packet(seq: int, generation: int = 50, src: str = "b", cluster: str = "test") -> bytes:
    return seal(Envelope(cluster, src, generation, seq, "", Status(0, 1)), KEYS.signing_key())


def test_replayed_duplicate_and_old_generation_packets_are_rejected() -> None:
    core = _core()
    addr = ("10.0.0.2", 694)
    first = _packet(1)
    core.handle(PacketReceived("eth0", first, addr, 1.0))
    core.handle(PacketReceived("eth0", first, addr, 1.1))
    core.handle(PacketReceived("eth0", _packet(2, generation=51), addr, 1.2))
    core.handle(PacketReceived("eth0", _packet(9, generation=50), addr, 1.3))
    core.handle(PacketReceived("eth0", _packet(3, cluster="other"), addr, 1.4))
    core.handle(PacketReceived("eth0", _packet(3, src="mallory"), addr, 1.5))
    c = core.counters
    assert (c["rejected.duplicate"], c["rejected.old_generation"], c["rejected.wrong_cluster"],
            c["rejected.unknown_node"], c["rx.accepted"]) == (1, 1, 1, 1, 2)


def test_replayed_packet_does_not_keep_a_dead_link_alive() -> None:
    core = _core()
    addr = ("10.0.0.2", 694)
    recorded = _packet(1)
    core.handle(PacketReceived("eth0", recorded, addr, 1.0))
    effects = []
    for t in range(2, 9):  # an attacker replays the recording every second
        effects += core.handle(PacketReceived("eth0", recorded, addr, float(t)))
        effects += core.handle(TimerFired("check", float(t)))
    assert core.table(8.0).status_of("b") is NodeState.DEAD
    assert core.counters["rejected.duplicate"] == 7


def test_timers_and_heartbeat_effects() -> None:
    settings = CoreSettings("a", "test", 1, TIMING, ("eth0", "eth1"), ("a", "b"), KEYS)
    effects = HeartbeatCore(settings).handle(Started(100.0))
    sends = [e for e in effects if isinstance(e, SendDatagram)]
    assert [(s.link, s.dest) for s in sends] == [("eth0", None), ("eth1", None)]
    arms = {e.key: e.deadline for e in effects if isinstance(e, ArmTimer)}
    assert arms == {"keepalive": 101.0, "check": 110.0}


def test_autojoined_node_is_persisted_as_the_host_cache() -> None:
    settings = CoreSettings("a", "test", 1, TIMING, ("eth0",), ("a",), KEYS, autojoin="other")
    core = HeartbeatCore(settings)
    core.handle(Started(0.0))
    effects = core.handle(PacketReceived("eth0", _packet(1), ("10.0.0.2", 694), 1.0))
    assert Persist(HOSTCACHE, b"a\nb\n") in effects
    again = core.handle(PacketReceived("eth0", _packet(2), ("10.0.0.2", 694), 2.0))
    assert not [e for e in again if isinstance(e, Persist)]  # only when the set grows


def test_listed_nodes_are_not_persisted() -> None:
    effects = _core().handle(PacketReceived("eth0", _packet(1), ("10.0.0.2", 694), 1.0))
    assert not [e for e in effects if isinstance(e, Persist) and e.name == HOSTCACHE]


def test_send_refusals() -> None:
    core = _core()
    assert core.check_send("zed", "ccm", b"") == "unknown node 'zed'"
    assert core.check_send("*", "", b"") is not None
    assert core.check_send("*", "ccm", bytes(2 << 20)) is not None
    assert core.handle(SendRequest("zed", "ccm", b"x", 1.0))[0].event == "send_refused"
    assert core.counters["messages.refused"] == 1


def test_node_returning_after_partition_keeps_generation_and_catches_up() -> None:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start()
    net.run_for(1.5)
    net.network.cut("a", "b", both=True)
    net.feed("a", "heartbeat", SendRequest("*", "ccm", b"during-partition", net.now))
    net.run_for(TIMING.deadtime + 1)
    assert statuses(net, "b", "a")[-1][0] == "dead"
    net.network.uncut("a", "b", both=True)
    net.run_for(2)
    back = [e for e in events(net, "b") if isinstance(e, NodeStatusChanged)][-1]
    assert back.status is NodeState.UP
    assert back.generation == net.core("a", "heartbeat").settings.generation  # same incarnation
    assert [m.payload for m in messages(net, "b")] == [b"during-partition"]


def test_real_heartbeat_packets_are_rejected_cleanly(shared: object) -> None:
    from pathlib import Path

    capture = Path(str(shared)) / "reference" / "heartbeat-captures" / "ucast-sha1.pcap"
    raw = capture.read_bytes()
    core = _core()
    start = 0
    fed = 0
    while (found := raw.find(b"###\n", start)) >= 0:
        end = raw.find(b"###\n", found + 4)
        core.handle(PacketReceived("eth0", raw[found:end if end > 0 else None],
                                   ("10.88.0.12", 694), 1.0))
        start, fed = found + 4, fed + 1
    assert fed > 20
    assert core.counters["rejected.bad_magic"] == fed
    assert core.counters["rx.accepted"] == 0


def test_key_rotation_after_reload() -> None:
    from messaging.heartbeat.events import KeysReloaded

    core = _core()
    addr = ("10.0.0.2", 694)
    old_key, new_key = KEYS.signing_key(), AuthKey(2, "sha1", b"rotated")

    def packet(seq: int, key: AuthKey) -> bytes:
        return seal(Envelope("test", "b", 50, seq, "", Status(0, 1)), key)

    core.handle(PacketReceived("eth0", packet(1, new_key), addr, 1.0))
    assert core.counters["rejected.unknown_key"] == 1
    core.handle(KeysReloaded(KeyRing(2, (old_key, new_key)), 1.5))
    core.handle(PacketReceived("eth0", packet(2, new_key), addr, 2.0))
    core.handle(PacketReceived("eth0", packet(3, old_key), addr, 2.1))  # both accepted
    assert core.counters["rx.accepted"] == 2
    sent = [e for e in core.handle(TimerFired("keepalive", 3.0)) if isinstance(e, SendDatagram)]
    assert sent[0].data[3] == 2  # now signed with index 2
    core.handle(KeysReloaded(KeyRing(2, (new_key,)), 4.0))
    core.handle(PacketReceived("eth0", packet(4, old_key), addr, 4.1))
    assert core.counters["rejected.unknown_key"] == 2


@pytest.mark.parametrize(("keepalive", "warntime", "deadtime", "run"),
                         [(0.1, 0.3, 0.7, 1.3), (0.2, 0.6, 1.0, 2.7), (1.0, 3.0, 5.0, 2.0),
                          (0.3, 0.9, 1.1, 0.1)])
def test_lone_peer_death_is_detected_with_awkward_float_times(
        keepalive: float, warntime: float, deadtime: float, run: float) -> None:
    # Regression: with no other traffic only the check timer can notice; a timer firing at
    # last_heard + deadtime computed a silence a hair below deadtime and never re-armed.
    timing = Timing(keepalive, warntime, deadtime, 2 * deadtime)
    net = heartbeat_simulation(["a", "b"], KEYS, timing)
    net.start()
    net.run_for(run)
    net.kill("b")
    killed = net.now
    net.run_for(deadtime + keepalive + 0.01)
    seen = [s for s, _ in statuses(net, "a", "b")]
    assert seen == ["up", "late", "dead"]
    assert statuses(net, "a", "b")[-1][1] <= killed + deadtime + 0.01


def test_packet_older_than_the_window_does_not_revive_a_silent_link() -> None:
    from messaging.heartbeat.core import SEQ_WINDOW

    settings = CoreSettings("a", "test", 1, TIMING, ("eth0", "eth1"), ("a", "b"), KEYS)
    core = HeartbeatCore(settings)
    core.handle(Started(0.0))
    addr = ("10.0.0.2", 694)
    recorded = _packet(5)  # captured early; eth1 never carried anything
    for seq in range(1, SEQ_WINDOW + 10):
        core.handle(PacketReceived("eth0", _packet(seq), addr, 1.0))
    core.handle(PacketReceived("eth1", recorded, addr, 1.1))
    assert core.counters["rejected.replay"] == 1
    assert core.table(1.2).nodes[1].links == {"eth0": LinkState.UP, "eth1": LinkState.DEAD}


def test_message_to_self_is_delivered_locally_only() -> None:
    core = _core()
    effects = core.handle(SendRequest("a", "ccm", b"me", 1.0))
    assert not [e for e in effects if isinstance(e, SendDatagram)]
    delivered = [e.event for e in effects if isinstance(getattr(e, "event", None),
                                                       MessageReceived)]
    assert delivered == [MessageReceived("a", "ccm", b"me", 1, False)]
