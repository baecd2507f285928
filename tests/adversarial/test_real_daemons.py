"""Adversarial probes against real daemons on loopback (localnode.LocalCluster).

- IPC fuzzer: every socket in a1's state directory gets multi-frame, empty, oversized,
  garbage, garbage-msgpack and wrongly typed requests (REQ and DEALER peers); afterwards
  every control socket answers Ping, no daemon was respawned, no log has a traceback.
- packet forger: garbage, truncation, bit flips, wrong key, oversize and a flood at a1's
  heartbeat, from a stranger's and from a2's address; every forged datagram is counted as
  rejected, a2 stays up in a1's view.
- agent-name traversal through the real lrmd: "not installed" (exit 5), nothing run.
- replay after restart: a3's packets (sealed with the cluster key, as a capture holds
  them) replayed after a3 died and a1's heartbeat was killed (taking a1's launcher down)
  and a1 started again: a3 stays dead.
- kill -9 of every process of a2 including its launcher (slow): daemons are respawned,
  but for heartbeat, whose death ends the node (its launcher kills the rest and exits
  102, a1 sees a2 dead; a2 is started again); the launcher's death takes a2 out of a1's
  view within deadtime + 1 keepalive.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import msgpack
import pytest
import zmq

from messaging.auth import AuthKey, KeyRing
from messaging.authkeys import load_authkeys
from messaging.durable import SlotFile
from messaging.envelope import DEFAULT_MAX_FRAME
from messaging.heartbeat.api import NodeState
from messaging.wire import Data, Envelope, Status, seal
from tests.adversarial.conftest import Outcome, Tally
from tests.adversarial.localnode import (
    ADDRESSES,
    DEADTIME,
    HACLUSTER,
    KEEPALIVE,
    MARGIN,
    WAIT,
    LocalCluster,
    wait_for,
)

pytestmark = [
    pytest.mark.adversarial,
    pytest.mark.skipif(os.geteuid() != 0, reason="binds 127.0.0.5x and a haclient state dir"),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path_factory.mktemp("adv"))
    for node in ("a1", "a2", "a3"):
        local.start(node)
    try:
        up = wait_for(lambda: local.sees("a1", "a2", NodeState.UP)
                      and local.sees("a1", "a3", NodeState.UP) and not local.ping_all("a1")
                      and not local.ping_all("a2"))
        assert up is not None, local.tracebacks() or "cluster did not come up"
        yield local
    finally:
        local.stop()


def _restarts(cluster: LocalCluster, node: str) -> dict[str, object]:
    return {name: d["restarts"] for name, d in cluster.daemons(node).items()}


# ------------------------------------------------------------------ IPC fuzzer
def _ipc_inputs(rng: random.Random, count: int) -> list[list[bytes]]:
    valid = msgpack.packb([1, "request", 7, "ping", []])
    inputs: list[list[bytes]] = [
        [b"a", b"b", b"c"], [b""], [b"", b""], [valid, valid],
        [b"x" * (DEFAULT_MAX_FRAME + 1)],
        [msgpack.packb([1, "request", 7, "query_nodes", [1, 2, 3]])],
        [msgpack.packb([1, "request", "seven", "ping", []])],
        [msgpack.packb([99, "request", 7, "ping", []])],
        [msgpack.packb([1, "reply", 7, "pong", ["x", -1]])],
        [msgpack.packb([1, "request", 2**63, "ping", []])],
        [msgpack.packb({"v": 1})],
    ]
    while len(inputs) < count:
        kind = rng.random()
        if kind < 0.4:
            inputs.append([rng.randbytes(rng.randint(0, 300))])
        elif kind < 0.7:
            value = [rng.choice([1, 2, None, "x", 1.5, True]), rng.choice(["request", "x", 3]),
                     rng.randint(-5, 2**40), rng.choice(["ping", "query_nodes", "exec", "?"]),
                     [rng.randbytes(5), rng.random(), {"a": [1]}]]
            inputs.append([msgpack.packb(value)])
        else:
            inputs.append([rng.randbytes(8) for _ in range(rng.randint(2, 5))])
    return inputs


def _send_raw(endpoint: str, frames: list[bytes], kind: int) -> None:
    context = zmq.Context.instance()
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 200)
    sock.setsockopt(zmq.SNDTIMEO, 1000)
    try:
        sock.connect(endpoint)
        with contextlib.suppress(zmq.ZMQError):
            sock.send_multipart(frames)
            if sock.poll(200):  # read an answer if one comes; the REQ may then go again
                sock.recv_multipart()
    finally:
        sock.close()


def test_ipc_fuzzer_every_socket(cluster: LocalCluster, tally: Tally, rng: random.Random,
                                 budget: Callable[[int, int], int]) -> None:
    before = _restarts(cluster, "a1")
    sockets = sorted(p for p in cluster.state("a1").iterdir() if p.is_socket())
    assert {"heartbeat.ctl", "ccm.ctl", "lrmd.ctl", "stonithd.sock"} <= {p.name for p in sockets}
    inputs = _ipc_inputs(rng, budget(30, 200))
    for path in sockets:
        outcome = tally[f"ipc: {path.name}"]
        for frames in inputs:
            outcome.tried += 1
            _send_raw(f"ipc://{path}", frames, rng.choice([zmq.REQ, zmq.DEALER]))
        silent = cluster.ping_all("a1")
        if silent:
            outcome.bad("crashes", f"not answering Ping after the fuzz: {silent}")
        else:
            outcome.rejected += len(inputs)
    assert cluster.ping_all("a1") == []
    assert _restarts(cluster, "a1") == before, "a daemon died and was respawned"
    assert cluster.tracebacks() == []
    assert wait_for(lambda: cluster.sees("a1", "a2", NodeState.UP), DEADTIME + KEEPALIVE
                    + MARGIN) is not None


# ------------------------------------------------------------------ packet forger
def _rejected(cluster: LocalCluster, node: str) -> int:
    counters = cluster.table(node).counters
    return sum(v for k, v in counters.items() if k.startswith("rejected."))


def _forged(rng: random.Random, probe: str, count: int) -> list[bytes]:
    attacker = KeyRing(1, (AuthKey(1, "hmac-sha256", b"guess"),)).signing_key()
    real = seal(Envelope("adv", "a2", 10**9, 1, "", Status(1, 1)), attacker)
    makers: dict[str, Callable[[int], bytes]] = {
        "garbage": lambda i: rng.randbytes(rng.randint(0, 1400)),
        "truncation": lambda i: real[:rng.randrange(len(real))],
        "bit flip": lambda i: bytes(b ^ (rng.randint(1, 255) if j == rng.randrange(len(real))
                                         else 0) for j, b in enumerate(real)),
        "wrong key": lambda i: seal(Envelope("adv", rng.choice(["a2", "a3"]), 10**9 + i, i + 1,
                                             "", Data(i + 1, "ccm", b"x")), attacker),
        "oversize": lambda i: rng.randbytes(60_000),
        "flood": lambda i: rng.randbytes(200),
    }
    return [makers[probe](i) for i in range(count)]


def _spray(cluster: LocalCluster, packets: list[bytes], source: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((source, 0))
        for data in packets:
            with contextlib.suppress(OSError):
                sock.sendto(data, (ADDRESSES["a1"], cluster.port))
    finally:
        sock.close()


@pytest.mark.parametrize("probe", ["garbage", "truncation", "bit flip", "wrong key",
                                   "oversize", "flood"])
def test_packet_forger_real_heartbeat(cluster: LocalCluster, tally: Tally, probe: str,
                                      rng: random.Random,
                                      budget: Callable[[int, int], int]) -> None:
    outcome = tally[f"udp: {probe}"]
    count = budget(2_000 if probe == "flood" else 100, 50_000 if probe == "flood" else 5_000)
    packets = _forged(rng, probe, count)
    before = _rejected(cluster, "a1")
    generations = {n.node: n.generation for n in cluster.table("a1").nodes}
    for source in ("127.0.0.99", ADDRESSES["a2"]):
        _spray(cluster, packets[: count // 2] if source.endswith("99") else packets[count // 2:],
               source)
    outcome.tried += count
    # UDP on loopback may drop under a flood: count what a1 saw, then require all rejected
    settled = wait_for(lambda: cluster.table("a1").counters.get("rx.packets", 0) > 0, 5.0)
    assert settled is not None
    rejected = _rejected(cluster, "a1") - before
    outcome.rejected += rejected
    after = {n.node: n.generation for n in cluster.table("a1").nodes}
    if after != generations:  # a forged packet would carry generation 10**9 and up
        outcome.bad("wrongly_accepted", f"generations changed: {generations} -> {after}")
    assert cluster.ping_all("a1") == [], outcome.bad("crashes", "a1 stopped answering")
    assert wait_for(lambda: cluster.sees("a1", "a2", NodeState.UP),
                    DEADTIME + KEEPALIVE + MARGIN) is not None
    assert cluster.sees("a1", "a3", NodeState.UP)  # no false death from the flood
    assert outcome.crashes == 0 and outcome.wrongly_accepted == 0, outcome.examples


# ------------------------------------------------------------------ agent-name traversal
TRAVERSALS = ["ocf:..:__init__.py", "ocf:../..:__init__.py", "ocf:heartbeat:../../../bin/sh",
              "ocf:.:Dummy", "ocf:hacluster:..", "lsb:../../bin/true", "lsb:..",
              "ocf:hacluster:.Dummy", "ocf::Dummy", "lsb:%2e%2e/true", "ocf:x/../hacluster:Dummy",
              "lsb:/bin/true", "ocf:hacluster:Dummy/../Dummy"]


def test_agent_traversal_through_the_real_lrmd(cluster: LocalCluster, tally: Tally,
                                               budget: Callable[[int, int], int]) -> None:
    outcome = tally["lrmd: agent-name traversal"]
    for agent in TRAVERSALS[: budget(5, len(TRAVERSALS))]:
        outcome.tried += 1
        result = subprocess.run([HACLUSTER, "lrm", "exec", agent, "start", "--state-dir",
                                 str(cluster.state("a1"))], capture_output=True, text=True,
                                timeout=120, check=False)
        if "Traceback" in result.stderr:
            outcome.bad("crashes", f"{agent}: {result.stderr[-300:]}")
        elif result.returncode in (5, 2, 64):  # not installed, or not an agent name at all
            outcome.rejected += 1
        else:
            outcome.bad("wrongly_accepted", f"{agent}: exit {result.returncode} "
                        f"{result.stdout[-200:]} {result.stderr[-200:]}")
    assert cluster.ping_all("a1") == []
    assert outcome.crashes == 0 and outcome.wrongly_accepted == 0, outcome.examples


# ------------------------------------------------------------------ replay after restart
def _captured_from_a3(cluster: LocalCluster, count: int) -> list[bytes]:
    """What a capture of a3's traffic holds: its generation, sequence numbers it used,
    sealed with the cluster key (the attacker replays; it cannot sign)."""
    generation = int(SlotFile(cluster.state("a3") / "hb_generation").read() or b"")
    key = load_authkeys(cluster.authkeys).signing_key()
    return [seal(Envelope("adv", "a3", generation, seq, "", Status(0, 1)), key)
            for seq in range(1, count + 1)]


def _kill_daemon(cluster: LocalCluster, node: str, daemon: str) -> int:
    pid = cluster.daemons(node)[daemon]["pid"]
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGKILL)
    return pid


def test_replay_after_the_receiver_restarts(cluster: LocalCluster, tally: Tally,
                                            budget: Callable[[int, int], int]) -> None:
    outcome = tally["udp: replay after restart"]
    captured = _captured_from_a3(cluster, budget(48, 2_000))
    cluster.procs["a3"].kill()
    cluster.procs["a3"].wait()
    assert wait_for(lambda: cluster.sees("a1", "a3", NodeState.DEAD)) is not None
    # a heartbeat killed with -9 takes its node's launcher down (the node leaves the
    # cluster, as a Pacemaker node whose corosync died); the node is started again, and
    # its new heartbeat has only what it persisted to go on
    old = _kill_daemon(cluster, "a1", "heartbeat")
    cluster.procs["a1"].wait(timeout=WAIT)
    cluster.start("a1")
    assert wait_for(lambda: cluster.daemons("a1")["heartbeat"]["pid"] not in (old, None)
                    and cluster.sees("a1", "a2", NodeState.UP)) is not None
    before = _rejected(cluster, "a1")
    for source in (ADDRESSES["a3"], ADDRESSES["a2"]):
        _spray(cluster, captured, source)
        outcome.tried += len(captured)
    wait_for(lambda: _rejected(cluster, "a1") - before >= 2 * len(captured), 10.0)
    outcome.rejected += _rejected(cluster, "a1") - before
    time_to_judge = DEADTIME + KEEPALIVE
    deadline = time.monotonic() + time_to_judge
    while time.monotonic() < deadline:
        if not cluster.sees("a1", "a3", NodeState.DEAD):
            outcome.bad("wrongly_accepted", "a3 shown alive from replayed packets")
            break
        time.sleep(0.05)
    assert outcome.wrongly_accepted == 0, outcome.examples
    cluster.start("a3")  # later tests expect a whole cluster
    assert wait_for(lambda: cluster.sees("a1", "a3", NodeState.UP)) is not None


# ------------------------------------------------------------------ kill -9 everything
@pytest.mark.slow
def test_kill_every_process_of_a_node(cluster: LocalCluster, tally: Tally) -> None:
    outcome = tally["kill -9: every process of a2"]
    bound = DEADTIME + KEEPALIVE + MARGIN
    for daemon in ("ccm", "lrmd", "stonithd"):
        outcome.tried += 1
        old = _kill_daemon(cluster, "a2", daemon)
        back = wait_for(lambda daemon=daemon, old=old: cluster.daemons("a2")[daemon]["pid"]
                        not in (old, None) and not cluster.ping_all("a2")
                        and cluster.sees("a1", "a2", NodeState.UP))
        if back is None:
            outcome.bad("crashes", f"{daemon} not respawned/answering after kill -9")
        else:
            outcome.rejected += 1  # the fault was absorbed
    _heartbeat_death_ends_the_node(cluster, outcome, bound)
    outcome.tried += 1
    children = [d["pid"] for d in cluster.daemons("a2").values()]
    os.kill(cluster.procs["a2"].pid, signal.SIGKILL)
    cluster.procs["a2"].wait()
    gone = wait_for(lambda: cluster.sees("a1", "a2", NodeState.DEAD), bound)
    leftovers = wait_for(lambda: not any(_alive(pid) for pid in children), 30.0)
    if gone is None or leftovers is None:
        outcome.bad("crashes", f"after the launcher's death: a2 dead in a1's view "
                    f"{gone is not None}, children gone {leftovers is not None}")
    else:
        outcome.rejected += 1
    cluster.start("a2")
    assert wait_for(lambda: cluster.sees("a1", "a2", NodeState.UP)) is not None
    assert outcome.crashes == 0, outcome.examples


def _heartbeat_death_ends_the_node(cluster: LocalCluster, outcome: Outcome,
                                   bound: float) -> None:
    """kill -9 of a2's heartbeat: not respawned; the launcher kills every other daemon
    and exits 102 (CRM_EX_DISCONNECT), and a1 sees a2 dead, as Pacemaker's peers lose a
    node whose corosync died. a2 is then started again."""
    outcome.tried += 1
    children = [d["pid"] for name, d in cluster.daemons("a2").items() if name != "heartbeat"]
    _kill_daemon(cluster, "a2", "heartbeat")
    code = cluster.procs["a2"].wait(timeout=WAIT)
    gone = wait_for(lambda: cluster.sees("a1", "a2", NodeState.DEAD), bound)
    left = [pid for pid in children if _alive(pid)]
    if code != 102 or gone is None or left:
        outcome.bad("crashes", f"after heartbeat's death: launcher exit {code}, a2 dead in "
                    f"a1's view {gone is not None}, daemons left {left}")
    else:
        outcome.rejected += 1
    cluster.start("a2")
    assert wait_for(lambda: cluster.sees("a1", "a2", NodeState.UP)
                    and not cluster.ping_all("a2")) is not None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False
