"""Wake-ups and CPU per daemon kind in a running lab: what an idle node spends, and where.

    python bench/idle_wakeups.py --lab hbc3 [--window 20]

Works on a lab that is already up (`hacluster lab --name NAME up`). Over --window seconds
it reads, for every process in each node's network namespace, utime+stime from
/proc/PID/stat (all threads) and the context switches of every thread
(/proc/PID/task/*/status, voluntary + nonvoluntary): an idle thread switches out once per
wake-up, so their sum per second counts wake-ups (zmq's I/O threads included). Prints the
mean per node of each daemon kind. The lab's plumbing (holder, shells) is left out.
"""

from __future__ import annotations

import argparse
import time

from benchlib import OurLab, context_switches, cpu_seconds, load_average, process_name, table

LAB_PLUMBING = ("lab.holder", "holder.py", "bash", "unshare", "nsenter", "sleep")


def snapshot(pids: dict[str, list[int]]) -> dict[int, tuple[str, float, int]]:
    return {pid: (process_name(pid), cpu_seconds(pid), context_switches(pid))
            for procs in pids.values() for pid in procs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    lab = OurLab(args.lab)
    names = sorted(lab.status()["nodes"])
    pids = {n: lab.node_pids(n) for n in names}
    before = snapshot(pids)
    started = time.monotonic()
    time.sleep(args.window)
    elapsed = time.monotonic() - started
    after = snapshot(pids)
    kinds: dict[str, list[float]] = {}
    for pid, (name, cpu, count) in before.items():
        if name in LAB_PLUMBING or pid not in after:
            continue
        kind = kinds.setdefault(name, [0.0, 0.0])
        kind[0] += 100 * max(0.0, after[pid][1] - cpu) / elapsed
        kind[1] += max(0, after[pid][2] - count) / elapsed
    nodes = len(names)
    rows = [[name, f"{cpu / nodes:.2f}", f"{wakes / nodes:.1f}"]
            for name, (cpu, wakes) in sorted(kinds.items())]
    rows.append(["node total", f"{sum(k[0] for k in kinds.values()) / nodes:.2f}",
                 f"{sum(k[1] for k in kinds.values()) / nodes:.1f}"])
    print(f"lab {args.lab}, {nodes} nodes, {elapsed:.0f} s, load {load_average()}")
    print(table(["daemon", "CPU % of a core per node", "wake-ups/s per node"], rows))


if __name__ == "__main__":
    main()
