"""Memory of one lab node: PSS summed over its daemons (RSS beside it), per daemon, vs Pacemaker.

    python bench/node_memory.py [--settle 3] [--pacemaker] [--lab NAME] [--no-zygote]

Ours: a 1-node lab (`hacluster lab up --nodes 1`), so no other node shares pages with it
and PSS is what the node really costs; every process in the node's network namespace is
counted except the lab's own holder (it stands for the machine's init, not for the stack).
The daemons present are whatever the launcher starts today (heartbeat, ccm, lrmd, stonithd,
then cib, attrd, crmd, pengine as they land). Pacemaker + Corosync: `pacemaker-lab.sh rss`
in its 3-node lab (it has no 1-node mode), so its PSS is a little lower than alone: nodes
share library pages there. The launcher forks its Python daemons from a preloaded zygote
(messaging.zygote); --no-zygote measures them started as separate interpreters. --imports
adds, per daemon entry module, the memory and the packages a fresh interpreter has after
importing it (python -X importtime for the slowest).
Issue 10's goal: at most 120 MB PSS for the whole node.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import pcmk
from benchlib import OurLab, load_average, memory_kb, process_name, ratio, table

GOAL_PSS_MB = 120
# the lab's own processes: the holder (the node's init) and the nsenter that started the
# launcher inside the node; a real machine has neither
LAB_PLUMBING = ("lab.holder", "holder.py", "bash", "unshare", "nsenter")


def our_node(settle: float, name: str = "hcbmem", zygote: bool = True
             ) -> dict[str, tuple[int, int]]:
    """{process name: (RSS kB, PSS kB)} of the one node, plus TOTAL."""
    lab = OurLab(name)
    # the node's launcher exec'd as on a machine: forked from the lab's power switch
    # (lab.nodefork) it would share pages with a process outside the node, and its PSS
    # would count only part of them
    os.environ["HACLUSTER_LAB_EXEC_BOOT"] = "1"
    if zygote:
        os.environ.pop("HACLUSTER_NO_ZYGOTE", None)
    else:
        os.environ["HACLUSTER_NO_ZYGOTE"] = "1"  # the lab passes it to the node's launcher
    try:
        lab.up(1)
        time.sleep(settle)  # let lazy first-request imports happen before measuring
        node = next(iter(lab.status()["nodes"]))
        found: dict[str, tuple[int, int]] = {}
        for pid in lab.node_pids(node):
            name = process_name(pid)
            if name in LAB_PLUMBING:
                continue
            rss, pss = memory_kb(pid)
            old = found.get(name, (0, 0))
            found[name] = (old[0] + rss, old[1] + pss)
        found["TOTAL"] = (sum(r for r, _ in found.values()), sum(p for _, p in found.values()))
        return found
    finally:
        lab.down()


def pacemaker_node() -> dict[str, tuple[int, int]]:
    why = pcmk.missing()
    if why:
        print(f"SKIP Pacemaker side: {why}")
        return {}
    with pcmk.session() as (lab, _):
        time.sleep(3)
        per_node = lab.memory()
    node = min(per_node, key=lambda n: per_node[n].get("TOTAL:pss", 0))
    values = per_node[node]
    names = [*sorted({k.rsplit(":", 1)[0] for k in values} - {"TOTAL"}), "TOTAL"]
    return {name: (values[f"{name}:rss"], values[f"{name}:pss"]) for name in names}


# what each process imports at start: the launcher and the daemons' entry modules
ENTRIES = ("messaging.launcher", "messaging.heartbeat.__main__", "ccm.__main__", "cib.__main__",
           "lrmd.__main__", "stonithd.__main__", "pengine.__main__", "crmd.__main__")
_PROBE = """import importlib, json, sys
importlib.import_module(sys.argv[1])
roll = {l.split(':')[0]: int(l.split()[1]) for l in open('/proc/self/smaps_rollup')
        if l.endswith('kB\\n')}
tops = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names))
print(json.dumps([roll['Rss'], roll['Anonymous'], [t for t in tops if not t.startswith('_')]]))
"""


def import_costs() -> list[list[str]]:
    """Per entry module: RSS and private (anonymous) memory after importing it in a fresh
    interpreter, the slowest top-level imports (-X importtime, cumulative), the packages."""
    rows = []
    for entry in ENTRIES:
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", _PROBE, entry],
                              capture_output=True, text=True)
        if done.returncode != 0:
            continue  # not installed yet
        rss, anon, packages = json.loads(done.stdout)
        slow: dict[str, int] = {}
        for line in done.stderr.splitlines()[1:]:
            fields = line.split("|")
            if len(fields) == 3 and not fields[2].startswith("  "):
                name = fields[2].strip().split(".")[0]
                slow[name] = slow.get(name, 0) + int(fields[1])
        top = sorted(slow.items(), key=lambda kv: -kv[1])[:5]
        rows.append([entry, f"{rss / 1024:.1f}", f"{anon / 1024:.1f}",
                     ", ".join(f"{n} {us / 1000:.0f}" for n, us in top), " ".join(packages)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--pacemaker", action="store_true")
    parser.add_argument("--lab", default="hcbmem", help="name of our 1-node lab")
    parser.add_argument("--no-zygote", action="store_true",
                        help="start the daemons as separate interpreters (HACLUSTER_NO_ZYGOTE)")
    parser.add_argument("--imports", action="store_true",
                        help="also: what each daemon's entry module imports, and its cost")
    args = parser.parse_args()
    if args.imports:
        print(f"Imports of each entry module in a fresh interpreter ({load_average()})")
        print(table(["entry", "RSS MB", "private MB", "slowest imports (ms, cumulative)",
                     "non-stdlib packages"], import_costs()))
    ours = our_node(args.settle, args.lab, not args.no_zygote)
    ours_load = load_average()
    theirs = pacemaker_node() if args.pacemaker else {}
    mb = 1024
    print(f"\nOur node, 1-node lab ({ours_load})")
    print(table(["process", "RSS MB", "PSS MB"],
                [[name, f"{r / mb:.1f}", f"{p / mb:.1f}"] for name, (r, p) in ours.items()]))
    if theirs:
        print(f"\nPacemaker + Corosync node, 3-node lab, smallest node ({load_average()})")
        print(table(["process", "RSS MB", "PSS MB"],
                    [[n, f"{r / mb:.1f}", f"{p / mb:.1f}"] for n, (r, p) in theirs.items()]))
    our_rss, our_pss = ours["TOTAL"]
    their_rss, their_pss = theirs.get("TOTAL", (None, None))
    print("\nWhole node")
    print(table(["", "ours", "Pacemaker", "ratio", f"goal PSS <= {GOAL_PSS_MB} MB"],
                [["PSS MB", f"{our_pss / mb:.1f}", f"{their_pss / mb:.1f}" if their_pss else "-",
                  ratio(our_pss, their_pss), "ok" if our_pss / mb <= GOAL_PSS_MB else "over"],
                 ["RSS MB", f"{our_rss / mb:.1f}", f"{their_rss / mb:.1f}" if their_rss else "-",
                  ratio(our_rss, their_rss), ""]]))


if __name__ == "__main__":
    main()
