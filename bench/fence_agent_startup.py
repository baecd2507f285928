"""Wall time of one fence agent run as the fencer makes it (fresh process, stdin options).

    python bench/fence_agent_startup.py [--runs 20] [AGENT_PATH ...]

Default agents: this checkout's fence_lab console script (the one stonithd finds beside its
interpreter), its bin/ wrapper, and Debian's /usr/sbin/fence_dummy for scale. Each run
asks `status` of a plug from a stand-in for the lab's power switch (lab.pdu's one-line
protocol on a unix socket), so the time is start-up plus one round trip.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import load_average, table

REPO = Path(__file__).resolve().parents[1]


def serve_switch(path: str) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)

    def loop() -> None:
        while True:
            conn, _ = server.accept()
            with conn:
                conn.makefile("rb").readline()
                conn.sendall(b"ok on\n")
    threading.Thread(target=loop, daemon=True).start()


def time_agent(path: str, stdin: str, runs: int) -> list[float]:
    env = dict(os.environ, HACLUSTER_PYTHON=sys.executable)
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([path], input=stdin, capture_output=True, text=True, env=env, check=False)
        times.append(time.monotonic() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("agents", nargs="*")
    args = parser.parse_args()
    agents = args.agents or [str(Path(sys.executable).parent / "fence_lab"),
                             str(REPO / "agents/fence/bin/fence_lab"), "/usr/sbin/fence_dummy"]
    sock = os.path.join(tempfile.mkdtemp(), "pdu.sock")
    serve_switch(sock)
    rows = []
    for agent in agents:
        if not os.access(agent, os.X_OK):
            rows.append([agent, 0, "not installed", "-"])
            continue
        stdin = f"action=status\nport=n1\npdu_socket={sock}\n"
        if agent.endswith("fence_dummy"):
            stdin = "action=monitor\ntype=file\nstatus_file=/dev/null\n"
        times = time_agent(agent, stdin, args.runs)
        rows.append([agent, len(times), f"{statistics.median(times) * 1000:.0f}",
                     f"{max(times) * 1000:.0f}"])
    print(table(["agent", "runs", "p50 ms", "max ms"], rows))
    print(load_average())


if __name__ == "__main__":
    main()
