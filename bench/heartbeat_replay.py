"""One real heartbeat daemon receiving the keepalives of a 16-node cluster: its CPU per second.

    python bench/heartbeat_replay.py [--peers 15] [--window 20] [--keepalive-ms 200] [--profile OUT]
                                     [--aligned]

Starts `python -m messaging.heartbeat` as node r1 on 127.0.2.1 (ucast on lo, keepalive
200 ms, warntime 500 ms, deadtime 1 s, as `hacluster lab up` writes them), and one replay
process standing in for --peers other nodes: each has its own address (127.0.2.2, ...),
sends a signed Status every keepalive (spread over the interval, as unsynchronised peers
do; with --aligned all at the same instants, as peers on the keepalive grid of
messaging.heartbeat.liveness.to_grid do) and drains what the daemon sends it. Once every
peer is up in the daemon's table, the daemon's utime+stime (/proc/PID/stat) and context
switches over --window seconds are the per-datagram cost of a 16-node idle cluster
without the other 15 nodes' daemons on the machine (measured --settle seconds after the
last peer came up, as a lab is idle long after its last status change). --profile runs the
daemon under cProfile and writes its stats to OUT.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import CLOCK_TICKS, REPO, context_switches, load_average, table

from messaging.authkeys import load_authkeys, write_authkeys
from messaging.heartbeat.api import HeartbeatClient, NodeState
from messaging.heartbeat.liveness import to_grid
from messaging.wire import Envelope, Status, seal

PORT = 7694
CLUSTER = "replay"


def write_config(root: Path, peers: int, keepalive_ms: int) -> list[str]:
    names = [f"r{i}" for i in range(1, peers + 2)]
    lines = [f"keepalive {keepalive_ms}ms", "warntime 500ms", "deadtime 1000ms",
             "initdead 2000ms", f"udpport {PORT}", f"cluster_name {CLUSTER}",
             *(f"ucast lo 127.0.2.{i}" for i in range(1, peers + 2)),
             f"node {' '.join(names)}"]
    (root / "ha.cf").write_text("\n".join(lines) + "\n")
    write_authkeys(root / "authkeys", overwrite=True)
    return names


def start_daemon(root: Path, profile: str | None) -> subprocess.Popen[bytes]:
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    return subprocess.Popen(
        [sys.executable, *prefix, "-m", "messaging.heartbeat", "-c", str(root / "ha.cf"),
         "-k", str(root / "authkeys"), "-n", "r1", "--bind", "127.0.2.1",
         "--state-dir", str(root / "r1"), "--log-level", "warning"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=(root / "daemon.log").open("wb"))


def replay(root: Path, names: list[str], keepalive: float, until: float,
           aligned: bool = False) -> None:
    """Send every fake peer's keepalives to r1 until `until` (monotonic)."""
    key = load_authkeys(str(root / "authkeys")).signing_key()
    generation = int(time.time())
    selector = selectors.DefaultSelector()
    sockets = []
    for i, _ in enumerate(names[1:], start=2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.0.2.{i}", PORT))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        sockets.append(sock)
    seqs = [0] * len(sockets)
    start = time.monotonic()
    if aligned:  # the next instant of the wall-clock grid the daemon beats on
        start += to_grid(time.time(), keepalive)
    due = [start + (0.0 if aligned else keepalive * i / len(sockets))
           for i in range(len(sockets))]
    while (now := time.monotonic()) < until:
        for i, sock in enumerate(sockets):
            if due[i] <= now:
                seqs[i] += 1
                envelope = Envelope(CLUSTER, names[i + 1], generation, seqs[i], "", Status(0))
                sock.sendto(seal(envelope, key), ("127.0.2.1", PORT))
                due[i] += keepalive
        for ready, _ in selector.select(max(0.0, min(due) - time.monotonic())):
            while True:
                try:
                    ready.fileobj.recv(65535)  # type: ignore[union-attr]
                except BlockingIOError:
                    break
    for sock in sockets:
        sock.close()


def all_up(root: Path, names: list[str]) -> bool:
    try:
        client = HeartbeatClient(root / "r1", timeout=2)
        try:
            nodes = client.query_nodes()
        finally:
            client.close()
    except Exception:  # not bound yet
        return False
    return all(nodes.status_of(n) is NodeState.UP for n in names)


def main() -> None:
    args = _parse_args()
    elapsed, late, user, system, switches = _measure(args)
    _report(args, elapsed, late, user, system, switches)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=15)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--keepalive-ms", type=int, default=200)
    parser.add_argument("--settle", type=float, default=12.0,
                        help="seconds after every peer is up (reading is not paced for "
                             "10 s after a status change)")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--aligned", action="store_true",
                        help="the peers beat at the same instants, not spread")
    return parser.parse_args()


def _measure(args: argparse.Namespace) -> tuple[float, int, float, float, float]:
    """Replay the peers at the daemon; over the window once settled: (seconds, late warnings,
    user and system CPU % of a core, context switches per second)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = write_config(root, args.peers, args.keepalive_ms)
        daemon = start_daemon(root, args.profile)
        total = 30.0 + args.settle + args.window + 1.0
        sender = os.fork()
        if sender == 0:
            try:
                replay(root, names, args.keepalive_ms / 1000, time.monotonic() + total,
                       args.aligned)
            finally:
                os._exit(0)
        try:
            _wait_all_up(root, names)
            time.sleep(args.settle)
            cpu, switches_before = _user_system(daemon.pid), context_switches(daemon.pid)
            started = time.monotonic()
            time.sleep(args.window)
            elapsed = time.monotonic() - started
            user, system = (100 * (after - before) / elapsed
                            for after, before in zip(_user_system(daemon.pid), cpu, strict=True))
            switches = (context_switches(daemon.pid) - switches_before) / elapsed
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)
            os.waitpid(sender, 0)
        log = (root / "daemon.log").read_text(errors="replace")
        late = log.count("heartbeat_late")  # a loaded host delays the replay: not idle then
    return elapsed, late, user, system, switches


def _wait_all_up(root: Path, names: list[str]) -> None:
    deadline = time.monotonic() + 30.0
    while not all_up(root, names):
        if time.monotonic() > deadline:
            raise SystemExit("the daemon did not see every peer up within 30 s")
        time.sleep(0.2)


def _report(args: argparse.Namespace, elapsed: float, late: int, user: float, system: float,
            switches: float) -> None:
    rx = args.peers * 1000 / args.keepalive_ms
    print(f"heartbeat with {args.peers} replayed peers{' (aligned)' if args.aligned else ''}, "
          f"{elapsed:.0f} s, {load_average()}, "
          f"{late} late warnings")
    cpu = user + system
    print(table(["datagrams in/s", "CPU % of a core (user + sys)", "µs per datagram in",
                 "wake-ups/s"],
                [[f"{rx:.0f}", f"{cpu:.2f} ({user:.2f} + {system:.2f})", f"{cpu * 1e4 / rx:.0f}",
                  f"{switches:.0f}"]]))


def _user_system(pid: int) -> tuple[float, float]:
    """Seconds of user and system CPU of `pid` so far (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


if __name__ == "__main__":
    main()
