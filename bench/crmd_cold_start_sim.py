"""Cold start in the whole-cluster simulator: every node boots at once, until the DC is
idle and every resource runs (a fence device and one Dummy).

    python bench/crmd_cold_start_sim.py --nodes 3 16

Every daemon core of every node runs in lab.sim (heartbeat keepalive 200 ms, deadtime 1 s,
agent actions 0.05 s, 1 ms latency plus up to 2 ms jitter per packet). Simulated seconds,
not wall time: what the protocols cost (election, join, CIB replication, transitions),
without process start-up or scheduling on a loaded host.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crmd_failover_sim import RESOURCE

from crmd.fsa import FsaState
from lab.sim.cluster import FENCE_DEVICE, ControllerCluster, nodes_cib

STEP_S = 0.01


def cold_start(nodes: int, seed: int, limit: float = 60.0) -> float | None:
    names = [f"n{i}" for i in range(1, nodes + 1)]
    cib = nodes_cib(names).replace(b"<resources/>", f"<resources>{RESOURCE}</resources>"
                                   .encode())
    cluster = ControllerCluster(cib, stonith=True, seed=seed)
    cluster.sim.network.links["eth0"].jitter = 0.002
    cluster.start_all()
    while cluster.now < limit:
        cluster.run_for(STEP_S)
        dc = cluster.dc()
        running = {rsc for rsc, _ in cluster.placement()}
        if dc is not None and cluster.controller(dc).state is FsaState.IDLE \
                and {"payload", FENCE_DEVICE} <= running:
            return cluster.now
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 16])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("| nodes | simulated s to an idle DC with everything running |")
    print("|---|---|")
    for nodes in args.nodes:
        took = cold_start(nodes, args.seed)
        print(f"| {nodes} | {'not settled' if took is None else f'{took:.2f}'} |")


if __name__ == "__main__":
    main()
