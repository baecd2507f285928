"""Failover in the whole-cluster simulator: kill -9 of the node running a resource, until
that resource's start has completed on another node, fencing included.

    python bench/crmd_failover_sim.py --nodes 3 16 --trials 5

Every daemon core of every node runs in lab.sim (heartbeat keepalive 200 ms, deadtime 1 s,
fence device 0.1 s, agent actions 0.05 s, 1 ms latency plus up to 2 ms jitter per packet).
Simulated seconds, not wall time: what the protocols cost, without process scheduling.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.sim.cluster import ControllerCluster, nodes_cib

RESOURCE = ('<primitive id="payload" class="ocf" provider="heartbeat" type="Dummy">'
            '<operations><op id="payload-mon" name="monitor" interval="10s" timeout="20s"/>'
            "</operations></primitive>")


def failover(nodes: int, seed: int) -> float:
    names = [f"n{i}" for i in range(1, nodes + 1)]
    cib = nodes_cib(names).replace(b"<resources/>", f"<resources>{RESOURCE}</resources>"
                                   .encode())
    cluster = ControllerCluster(cib, stonith=True, seed=seed)
    cluster.sim.network.links["eth0"].jitter = 0.002
    cluster.start_all()
    cluster.run_for(10.0)
    victim = next(n for rsc, n in cluster.placement() if rsc == "payload")
    killed = cluster.now
    cluster.kill(victim)
    cluster.run_for(10.0)
    starts = [t for t, n, rsc, action, _ in cluster.agents.runs
              if rsc == "payload" and action == "start" and t > killed]
    return starts[0] + cluster.agents.default_duration - killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 16])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    print("| nodes | trials | p50 s | max s |")
    print("|---|---|---|---|")
    for nodes in args.nodes:
        times = sorted(failover(nodes, seed) for seed in range(1, args.trials + 1))
        print(f"| {nodes} | {len(times)} | {statistics.median(times):.3f} | {times[-1]:.3f} |")


if __name__ == "__main__":
    main()
