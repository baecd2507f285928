"""Heartbeat over each medium (bcast, mcast, ucast) between network namespaces joined by a
bridge: own addresses found from the interfaces, ucast lines to self ignored, SIGKILL
detected. Needs root (creates namespaces; nothing leaves them)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.authkeys import write_authkeys
from messaging.heartbeat.api import HeartbeatClient, NodeState

pytestmark = [pytest.mark.lab]
REPO = Path(__file__).resolve().parents[3]
SIZE = 3


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespaces() -> Iterator[list[str]]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 'ip' is not installed")
    prefix = f"hbt{uuid.uuid4().hex[:6]}"
    bridge, nodes = f"{prefix}br", [f"{prefix}n{i}" for i in range(1, SIZE + 1)]
    created = []
    try:
        _ip("netns", "add", bridge)
        created.append(bridge)
        _ip("-n", bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        _ip("-n", bridge, "link", "set", "br0", "up")
        for i, ns in enumerate(nodes, 1):
            _ip("netns", "add", ns)
            created.append(ns)
            _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"p{i}",
                "netns", bridge)
            _ip("-n", ns, "addr", "add", f"10.99.0.{i}/24", "brd", "+", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", bridge, "link", "set", f"p{i}", "master", "br0")
            _ip("-n", bridge, "link", "set", f"p{i}", "up")
        yield nodes
    finally:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


MEDIA = {
    "bcast": ["bcast eth0"],
    "mcast": ["mcast eth0 239.0.0.99 694 1 0"],
    "ucast": [f"ucast eth0 10.99.0.{i}" for i in range(1, SIZE + 1)],
}


@pytest.mark.parametrize("medium", sorted(MEDIA))
def test_medium_between_namespaces(namespaces: list[str], tmp_path: Path, medium: str) -> None:
    names = [f"h{i}" for i in range(1, SIZE + 1)]
    (tmp_path / "ha.cf").write_text("\n".join(
        ["keepalive 500ms", "deadtime 2", "initdead 4", *MEDIA[medium],
         f"node {' '.join(names)}"]) + "\n")
    write_authkeys(tmp_path / "authkeys", "sha1")
    procs = []
    for ns, name in zip(namespaces, names, strict=True):
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - owned by the process
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "messaging.heartbeat",
             "-c", str(tmp_path / "ha.cf"), "-k", str(tmp_path / "authkeys"), "-n", name,
             "--state-dir", str(tmp_path / name)], cwd=REPO, stdout=log, stderr=log))
    try:
        client = _wait_all_up(tmp_path, names)
        table = client.query_nodes()
        assert {n.node: dict(n.links) for n in table.nodes}["h2"] == {"eth0": "up"}
        procs[2].send_signal(signal.SIGKILL)
        # the wait is a bound on a hung test only: detection at deadtime after the last
        # beat is checked exactly on the simulator's clock (tests/unit/lab/test_sim_timing.py)
        killed = time.monotonic()
        while time.monotonic() - killed < 60:
            if client.query_nodes().status_of("h3") is NodeState.DEAD:
                break
            time.sleep(0.05)
        assert client.query_nodes().status_of("h3") is NodeState.DEAD
        counters = client.query_counters().counters
        assert counters.get("rejected.bad_signature", 0) == 0
        client.close()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_all_up(root: Path, names: list[str]) -> HeartbeatClient:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if (root / "h1" / "heartbeat.ctl").exists():
            client = HeartbeatClient(root / "h1")
            if all(client.query_nodes().status_of(n) is NodeState.UP for n in names):
                return client
            client.close()
        time.sleep(0.2)
    logs = "\n".join((root / f"{n}.log").read_text() for n in names)
    raise AssertionError(f"not all nodes up:\n{logs}")
