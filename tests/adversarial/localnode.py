"""Real daemons on loopback for the adversarial suite (no namespaces needed).

Nodes a1 and a2 each run `hacluster node start` (the launcher with heartbeat, ccm, lrmd and
stonithd: `crm on`); a3 runs a bare heartbeat so a test can capture or kill it. All three
use ucast on lo (127.0.0.51-53). Waits are for conditions with a generous upper bound
(`WAIT`, not a check); the outcomes asserted are membership and answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from messaging.authkeys import write_authkeys
from messaging.errors import HAError
from messaging.heartbeat.api import HeartbeatClient, NodeState, NodeTable

KEEPALIVE, DEADTIME = 0.2, 2.0
MARGIN = 1.5  # scheduling delays on a loaded 2-core machine
WAIT = 90.0
ADDRESSES = {"a1": "127.0.0.51", "a2": "127.0.0.52", "a3": "127.0.0.53"}
CONTROL_SOCKETS = ("heartbeat.ctl", "ccm.ctl", "lrmd.ctl", "stonithd.sock")
HACLUSTER = str(Path(sys.executable).parent / "hacluster")


def wait_for(condition: Callable[[], bool], deadline: float = WAIT) -> float | None:
    """Seconds until `condition` held, or None when it never did within `deadline`."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        with contextlib.suppress(HAError, OSError, ValueError, KeyError):
            if condition():
                return time.monotonic() - start
        time.sleep(0.02)
    return None


def _free_port() -> int:
    for _ in range(50):
        port = random.randint(20000, 60000)
        socks = []
        try:
            for address in ADDRESSES.values():
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


class LocalCluster:
    """a1, a2 under launchers; a3 a bare heartbeat."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        lines = [f"keepalive {int(KEEPALIVE * 1000)}ms", f"deadtime {DEADTIME:g}",
                 "warntime 1", "initdead 4", f"udpport {self.port}", "cluster_name adv",
                 "crm on", *(f"ucast lo {a}" for a in ADDRESSES.values()),
                 f"node {' '.join(ADDRESSES)}"]
        self.config = root / "ha.cf"
        self.config.write_text("\n".join(lines) + "\n")
        self.authkeys = root / "authkeys"
        write_authkeys(self.authkeys)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def state(self, node: str) -> Path:
        return self.root / node

    def start(self, node: str) -> None:
        log = open(self.root / f"{node}.log", "ab")  # noqa: SIM115 - owned by the process
        common = ["-c", str(self.config), "-k", str(self.authkeys), "-n", node,
                  "--bind", ADDRESSES[node], "--state-dir", str(self.state(node))]
        argv = ([sys.executable, "-m", "messaging.heartbeat", *common] if node == "a3"
                else [HACLUSTER, "node", "start", *common])
        self.procs[node] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def table(self, node: str) -> NodeTable:
        client = HeartbeatClient(self.state(node), timeout=2.0)
        try:
            return client.query_nodes()
        finally:
            client.close()

    def sees(self, observer: str, node: str, status: NodeState) -> bool:
        return self.table(observer).status_of(node) is status

    def daemons(self, node: str) -> dict[str, dict[str, object]]:
        status = json.loads((self.state(node) / "launcher.json").read_text())
        return {d["name"]: d for d in status["daemons"]}

    def ping_all(self, node: str) -> list[str]:
        """The control sockets of `node` that do not answer Ping."""
        from messaging.client import Client
        from messaging.envelope import BUILTIN

        silent = []
        for name in CONTROL_SOCKETS:
            client = Client(f"ipc://{self.state(node) / name}", BUILTIN, timeout=5.0)
            try:
                client.ping()
            except HAError:
                silent.append(name)
            finally:
                client.close()
        return silent

    def tracebacks(self) -> list[str]:
        found = []
        for log in self.root.glob("*.log"):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                found.append(f"{log.name}: {text[text.index('Traceback'):][:400]}")
        return found
