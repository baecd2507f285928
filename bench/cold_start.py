"""Cold start: every node of a configured cluster boots at once, until the DC is idle and
every resource runs.

    python bench/cold_start.py [--nodes 3,16] [--pacemaker]

Both sides are first brought up and given an ocf:pacemaker:Dummy (the configuration is
then on disk), every node is killed (kill -9 of the whole node), and the clock runs from
the first node's boot to the first `crm_mon -1` showing a DC, every node online and no
resource stopped, starting, stopping or failed (polled every 100 ms, with the same
crm_probe test on both sides; the nodes boot one after the other as the tools allow).
Pacemaker's first `up` (namespaces, configuration and fencing device included) is printed
beside it. Our side needs cib and crmd; it prints a skip line until they exist.
Issue 10's goal: at most 3 s at 3 nodes, 6 s at 16 (Pacemaker: about 24 s).
"""

from __future__ import annotations

import argparse
import time

import pcmk
from benchlib import OurLab, load_average, missing_daemons, ratio, table
from crm_probe import DUMMY, OUR_BIN, tool, wait_stable

GOALS = {3: 3.0, 16: 6.0}


def ours(nodes: int) -> float | None:
    gone = missing_daemons("cib", "crmd")
    if gone:
        print(f"SKIP ours at {nodes} nodes: no {', '.join(gone)} daemon in this checkout yet")
        return None
    lab = OurLab(f"hcbcold{nodes}")
    try:
        lab.up(nodes, wait=300)
        names = sorted(lab.status()["nodes"])

        def run(node: str, script: str) -> str:
            return lab.lab("exec", node, "/bin/bash", "-c", script)

        run(names[0], f"{tool(OUR_BIN, 'cibadmin')} -C -o resources -X '{DUMMY}'")
        if wait_stable(run, names[0], OUR_BIN, nodes) is None:
            raise RuntimeError("not stable after configuration")
        for name in names:
            lab.lab("kill", name)
        started = time.monotonic()
        for name in names:
            lab.lab("start", name)
        if wait_stable(run, names[0], OUR_BIN, nodes, timeout=120) is None:
            return None
        return time.monotonic() - started
    finally:
        lab.down()


def pacemaker() -> tuple[float, float | None]:
    """(seconds of the first `up`, seconds of a cold restart of all three nodes)."""
    with pcmk.session() as (lab, first_up):
        for node in pcmk.NODES:
            lab.run("kill", node)
        started = time.monotonic()
        for node in pcmk.NODES:
            lab.run("start", node)
        took = wait_stable(lambda n, s: lab.exec(n, s), pcmk.NODES[0], None, 3, timeout=300)
        return first_up, None if took is None else time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="3,16")
    parser.add_argument("--pacemaker", action="store_true")
    args = parser.parse_args()
    rows, theirs = [], None
    if args.pacemaker:
        why = pcmk.missing()
        if why:
            print(f"SKIP Pacemaker side: {why}")
        else:
            first_up, theirs = pacemaker()
            rows.append(["Pacemaker 3 nodes, first `up` (incl. configuration)",
                         f"{first_up:.1f}", "-", "", load_average()])
            rows.append(["Pacemaker 3 nodes, cold restart", f"{theirs:.1f}" if theirs else
                         "no stable cluster", "1.00x", "", load_average()])
    for count in (int(n) for n in args.nodes.split(",") if n):
        took = ours(count)
        goal = GOALS.get(count)
        verdict = "" if took is None or goal is None else ("ok" if took <= goal else "missed")
        rows.append([f"ours {count} nodes", "not measured" if took is None else f"{took:.1f}",
                     ratio(took, theirs), verdict, load_average()])
    print("\nCold start until the DC is idle and every resource runs (s)")
    print(table(["cluster", "seconds", "vs Pacemaker", "goal", "load"], rows))


if __name__ == "__main__":
    main()
