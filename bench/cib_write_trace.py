"""Where one CIB write's time goes, hop by hop, in a running 3-node lab of this checkout.

    python bench/cib_write_trace.py [--writes 20] [--name LAB]

strace timestamps (one host, one clock) every frame the three cib daemons send and receive
while the bench writes one nvpair at a time through `cib.api.CibClient`, from a non-DC node
and then on the DC (the master), 0.2 s apart; each frame is recognised by its message name
(`write` and its `reply`, `peer_forward`, `peer_diff`, `peer_writeresult`, and
`peer_applied`, `peer_journaled` of a protocol 1 checkout, which CIB_PROTOCOL 2 no longer
sends; one syscall may carry several frames: the first is named). The
median of each step over the writes is printed, as milliseconds since the client sent. A
network crossing (cib -> heartbeat -> UDP -> heartbeat -> cib) is the time from one cib's
send to the other's receipt; the time inside a cib, from receipt to send, includes its
zmq I/O thread's hand-offs and its own CPU. strace slows every traced syscall (the cib's
socket calls only: `--seccomp-bpf`), so the absolute numbers are somewhat above an
untraced run's; the shape is what this is for. CPU per daemon per write is
`cib_roundtrip.py`'s rows.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import OurLab, load_average, process_name, table

MESSAGES = ("peer_writeresult", "peer_forward", "peer_applied", "peer_diff", "peer_journaled",
            "write")
CLIENT_REPLY = re.compile(r"reply.{1,24}reply")  # kind "reply", message "reply": a CibReply
LINE = re.compile(r"^(\d+)\s+(\d+\.\d+) (sendto|recvfrom|sendmsg|recvmsg)\((\d+), \"(.*)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--name", default=os.environ.get("HACLUSTER_BENCH_LAB", "hcbtrace"))
    args = parser.parse_args()
    lab = OurLab(args.name)
    try:
        lab.up(3)
        status = lab.status()
        names = sorted(status["nodes"])
        dc = _dc(lab, names[0])
        pids = {node: next(p for p in lab.node_pids(node) if process_name(p) == "cib")
                for node in names}
        dirs = {node: status["nodes"][node]["state_dir"] for node in names}
        non_dc = next(node for node in names if node != dc)
        with tempfile.TemporaryDirectory() as directory:
            tracers = {node: _strace(pid, Path(directory) / node) for node, pid in pids.items()}
            time.sleep(2.0)  # strace attached to every thread
            windows = {label: _writes(dirs[node], args.writes, label)
                       for label, node in (("non-DC", non_dc), ("DC", dc))}
            for tracer in tracers.values():
                tracer.send_signal(signal.SIGINT)
                tracer.wait(timeout=30)
            frames = {node: _frames(Path(directory) / node) for node in names}
        for label, origin in (("non-DC", non_dc), ("DC", dc)):
            _report(label, origin, dc, names, windows[label], frames)
    finally:
        lab.down()


def _dc(lab: OurLab, node: str) -> str:
    crm_mon = Path(sys.executable).parent / "crm_mon"
    out = lab.lab("exec", node, "/bin/bash", "-c", f"{crm_mon} -1")
    return next(line.split("Current DC:")[1].split()[0] for line in out.splitlines()
                if "Current DC:" in line)


def _strace(pid: int, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["strace", "-f", "-ttt", "-s", "400", "--seccomp-bpf", "-e",
                             "trace=sendto,recvfrom,sendmsg,recvmsg", "-o", str(output),
                             "-p", str(pid)], stderr=subprocess.DEVNULL)


def _writes(state_dir: str, count: int, label: str) -> list[tuple[float, float]]:
    """(sent, answered) wall clock of each write."""
    from cib.api import CibClient
    from cib.request import Op, Request
    from cib.xmlio import parse

    windows = []
    with CibClient(state_dir) as client:
        for index in range(count):
            xml = (f'<cluster_property_set id="trace-{label}"><nvpair id="trace-{label}-v" '
                   f'name="trace-{label}" value="{index}"/></cluster_property_set>')
            request = Request(Op.MODIFY, parse(xml), scope="crm_config", allow_create=True)
            started = time.time()
            reply = client.perform(request)
            windows.append((started, time.time()))
            if reply.exit_code != 0:
                raise RuntimeError(f"write failed: {reply.message}")
            time.sleep(0.2)
    return windows


def _frames(path: Path) -> list[tuple[float, str, str]]:
    """(wall, send|recv, message name) of every recognised frame in one strace output."""
    frames = []
    for line in path.read_text(errors="replace").splitlines():
        found = LINE.match(line)
        if found is None:
            continue
        body = found.group(5)
        name = "client reply" if CLIENT_REPLY.search(body) else next(
            (m for m in MESSAGES if m in body), None)
        if name is None:
            continue
        direction = "send" if found.group(3).startswith("send") else "recv"
        frames.append((float(found.group(2)), direction, name))
    return frames


def _report(label: str, origin: str, dc: str, names: list[str],
            windows: list[tuple[float, float]], frames: dict[str, list[tuple[float, str, str]]]
            ) -> None:
    steps: dict[str, list[float]] = {}
    for started, answered in windows:
        for node in names:
            role = "origin" if node == origin else ("master" if node == dc else "replica")
            if node == origin == dc:
                role = "master (origin)"
            seen: set[str] = set()
            for wall, direction, name in frames[node]:
                key = f"{role} {node}: {direction} {name}"
                if started <= wall <= answered + 0.05 and key not in seen:
                    seen.add(key)
                    steps.setdefault(key, []).append((wall - started) * 1e3)
        steps.setdefault("client: answer received", []).append((answered - started) * 1e3)
    rows = sorted(([key, f"{statistics.median(v):.2f}", f"{len(v)}"] for key, v in steps.items()),
                  key=lambda row: float(row[1]))
    print(f"\n{label} write ({len(windows)} writes; {load_average()}): ms after the client "
          "sent, median (first occurrence of each frame per write)")
    print(table(["step", "ms", "writes seen"], rows))


if __name__ == "__main__":
    main()
