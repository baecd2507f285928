"""The packet forger against the heartbeat core, in the simulator (lab.sim, exact time).

Three nodes a, b, c run; c is killed; an attacker then hands b forged datagrams of one
kind per probe (`lab.sim.inject_datagram`, from c's own address). Outcomes: every forged
datagram is counted as rejected by b (none accepted, none delivered, c never seen up
again), `handle` never raises, and after the fault b's view is right within deadtime +
1 keepalive (a up, c dead). A restart of b is a kill and a start: b reads back the
replay marks it persisted, as the service does.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import msgpack
import pytest

from lab.sim import Simulation, heartbeat_simulation, inject_datagram
from messaging.auth import AuthKey, KeyRing
from messaging.heartbeat.api import MessageReceived, NodeState, NodeStatusChanged
from messaging.heartbeat.liveness import Timing
from messaging.wire import Data, Envelope, Status, seal
from tests.adversarial.conftest import Tally

pytestmark = pytest.mark.adversarial

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"cluster-secret"),))
ATTACKER = KeyRing(1, (AuthKey(1, "hmac-sha256", b"guessed-secret"),))
TIMING = Timing(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=10.0)

Forge = Callable[[random.Random, list[bytes], int], list[bytes]]


def _garbage(rng: random.Random, recorded: list[bytes], n: int) -> list[bytes]:
    return [rng.randbytes(rng.randint(0, 1500)) for _ in range(n)]


def _truncated(rng: random.Random, recorded: list[bytes], n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        packet = rng.choice(recorded)
        out.append(packet[:rng.randrange(len(packet))])
    return out


def _bit_flipped(rng: random.Random, recorded: list[bytes], n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        packet = bytearray(rng.choice(recorded))
        packet[rng.randrange(len(packet))] ^= rng.randint(1, 255)
        out.append(bytes(packet))
    return out


def _wrong_key(rng: random.Random, recorded: list[bytes], n: int) -> list[bytes]:
    out = []
    for i in range(n):
        message = Status(i, 1) if rng.random() < 0.5 else Data(i + 1, "ccm", rng.randbytes(20))
        envelope = Envelope("test", rng.choice(["a", "c"]), 10**9 + i, i + 1, "", message)
        out.append(seal(envelope, ATTACKER.signing_key()))
    return out


def _oversize(rng: random.Random, recorded: list[bytes], n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        body = msgpack.packb([1, "c", 10**9, 1, "", ["data", 1, "x", rng.randbytes(70_000)]])
        out.append(b"hB\x01\x01" + body + rng.randbytes(32))
    return out


def _replayed(rng: random.Random, recorded: list[bytes], n: int) -> list[bytes]:
    return [rng.choice(recorded) for _ in range(n)]


PROBES: dict[str, tuple[Forge, int, int]] = {  # name -> (forger, CI count, full count)
    "garbage": (_garbage, 200, 20_000),
    "truncation": (_truncated, 200, 20_000),
    "bit flip": (_bit_flipped, 200, 20_000),
    "wrong key": (_wrong_key, 100, 10_000),
    "oversize": (_oversize, 20, 500),
    "replay": (_replayed, 100, 10_000),
    "flood": (_garbage, 2_000, 50_000),
}


def _rejected(net: Simulation, node: str) -> int:
    counters = net.core(node, "heartbeat").counters
    return sum(v for k, v in counters.items() if k.startswith("rejected."))


def _attack(net: Simulation, forged: list[bytes], source: str, tally: Tally,
            probe: str) -> None:
    outcome = tally[probe]
    before = _rejected(net, "b")
    published = net.daemon("b", "heartbeat").published
    events_before = len(published)
    for data in forged:
        outcome.tried += 1
        try:
            inject_datagram(net, "b", "eth0", data, source)
            net.run_for(0.0005)
        except Exception as error:  # any exception out of the core is a crash
            outcome.bad("crashes", f"{type(error).__name__}: {error}")
    rejected = _rejected(net, "b") - before
    outcome.rejected += rejected
    fresh = published[events_before:]
    delivered = [e for e in fresh if isinstance(e, MessageReceived) and e.src == "c"]
    revived = [e for e in fresh if isinstance(e, NodeStatusChanged) and e.node == "c"
               and e.status is not NodeState.DEAD]
    if len(forged) - rejected or delivered or revived:
        for _ in range(max(1, len(forged) - rejected)):
            outcome.bad("wrongly_accepted", f"{len(forged) - rejected} not rejected, "
                        f"{len(delivered)} delivered, c revived: {bool(revived)}")


def _cluster_with_dead_c() -> tuple[Simulation, list[bytes]]:
    net = heartbeat_simulation(["a", "b", "c"], KEYS, TIMING)
    net.start()
    net.run_for(6)
    recorded = [data for _, src, _, data in net.wire_log if src == "c"]
    net.kill("c")
    net.run_for(TIMING.deadtime + TIMING.keepalive)
    return net, recorded


def _membership_right(net: Simulation) -> None:
    net.run_for(TIMING.deadtime + TIMING.keepalive)
    table = net.core("b", "heartbeat").table(net.now)
    assert table.status_of("a") is NodeState.UP
    assert table.status_of("c") is NodeState.DEAD


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_forged_packets_against_the_core(probe: str, tally: Tally, rng: random.Random,
                                         budget: Callable[[int, int], int]) -> None:
    forger, small, large = PROBES[probe]
    net, recorded = _cluster_with_dead_c()
    # from c's own address: the strongest position (ucast peers check addresses too)
    _attack(net, forger(rng, recorded, budget(small, large)), "10.0.0.3", tally,
            f"core: {probe}")
    _membership_right(net)
    outcome = tally[f"core: {probe}"]
    assert outcome.crashes == 0 and outcome.wrongly_accepted == 0, outcome.examples


@pytest.mark.parametrize("source", ["10.0.0.3", "10.0.0.1"])
def test_replay_after_the_receiver_restarts(source: str, tally: Tally, rng: random.Random,
                                            budget: Callable[[int, int], int]) -> None:
    net, recorded = _cluster_with_dead_c()
    net.kill("b")  # a restart: b reads back the replay marks it persisted
    net.start("b")
    # a's packets sent before it heard b's new generation are under b's restored floor
    # (written ahead, peers.MARK_AHEAD) and refused; only the forged ones are counted
    net.run_for(2 * TIMING.keepalive)
    net.daemon("b", "heartbeat").published.clear()
    probe = f"core: replay after restart from {'c' if source.endswith('3') else 'a'}"
    _attack(net, _replayed(rng, recorded, budget(48, 5_000)), source, tally, probe)
    _membership_right(net)
    assert tally[probe].crashes == 0 and tally[probe].wrongly_accepted == 0, \
        tally[probe].examples
