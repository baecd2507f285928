"""CPU cost of one membership change: what every other node's daemons spend when one node
leaves and comes back (two views), against the same time spent idle.

    python bench/view_cost.py [--nodes 16] [--rounds 3] [--lab NAME]

A lab of N nodes with the Dummy settles; then per round the CPU seconds of every daemon
kind summed over the nodes other than the last one are sampled across (a) a quiet interval
and (b) a power cut of the last node, its view, its boot and the cluster settled again
(fencing off: the node is cut and started by the bench, so the DC sees a node leave and
join). (b) - (a) scaled to the same length is what two views and one join cost the rest
of the cluster: the share of a cold start's CPU that grows with its number of views.
"""

from __future__ import annotations

import argparse
import time

from benchlib import OurLab, cpu_seconds, load_average, our_cibadmin, process_name, table
from crm_probe import DUMMY
from our_probe import OurCluster, wait_until


def sample(lab: OurLab, nodes: list[str]) -> dict[str, float]:
    used: dict[str, float] = {}
    for node in nodes:
        for pid in lab.node_pids(node):
            name = process_name(pid)
            used[name] = used.get(name, 0.0) + cpu_seconds(pid)
    return used


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lab", default="hcbview")
    args = parser.parse_args()
    lab, cluster = OurLab(args.lab), OurCluster(args.lab)
    try:
        lab.up(args.nodes, "--config", "empty", wait=300)
        names = sorted(lab.status()["nodes"], key=lambda n: int(n[1:]))
        our_cibadmin(cluster.state_dir(names[0]), "-C", "-o", "resources", "-X", DUMMY)
        our_cibadmin(cluster.state_dir(names[0]), "-M", "-o", "crm_config", "-X",
                     '<cluster_property_set id="cib-bootstrap-options"><nvpair '
                     'id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" '
                     'value="false"/></cluster_property_set>')
        if not wait_until(lambda: cluster.settled(names, "dummy"), 300):
            raise RuntimeError("not stable after configuration")
        others, last = names[:-1], names[-1]
        rows = []
        for _ in range(args.rounds):
            time.sleep(3)
            before, started = sample(lab, others), time.monotonic()
            cluster.kill_node(last)
            wait_until(lambda: cluster.settled(others, "dummy"), 120, poll=0.1)
            lab.lab("start", last)
            wait_until(lambda: cluster.settled(names, "dummy"), 120, poll=0.1)
            time.sleep(1)
            changed, took = delta(sample(lab, others), before), time.monotonic() - started
            quiet_before = sample(lab, others)
            time.sleep(took)
            quiet = delta(sample(lab, others), quiet_before)
            for name in sorted(changed, key=lambda n: -changed[n]):
                if changed[name] >= 0.05:
                    rows.append([name, f"{changed[name]:.2f}", f"{quiet.get(name, 0):.2f}",
                                 f"{changed[name] - quiet.get(name, 0):.2f}", f"{took:.1f}"])
            rows.append(["total", f"{sum(changed.values()):.2f}",
                         f"{sum(quiet.values()):.2f}",
                         f"{sum(changed.values()) - sum(quiet.values()):.2f}", load_average()])
        print(f"CPU s of {len(others)} nodes across a leave and rejoin of {last}")
        print(table(["process", "leave+join", "same time idle", "difference", "s / load"],
                    rows))
    finally:
        lab.down()


if __name__ == "__main__":
    main()
