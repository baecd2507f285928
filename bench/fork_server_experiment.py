"""What a fork-server launcher would save: PSS of a node's Python processes started as
separate interpreters versus forked from one parent that imported the common modules once.

    python bench/fork_server_experiment.py [--hold 8]

Only the imports are measured (each process imports its daemon's entry module and sleeps;
the daemons' runtime heaps are the same either way). Modes:
Every process has finished its imports (and touching) before the --hold wait starts.
- `separate`: one interpreter per entry module, as the launcher starts daemons today;
- `fork`: one parent imports every entry module, `gc.freeze()`, then forks one child per
  entry (parent included in the sum: a zygote stays alive to fork respawns);
- `fork-touch`: like `fork`, but each child then runs `gc.collect()` and reads every
  global of every module three times, so reference-count writes copy the pages they touch:
  a pessimistic bound for a long-running daemon.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable

from benchlib import load_average, memory_kb, table

ENTRIES = ("messaging.launcher", "messaging.heartbeat.__main__", "ccm.__main__",
           "lrmd.__main__", "stonithd.__main__")


def _total(pids: list[int]) -> tuple[float, float]:
    values = [memory_kb(pid) for pid in pids]
    return sum(r for r, _ in values) / 1024, sum(p for _, p in values) / 1024


def separate(hold: float) -> tuple[float, float]:
    code = ("import importlib, sys, time; importlib.import_module(sys.argv[1]); print(flush=True);"
            " time.sleep(600)")
    procs = [subprocess.Popen([sys.executable, "-c", code, entry], stdout=subprocess.PIPE)
             for entry in ENTRIES]
    for proc in procs:  # each prints a line once its imports are done
        proc.stdout.readline()  # type: ignore[union-attr]
    time.sleep(hold)
    try:
        return _total([p.pid for p in procs])
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _touch_everything() -> None:
    for _ in range(3):
        gc.collect()
        for module in list(sys.modules.values()):
            for value in list(getattr(module, "__dict__", {}).values()):
                del value


def forked(hold: float, touch: bool) -> tuple[float, float]:
    """Fork from a parent process of its own (this one keeps its imports out of the sum)."""
    read, write = os.pipe()
    parent = os.fork()
    if parent == 0:
        os.close(read)
        for entry in ENTRIES:
            importlib.import_module(entry)
        gc.collect()
        gc.freeze()
        children = []
        for entry in ENTRIES:
            child = os.fork()
            if child == 0:
                importlib.import_module(entry)
                if touch:
                    _touch_everything()
                os.write(write, b".")
                time.sleep(600)
                os._exit(0)
            children.append(child)
        os.write(write, (" ".join(map(str, children)) + "\n").encode())
        time.sleep(600)
        os._exit(0)
    os.close(write)
    received = b""
    while received.count(b".") < len(ENTRIES) or b"\n" not in received:
        received += os.read(read, 4096)
    pids = [parent, *map(int, received.replace(b".", b"").split())]
    time.sleep(hold)
    try:
        return _total(pids)
    finally:
        for pid in reversed(pids):
            os.kill(pid, 9)
        os.waitpid(parent, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=8.0, help="seconds before measuring")
    args = parser.parse_args()
    rows: list[list[str]] = []
    measures: tuple[tuple[str, Callable[[], tuple[float, float]]], ...] = (
        ("separate interpreters", lambda: separate(args.hold)),
        ("fork server (gc.freeze)", lambda: forked(args.hold, False)),
        ("fork server, children touch every global",
         lambda: forked(args.hold, True)))
    for name, measure in measures:
        rss, pss = measure()
        rows.append([name, f"{rss:.0f}", f"{pss:.0f}"])
    print(f"{len(ENTRIES)} processes: {', '.join(ENTRIES)} ({load_average()})")
    print(table(["how started", "RSS MB", "PSS MB"], rows))


if __name__ == "__main__":
    main()
