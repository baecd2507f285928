"""Real heartbeat processes over UDP on 127.0.0.x (ucast on lo): they see each other,
exchange messages through the IPC API, detect a SIGKILL and a clean stop, and keep their
control socket answering after a malformed request (issue 8, defect 1). How fast a death
is detected is checked in the simulator, where time is exact, not here."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.authkeys import write_authkeys
from messaging.effects import ALL_NODES, Node
from messaging.errors import ExitCode, ValidationError
from messaging.heartbeat.api import (
    HeartbeatClient,
    MessageReceived,
    NodeState,
    NodeStatusChanged,
    NodeTable,
)
from messaging.heartbeat.service import load_hostcache

REPO = Path(__file__).resolve().parents[3]
KEEPALIVE, DEADTIME = 0.5, 2.0
WAIT = 90.0  # upper bound of every wait for a condition on a loaded machine (not a check)


def _free_port(addresses: list[str]) -> int:
    for _ in range(50):
        port = random.randint(20000, 60000)
        socks = []
        try:
            for address in addresses:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind((address, port))
            return port
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free UDP port")


class Cluster:
    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        self.names = [f"n{i}" for i in range(1, size + 1)]
        self.addresses = {n: f"127.0.0.{10 + i}" for i, n in enumerate(self.names, 1)}
        port = _free_port(list(self.addresses.values()))
        lines = [f"keepalive {int(KEEPALIVE * 1000)}ms", f"deadtime {DEADTIME}",
                 "warntime 1", "initdead 4", f"udpport {port}", "cluster_name itest",
                 *(f"ucast lo {a}" for a in self.addresses.values()),
                 f"node {' '.join(self.names)}"]
        (root / "ha.cf").write_text("\n".join(lines) + "\n")
        write_authkeys(root / "authkeys")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def state_dir(self, name: str) -> Path:
        return self.root / name

    def start(self, name: str) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "messaging.heartbeat", "-c", str(self.root / "ha.cf"),
             "-k", str(self.root / "authkeys"), "-n", name, "--bind", self.addresses[name],
             "--state-dir", str(self.state_dir(name))],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def client(self, name: str) -> HeartbeatClient:
        return HeartbeatClient(self.state_dir(name), timeout=5.0)

    def wait_all_up(self, observer: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.state_dir(observer) / "heartbeat.ctl").exists():
                client = self.client(observer)
                try:
                    table = client.query_nodes()
                finally:
                    client.close()
                if all(table.status_of(n) is NodeState.UP for n in self.names):
                    return
            time.sleep(0.1)
        raise AssertionError(f"{observer} did not see every node up:\n{self.logs(observer)}")

    def logs(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path, 3)
    for name in made.names:
        made.start(name)
    try:
        yield made
    finally:
        made.stop_all()


def _wait_for(sub: object, predicate: object, timeout: float = WAIT) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = sub.recv(0.05)  # type: ignore[attr-defined]
        if event is not None and predicate(event):  # type: ignore[operator]
            return event
    return None


def _subscribed(client: HeartbeatClient, topics: tuple[bytes, ...] = ()) -> object:
    """A subscriber known to be live: it received a table (published every 2 s)."""
    events = client.subscribe((*topics, b"table") if topics else ())
    assert _wait_for(events, lambda e: isinstance(e, NodeTable)) is not None
    return events


def test_three_nodes_see_each_other_exchange_messages_and_detect_sigkill(
        cluster: Cluster) -> None:
    for name in cluster.names:
        cluster.wait_all_up(name)
    n1 = cluster.client("n1")
    events = _subscribed(n1)
    n2 = cluster.client("n2")
    assert n2.send_message(ALL_NODES, "test", b"hello from n2").ok
    assert n2.send_message(Node("n1"), "test", b"x" * 50_000).ok  # fragmented
    with pytest.raises(ValidationError, match="unknown node 'nobody'"):
        n2.send_message(Node("nobody"), "test", b"x")
    got = [_wait_for(events, lambda e: isinstance(e, MessageReceived)) for _ in range(2)]
    assert [(m.src, m.payload[:13], len(m.payload)) for m in got] == [  # type: ignore[union-attr]
        ("n2", b"hello from n2", 13), ("n2", b"x" * 13, 50_000)]

    cluster.procs["n3"].send_signal(signal.SIGKILL)
    dead = _wait_for(events, lambda e: isinstance(e, NodeStatusChanged) and e.node == "n3"
                     and e.status is NodeState.DEAD)
    assert dead is not None, cluster.logs("n1")
    counters = n1.query_counters().counters
    assert counters["rx.accepted"] > 10 and counters.get("rejected.bad_signature", 0) == 0
    n1.close()
    n2.close()


def test_clean_stop_is_seen_at_once_and_restart_gets_new_generation(cluster: Cluster) -> None:
    cluster.wait_all_up("n1")
    n1 = cluster.client("n1")
    before = {i.node: i.generation for i in n1.query_nodes().nodes}
    events = _subscribed(n1, (b"status",))
    cluster.procs["n2"].send_signal(signal.SIGTERM)
    dead = _wait_for(events, lambda e: isinstance(e, NodeStatusChanged) and e.node == "n2"
                     and e.status is NodeState.DEAD)
    assert dead is not None
    assert cluster.procs["n2"].wait(30) == 0
    assert "node_left" in cluster.logs("n1")  # told by n2's Leaving, not by deadtime
    cluster.start("n2")
    up = _wait_for(events, lambda e: isinstance(e, NodeStatusChanged) and e.node == "n2"
                   and e.status is NodeState.UP)
    assert up is not None and up.generation > before["n2"]  # type: ignore[attr-defined]
    n1.close()


def test_bad_configuration_exits_with_config_code(tmp_path: Path) -> None:
    (tmp_path / "ha.cf").write_text("bcast lo\nnode a\nkeepalive soon\n")
    write_authkeys(tmp_path / "authkeys")
    result = subprocess.run(
        [sys.executable, "-m", "messaging.heartbeat", "-c", str(tmp_path / "ha.cf"), "-k",
         str(tmp_path / "authkeys"), "-n", "a"], cwd=REPO, capture_output=True, text=True,
        timeout=60)
    assert result.returncode == ExitCode.CONFIG
    assert result.stderr.strip() == (f"error: {tmp_path / 'ha.cf'}:3: keepalive: 'soon' is "
                                     "not a time (seconds, or milliseconds with 'ms')")
    os.chmod(tmp_path / "authkeys", 0o644)
    (tmp_path / "ha.cf").write_text("bcast lo\nnode a\n")
    result = subprocess.run(
        [sys.executable, "-m", "messaging.heartbeat", "-c", str(tmp_path / "ha.cf"), "-k",
         str(tmp_path / "authkeys"), "-n", "b"], cwd=REPO, capture_output=True, text=True,
        timeout=60)
    assert result.returncode == ExitCode.CONFIG and "accessible by group or others" in result.stderr


def test_autojoin_any_admits_unlisted_nodes_and_remembers_them(tmp_path: Path) -> None:
    made = Cluster(tmp_path, 2)
    text = (tmp_path / "ha.cf").read_text().replace("node n1 n2", "node n1\nautojoin any")
    (tmp_path / "ha.cf").write_text(text)
    for name in made.names:
        made.start(name)
    try:
        made.wait_all_up("n1")
    finally:
        made.stop_all()
    # written by heartbeat's writer thread, which a clean stop flushes
    assert load_hostcache(tmp_path / "n1") == ("n1", "n2")


def _multi_frame_request(endpoint: str) -> None:
    """Issue 8, defect 1: one REQ message of three frames, as an attacker or a bug sends."""
    import zmq

    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart([b"a", b"b", b"c"])
        assert sock.poll(10_000), "a multi-frame request got no answer"
        sock.recv_multipart()
    finally:
        sock.close(0)
        context.term()


def test_multi_frame_request_does_not_wedge_heartbeat_or_ccm(tmp_path: Path) -> None:
    from ccm.api import CcmClient

    made = Cluster(tmp_path, 1)
    made.start("n1")
    ccm_log = open(tmp_path / "ccm.log", "ab")  # noqa: SIM115 - owned by the process
    ccm = subprocess.Popen([sys.executable, "-m", "ccm", "-c", str(tmp_path / "ha.cf"),
                            "-n", "n1", "--state-dir", str(made.state_dir("n1"))],
                           cwd=REPO, stdout=ccm_log, stderr=subprocess.STDOUT)
    try:
        made.wait_all_up("n1")
        state = made.state_dir("n1")
        deadline = time.monotonic() + WAIT
        while not (state / "ccm.ctl").exists():
            assert time.monotonic() < deadline and ccm.poll() is None, made.logs("n1")
            time.sleep(0.05)
        for name in ("heartbeat.ctl", "ccm.ctl"):
            _multi_frame_request(f"ipc://{state / name}")
            _multi_frame_request(f"ipc://{state / name}")
        client = made.client("n1")
        try:
            assert client.query_nodes().status_of("n1") is NodeState.UP
            assert client.ping().daemon == "heartbeat"
        finally:
            client.close()
        assert CcmClient(state).query(timeout=10.0).node == "n1"
    finally:
        ccm.terminate()
        ccm.wait(30)
        made.stop_all()
