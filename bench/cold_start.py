"""Cold start: every node of a configured cluster boots at once, until the DC is idle and
every resource runs.

    python bench/cold_start.py [--nodes 3,16] [--pacemaker]

Both sides are first brought up and given an ocf:pacemaker:Dummy (the configuration is
then on disk), every node is killed (kill -9 of the whole node), and the clock runs from
the first node's boot to the first `crm_mon -1` showing a DC, every node online and no
resource stopped, starting, stopping or failed (polled every 100 ms; the nodes boot one
after the other as the tools allow). Ours is asked through the daemons' sockets (our_probe:
the controllers say the DC is idle with every node joined, the lrmds that the Dummy runs
on one node), polled every 50 ms.
Pacemaker's first `up` (namespaces, configuration and fencing device included) is printed
beside it. Our side needs cib and crmd; it prints a skip line until they exist.
Issue 10's goal: at most 3 s at 3 nodes, 6 s at 16 (Pacemaker: about 24 s).
"""

from __future__ import annotations

import argparse
import time

import pcmk
from benchlib import OurLab, load_average, missing_daemons, our_cibadmin, ratio, table
from crm_probe import DUMMY, wait_stable
from our_probe import OurCluster, wait_until

GOALS = {3: 3.0, 16: 6.0}


def ours(nodes: int, lab_prefix: str = "hcbcold") -> tuple[float, float] | None:
    """(seconds from the first node's boot, seconds from the last node's boot command
    returning) until settled."""
    gone = missing_daemons("cib", "crmd")
    if gone:
        print(f"SKIP ours at {nodes} nodes: no {', '.join(gone)} daemon in this checkout yet")
        return None
    lab = OurLab(f"{lab_prefix}{nodes}")
    cluster = OurCluster(lab.name)
    try:
        lab.up(nodes, "--config", "empty", wait=300)
        names = sorted(lab.status()["nodes"])
        our_cibadmin(cluster.state_dir(names[0]), "-C", "-o", "resources", "-X", DUMMY)
        if not wait_until(lambda: cluster.settled(names, "dummy"), 300):
            raise RuntimeError("not stable after configuration")
        for name in names:
            cluster.kill_node(name)
        started = time.monotonic()
        for name in names:
            lab.lab("start", name)
        booted = time.monotonic()
        if not wait_until(lambda: cluster.settled(names, "dummy"), 120, poll=0.05):
            return None
        return time.monotonic() - started, time.monotonic() - booted
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
    parser.add_argument("--lab", default="hcbcold",
                        help="name prefix of our labs (each is PREFIX<nodes>)")
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
        measured = ours(count, args.lab)
        took = None if measured is None else measured[0]
        goal = GOALS.get(count)
        verdict = "" if took is None or goal is None else ("ok" if took <= goal else "missed")
        rows.append([f"ours {count} nodes", "not measured" if measured is None else
                     f"{measured[0]:.1f} ({measured[1]:.1f} after the last boot command)",
                     ratio(took, theirs), verdict, load_average()])
    print("\nCold start until the DC is idle and every resource runs (s)")
    print(table(["cluster", "seconds", "vs Pacemaker", "goal", "load"], rows))


if __name__ == "__main__":
    main()
