"""Which daemon threads wait on the disk: sample the kernel state of every heartbeat and ccm
thread (root) and report each episode a thread spent in D state (uninterruptible sleep:
waiting for a block device, a flush, an inode lock), with its kernel stack.

A D-state episode of a daemon's main thread is an event-loop stall: heartbeat judges
liveness and ccm publishes views on that thread. Writer threads (messaging.durable) may
sit in D state as long as the disk wants. Run it beside bench/detect_latency.py:

    python bench/stall_sampler.py --match /work/runtime4/ --out stalls.txt [--period 0.01]

Processes are found by name (comm "heartbeat" or "ccm") and a substring of their command
line (a checkout's path keeps other labs on the same machine out). Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from dataclasses import dataclass, field
from typing import TextIO

DAEMONS = ("heartbeat", "ccm")
RESCAN = 1.0  # seconds between looks for new processes (restarted nodes)


@dataclass
class Episode:
    start: float
    daemon: str
    thread: str
    stacks: collections.Counter[str] = field(default_factory=collections.Counter)


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def daemons(match: str) -> dict[int, str]:
    """{pid: daemon name} of the heartbeat and ccm processes whose cmdline has `match`."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            comm = (_read(f"/proc/{entry}/comm") or "").strip()
            if comm in DAEMONS and match in (_read(f"/proc/{entry}/cmdline") or ""):
                found[int(entry)] = comm
    return found


def _state(task: str) -> str | None:
    stat = _read(f"{task}/stat")
    return stat.rsplit(")", 1)[1].split()[0] if stat and ")" in stat else None


def _stack(task: str) -> str:
    lines = (_read(f"{task}/stack") or "?").splitlines()
    return "<".join(line.split()[-1].split("+")[0] for line in lines[:8])


def sample(table: dict[int, str], open_episodes: dict[tuple[int, str], Episode],
           out: TextIO) -> None:
    """One look at every thread: open, extend or close (and print) D-state episodes."""
    now = time.monotonic()
    for pid, daemon in table.items():
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            task, key = f"/proc/{pid}/task/{tid}", (pid, tid)
            if _state(task) == "D":
                if key not in open_episodes:
                    role = "main" if str(pid) == tid else "other"
                    open_episodes[key] = Episode(now, daemon, role)
                open_episodes[key].stacks[_stack(task)] += 1
            elif key in open_episodes:
                episode = open_episodes.pop(key)
                out.write(f"{time.strftime('%H:%M:%S')} {episode.daemon} pid={pid} "
                          f"thread={episode.thread} D for ~{(now - episode.start) * 1000:.0f}"
                          f" ms: {episode.stacks.most_common(2)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--match", required=True, help="substring of the daemons' cmdline")
    parser.add_argument("--out", required=True, help="file the episodes are appended to")
    parser.add_argument("--period", type=float, default=0.01, help="seconds between looks")
    args = parser.parse_args()
    open_episodes: dict[tuple[int, str], Episode] = {}
    table: dict[int, str] = {}
    scanned = 0.0
    with open(args.out, "a", buffering=1) as out:
        try:
            while True:
                if time.monotonic() - scanned > RESCAN:
                    table, scanned = daemons(args.match), time.monotonic()
                sample(table, open_episodes, out)
                time.sleep(args.period)
        except KeyboardInterrupt:
            return


if __name__ == "__main__":
    main()
