"""What a simulated node keeps on disk: heartbeat's replay marks (Persist "hb_peers") land
in `node.memory`, a restart (kill, start) reads them back into the new core like the
service does from its state directory, and `Simulation.forget` wipes them."""

from __future__ import annotations

from lab.sim import Simulation, heartbeat_simulation
from messaging.auth import AuthKey, KeyRing
from messaging.heartbeat.core import PEERS
from messaging.heartbeat.liveness import Timing
from messaging.heartbeat.peers import decode_marks

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"test-secret"),))
TIMING = Timing(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=10.0)


def _running(seconds: float) -> Simulation:
    sim = heartbeat_simulation(["a", "b", "c"], KEYS, TIMING)
    sim.start()
    sim.run_for(seconds)
    return sim


def test_a_restarted_heartbeat_reads_back_the_marks_it_persisted() -> None:
    sim = _running(3)
    saved = decode_marks(sim.nodes["b"].memory["heartbeat"][PEERS].decode())
    sim.kill("b")
    sim.start("b")
    restored = sim.core("b", "heartbeat").settings.known_peers
    assert restored == saved
    generations = {mark.node: mark.generation for mark in restored}
    assert generations == {name: sim.core(name, "heartbeat").settings.generation
                           for name in ("a", "c")}
    assert all(mark.seq > 0 for mark in restored)


def test_forget_wipes_the_disk_for_the_next_boot() -> None:
    sim = _running(3)
    sim.kill("b")
    sim.forget("b")
    assert PEERS not in sim.nodes["b"].memory["heartbeat"]
    sim.start("b")
    assert sim.core("b", "heartbeat").settings.known_peers == ()
    sim.run_for(3)  # the new boot persists onto the fresh disk
    assert decode_marks(sim.nodes["b"].memory["heartbeat"][PEERS].decode())
