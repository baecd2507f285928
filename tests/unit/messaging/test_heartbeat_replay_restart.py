"""Issue 8 defect 2: a restarted receiver must not believe packets captured before it
restarted, and a node's packets must come from that node's addresses.

The scenario of the issue, in the simulator (lab.sim): packets of c are recorded, c dies,
b's heartbeat restarts (kill and start: it reads back the marks it persisted), and the
recording is replayed to b (from a's address, and from c's).
"""

from __future__ import annotations

from lab.sim import Simulation, heartbeat_simulation, inject_datagram
from messaging.auth import AuthKey, KeyRing
from messaging.config import parse_ha_cf
from messaging.effects import Persist, TimerFired
from messaging.heartbeat.api import NodeState, NodeStatusChanged
from messaging.heartbeat.core import PEERS, CoreSettings, HeartbeatCore
from messaging.heartbeat.events import PacketReceived, SendDatagram, Started, Stopping
from messaging.heartbeat.liveness import Timing
from messaging.heartbeat.peers import MARK_AHEAD, PeerMark, decode_marks, encode_marks
from messaging.wire import Envelope, RetransmitRequest, Status, open_datagram, seal

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"test-secret"),))
TIMING = Timing(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=10.0)


def _recorded_from(net: Simulation, sender: str) -> list[tuple[str, bytes]]:
    return [(link, data) for _, src, link, data in net.wire_log if src == sender]


def _seen_up(net: Simulation, observer: str, node: str) -> bool:
    return any(isinstance(e, NodeStatusChanged) and e.node == node
               and e.status is NodeState.UP
               for e in net.daemon(observer, "heartbeat").published)


def _restart(net: Simulation, name: str) -> None:
    net.kill(name)
    net.start(name)


def _replay_after_restart(from_address: str) -> Simulation:
    net = heartbeat_simulation(["a", "b", "c"], KEYS, TIMING)
    net.start()
    net.run_for(8)
    captured = _recorded_from(net, "c")
    assert len(captured) >= 8
    net.kill("c")
    net.run_for(TIMING.deadtime + 2)
    _restart(net, "b")
    net.daemon("b", "heartbeat").published.clear()
    for link, data in captured:
        inject_datagram(net, "b", link, data, from_address)
    # a's first keepalive may still be under b's restored floor (it jumps past it once it
    # hears b's new generation, peers.MARK_AHEAD): the next one must count
    net.run_for(2 * TIMING.keepalive)
    return net


def test_replay_after_receiver_restart_is_rejected() -> None:
    net = _replay_after_restart("10.0.0.3")  # from c's own address
    core = net.core("b", "heartbeat")
    assert core.counters["rx.accepted"] > 0  # a's live packets still count
    assert not _seen_up(net, "b", "c")
    assert core.table(net.now).status_of("c") is NodeState.DEAD
    assert core.counters["rejected.replay"] + core.counters["rejected.old_generation"] > 0
    assert not any(log.event == "node_discovered" and log.fields["node"] == "c"
                   for log in net.daemon("b", "heartbeat").log.records)


def test_replay_from_another_nodes_address_is_rejected_even_without_marks() -> None:
    net = heartbeat_simulation(["a", "b", "c"], KEYS, TIMING)
    net.start()
    net.run_for(8)
    captured = _recorded_from(net, "c")
    net.kill("c")
    net.run_for(TIMING.deadtime + 2)
    net.daemon("b", "heartbeat").published.clear()
    for link, data in captured:  # as in the issue: replayed from a's address
        inject_datagram(net, "b", link, data, "10.0.0.1")
    net.run_for(1)
    assert not _seen_up(net, "b", "c")
    assert net.core("b", "heartbeat").counters["rejected.wrong_address"] > 0


def test_restarted_receiver_still_hears_live_peers() -> None:
    net = heartbeat_simulation(["a", "b"], KEYS, TIMING)
    net.start()
    net.run_for(5)
    _restart(net, "b")
    net.run_for(3)
    assert net.core("b", "heartbeat").table(net.now).status_of("a") is NodeState.UP
    _restart(net, "a")  # a restarted sender (new generation) is welcome again
    net.run_for(3)
    assert net.core("b", "heartbeat").table(net.now).status_of("a") is NodeState.UP


def _core(**extra: object) -> HeartbeatCore:
    settings = CoreSettings("a", "test", 1, TIMING, ("eth0",), ("a", "b"), KEYS,
                            **extra)  # type: ignore[arg-type]
    core = HeartbeatCore(settings)
    core.handle(Started(0.0))
    return core


def _packet(seq: int, generation: int = 50) -> bytes:
    return seal(Envelope("test", "b", generation, seq, "", Status(0, 1)), KEYS.signing_key())


def _saved_marks(effects: list[object]) -> list[tuple[PeerMark, ...]]:
    return [decode_marks(e.data.decode()) for e in effects
            if isinstance(e, Persist) and e.name == PEERS]


def test_marks_are_written_ahead_and_rewritten_only_near_the_mark() -> None:
    core = _core()
    addr = ("10.0.0.2", 694)
    first = core.handle(PacketReceived("eth0", _packet(7), addr, 0.5))
    assert _saved_marks(first) == [(PeerMark("b", 50, 7 + MARK_AHEAD, (("eth0", "10.0.0.2"),)),)]
    assert not _saved_marks(core.handle(TimerFired("keepalive", 1.0)))  # not per keepalive
    below = 7 + MARK_AHEAD // 2  # the last seq that does not bring the mark due
    assert not _saved_marks(core.handle(PacketReceived("eth0", _packet(below), addr, 1.5)))
    due = core.handle(PacketReceived("eth0", _packet(below + 1), addr, 1.6))
    assert [m[0].seq for m in _saved_marks(due)] == [below + 1 + MARK_AHEAD]
    assert _saved_marks(core.handle(Stopping(2.5)))


def test_a_crash_after_the_last_write_still_refuses_everything_accepted() -> None:
    """The receiver accepts up to just before the mark is due, crashes without writing
    again, restarts from the marks on disk: none of what it accepted is believed again."""
    core = _core()
    addr = ("10.0.0.2", 694)
    written = _saved_marks(core.handle(PacketReceived("eth0", _packet(1), addr, 0.5)))[-1]
    for seq in range(2, MARK_AHEAD // 2 + 2):
        assert not _saved_marks(core.handle(PacketReceived("eth0", _packet(seq), addr, 1.0)))
    restarted = _core(known_peers=written)
    for seq in (1, MARK_AHEAD // 2 + 1, MARK_AHEAD + 1):
        restarted.handle(PacketReceived("eth0", _packet(seq), addr, 2.0))
    assert restarted.counters["rx.accepted"] == 0
    assert restarted.counters["rejected.replay"] == 3


def test_a_sender_jumps_its_seq_past_a_restarted_peers_mark() -> None:
    core = _core()
    addr = ("10.0.0.2", 694)
    core.handle(PacketReceived("eth0", _packet(1), addr, 0.5))
    before = _sent_seq(core.handle(TimerFired("keepalive", 1.0)))
    core.handle(PacketReceived("eth0", _packet(1, generation=51), addr, 1.5))  # b restarted
    after = _sent_seq(core.handle(TimerFired("keepalive", 2.0)))
    assert after > before + MARK_AHEAD  # above any floor b can have written for us


def _sent_seq(effects: list[object]) -> int:
    sent = [e for e in effects if isinstance(e, SendDatagram)]
    return open_datagram(sent[0].data, KEYS).seq


def test_restored_marks_set_the_replay_floor() -> None:
    mark = PeerMark("b", 50, 7, (("eth0", "10.0.0.2"),))
    core = _core(known_peers=(mark,))
    addr = ("10.0.0.2", 694)
    for seq in (1, 7):
        core.handle(PacketReceived("eth0", _packet(seq), addr, 1.0))
    core.handle(PacketReceived("eth0", _packet(3, generation=49), addr, 1.0))
    assert core.counters["rx.accepted"] == 0
    core.handle(PacketReceived("eth0", _packet(8), addr, 1.1))
    assert core.counters["rx.accepted"] == 1


def test_ucast_links_accept_only_configured_peer_addresses() -> None:
    config = parse_ha_cf("cluster_name test\nucast eth0 10.0.0.1\nucast eth0 10.0.0.2\nnode a b\n")
    settings = CoreSettings.from_config(config, "a", 1, KEYS)
    core = HeartbeatCore(settings)
    core.handle(Started(0.0))
    core.handle(PacketReceived("eth0", _packet(1), ("10.0.0.9", 694), 1.0))
    assert core.counters["rejected.unknown_address"] == 1
    core.handle(PacketReceived("eth0", _packet(2), ("10.0.0.2", 694), 1.0))
    assert core.counters["rx.accepted"] == 1


def test_a_node_may_move_address_only_with_a_new_generation_after_dying() -> None:
    core = _core()
    core.handle(PacketReceived("eth0", _packet(1), ("10.0.0.2", 694), 1.0))
    core.handle(PacketReceived("eth0", _packet(2), ("10.0.0.7", 694), 1.5))
    core.handle(PacketReceived("eth0", _packet(1, generation=60), ("10.0.0.7", 694), 2.0))
    assert core.counters["rejected.wrong_address"] == 2  # b is up: no move allowed
    core.handle(PacketReceived("eth0", _packet(1, generation=60), ("10.0.0.7", 694), 9.0))
    assert core.counters["rx.accepted"] == 2


def test_marks_survive_encoding_and_garbage_is_ignored() -> None:
    marks = [PeerMark("b", 50, 7, (("eth0", "10.0.0.2"),)), PeerMark("c", 1, 0)]
    assert decode_marks(encode_marks(marks)) == tuple(marks)
    for garbage in ["", "{", "[1, 2]", '[{"node": "b", "generation": -1, "seq": 0}]',
                    '[{"node": "b", "generation": true, "seq": 0}]', "null",
                    '[{"node": "\\u0000", "generation": 1, "seq": 0}]']:
        assert decode_marks(garbage) == ()


def test_autojoin_admits_host_names_only() -> None:
    """Issue 8 defect 5: names reach logs, the hostcache and the CIB."""
    core = _core(autojoin="any")
    for src in ["../../etc/x", "a\x01b", "-x"]:
        envelope = Envelope("test", src, 50, 1, "", Status(0, 1))
        core.handle(PacketReceived("eth0", seal(envelope, KEYS.signing_key()),
                                   ("10.0.0.9", 694), 1.0))
    assert core.counters["rejected.unknown_node"] == 3
    good = Envelope("test", "n9.example", 50, 1, "", Status(0, 1))
    core.handle(PacketReceived("eth0", seal(good, KEYS.signing_key()), ("10.0.0.9", 694), 1.0))
    assert core.counters["rx.accepted"] == 1


def test_a_packet_sent_before_a_jump_and_overtaken_is_still_accepted() -> None:
    core = _core()
    addr = ("10.0.0.2", 694)
    for seq in (10, 11 + MARK_AHEAD, 11):  # 11 left before the jump, arrives after
        core.handle(PacketReceived("eth0", _packet(seq), addr, 1.0))
    assert core.counters["rx.accepted"] == 3


def _stream_packet(seq: int, generation: int, last_mseq: int) -> bytes:
    """b's keepalive: its data stream is at `last_mseq` (all still available from 1)."""
    return seal(Envelope("test", "b", generation, seq, "", Status(last_mseq, 1)),
                KEYS.signing_key())


def _requests(effects: list[object]) -> list[RetransmitRequest]:
    sent = [open_datagram(e.data, KEYS) for e in effects if isinstance(e, SendDatagram)]
    return [m.message for m in sent if isinstance(m.message, RetransmitRequest)]


def test_a_peer_known_only_from_the_marks_is_first_heard_where_it_is() -> None:
    """Both restarted (a cold boot): b's messages sent before a first heard its new
    generation are no gap to fill, as for a node never heard (Heartbeat likewise restarts
    its sequence tracking at a new generation's first packet)."""
    mark = PeerMark("b", 50, 7, (("eth0", "10.0.0.2"),))
    core = _core(known_peers=(mark,))
    addr = ("10.0.0.2", 694)
    effects = core.handle(PacketReceived("eth0", _stream_packet(1, 51, 40), addr, 0.5))
    assert _requests(effects) == []
    assert core.counters["rexmit.requested"] == 0


def test_a_peer_restarting_while_heard_has_its_new_stream_filled_from_the_start() -> None:
    core = _core()
    addr = ("10.0.0.2", 694)
    core.handle(PacketReceived("eth0", _stream_packet(1, 50, 0), addr, 0.5))
    effects = core.handle(PacketReceived("eth0", _stream_packet(1, 51, 40), addr, 1.5))
    assert [(r.first, r.last) for r in _requests(effects)] == [(1, 40)]
