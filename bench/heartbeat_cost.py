"""What an idle heartbeat costs: bytes per status packet, packets/s, CPU% and RSS.

Starts N real heartbeat daemons (python -m messaging.heartbeat) on 127.0.0.x with ucast
on lo, keepalive 200 ms, lets them settle, then measures over a window:
- status packet size (rx.bytes / rx.packets on a node of an idle cluster),
- packets per second sent and received by one daemon,
- CPU% (utime+stime from /proc) and RSS of each daemon (median and max).
Also a message round: N broadcasts of 1 KiB through the zmq API, time until every node
delivered them. Prints tables; no assertions.

    python bench/heartbeat_cost.py [--nodes 3 16] [--window 10] [--keepalive-ms 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from messaging.authkeys import write_authkeys  # noqa: E402
from messaging.effects import ALL_NODES  # noqa: E402
from messaging.heartbeat.api import HeartbeatClient, MessageReceived, NodeState  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_cluster(root: Path, size: int, keepalive_ms: int, port: int) -> tuple[
        list[str], list[subprocess.Popen[bytes]]]:
    names = [f"b{i}" for i in range(1, size + 1)]
    addresses = [f"127.0.1.{i}" for i in range(1, size + 1)]
    lines = [f"keepalive {keepalive_ms}ms", f"deadtime {max(1.0, keepalive_ms * 5 / 1000)}",
             "initdead 10", f"udpport {port}", *(f"ucast lo {a}" for a in addresses),
             f"node {' '.join(names)}"]
    (root / "ha.cf").write_text("\n".join(lines) + "\n")
    write_authkeys(root / "authkeys", overwrite=True)
    procs = []
    for name, address in zip(names, addresses, strict=True):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "messaging.heartbeat", "-c", str(root / "ha.cf"), "-k",
             str(root / "authkeys"), "-n", name, "--bind", address, "--state-dir",
             str(root / name), "--log-level", "warning"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return names, procs


def wait_up(root: Path, names: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client = HeartbeatClient(root / names[0], timeout=2)
            table = client.query_nodes()
            client.close()
            if all(table.status_of(n) is NodeState.UP for n in names):
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit("cluster did not come up")


def measure(size: int, window: float, keepalive_ms: int, port: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names, procs = start_cluster(root, size, keepalive_ms, port)
        try:
            wait_up(root, names)
            time.sleep(2)
            client = HeartbeatClient(root / names[0])
            before = client.query_counters().counters
            cpu0 = {p.pid: cpu_seconds(p.pid) for p in procs}
            t0 = time.monotonic()
            time.sleep(window)
            elapsed = time.monotonic() - t0
            after = client.query_counters().counters
            cpu = [100 * (cpu_seconds(p.pid) - cpu0[p.pid]) / elapsed for p in procs]
            rss = [rss_mib(p.pid) for p in procs]
            rx_packets = after["rx.packets"] - before["rx.packets"]
            result = {
                "nodes": size,
                "status_bytes": (after["rx.bytes"] - before["rx.bytes"]) / max(1, rx_packets),
                "tx_pps": (after["udp.tx"] - before["udp.tx"]) / elapsed,
                "rx_pps": rx_packets / elapsed,
                "cpu_median": statistics.median(cpu), "cpu_max": max(cpu),
                "rss_median": statistics.median(rss), "rss_max": max(rss),
            }
            result["msg_latency_ms"] = message_round(root, names)
            client.close()
            return result
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def message_round(root: Path, names: list[str], count: int = 100) -> float:
    """Milliseconds for `count` 1 KiB broadcasts from one node to reach the last node."""
    receiver = HeartbeatClient(root / names[-1])
    events = receiver.subscribe((b"message",))
    time.sleep(0.5)
    sender = HeartbeatClient(root / names[0])
    t0 = time.monotonic()
    for i in range(count):
        sender.send_message(ALL_NODES, "bench", bytes([i % 256]) * 1024)
    got = 0
    while got < count and time.monotonic() - t0 < 30:
        if isinstance(events.recv(1.0), MessageReceived):
            got += 1
    elapsed = (time.monotonic() - t0) * 1000
    events.close()
    sender.close()
    receiver.close()
    return elapsed if got == count else float("nan")


def heartbeat306_status_size() -> float | None:
    """Mean UDP payload of Heartbeat 3.0.6 `t=status` packets in the reference capture."""
    capture = Path(os.environ.get("HACLUSTER_SHARED", REPO.parent / "shared")) / \
        "reference" / "heartbeat-captures" / "3node-ucast-sha1.pcap"
    if not capture.is_file():
        return None
    data = capture.read_bytes()
    sizes = []
    for chunk in data.split(b"###\n")[1:]:
        if chunk.startswith(b"11:(0)t=status,"):
            end = chunk.find(b"%%%\n")
            trailer = chunk[end + 4:].split(b",", 1)[0]
            sizes.append(4 + end + 4 + len(trailer) + 1)
    return statistics.mean(sizes) if sizes else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 16])
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--keepalive-ms", type=int, default=200)
    parser.add_argument("--port", type=int, default=47694)
    args = parser.parse_args()
    rows = [measure(n, args.window, args.keepalive_ms, args.port) for n in args.nodes]
    print(f"heartbeat idle cost, keepalive {args.keepalive_ms} ms, ucast on 127.0.1.x, "
          f"hmac-sha256, window {args.window:g} s, {os.cpu_count()} CPUs")
    header = ("nodes", "status B", "tx pkt/s", "rx pkt/s", "CPU% med", "CPU% max",
              "RSS MiB med", "RSS MiB max", "100x1KiB bcast ms")
    print(" | ".join(header))
    for r in rows:
        print(" | ".join([f"{r['nodes']:.0f}", f"{r['status_bytes']:.0f}",
                          f"{r['tx_pps']:.1f}", f"{r['rx_pps']:.1f}", f"{r['cpu_median']:.2f}",
                          f"{r['cpu_max']:.2f}", f"{r['rss_median']:.1f}", f"{r['rss_max']:.1f}",
                          f"{r['msg_latency_ms']:.0f}"]))
    reference = heartbeat306_status_size()
    if reference is not None:
        print(f"Heartbeat 3.0.6 status packet (sha1, reference capture): {reference:.0f} B")


if __name__ == "__main__":
    main()
