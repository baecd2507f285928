"""16 nodes in the simulator on a loaded-host model: idle heartbeat CPU per node and the
kill -> agreed-view latency (the lab's detect_latency, with exact time).

Every node runs the whole stack (heartbeat, ccm, lrmd, stonithd, cib, crmd: lab.sim.cluster)
with no resources. The host model is the namespace lab's (tests/unit/lab/
test_sim_ccm_latency.py): every node's heartbeat shares 2 cores at `--rx-cost` of CPU per
received datagram, and a daemon's requests to heartbeat take `--ipc` each, one at a time.
Idle CPU per node = datagrams a node's heartbeat received per second x rx-cost (heartbeat's
share only; the lab measures every process). Latency: a node is killed just after its
keepalive left (the worst moment), time until every survivor's ccm installed a view without
it; victims rotate over seeds. With --busy the kill comes while the cold start's cib and
crmd traffic (mostly addressed messages) still flows.

    python bench/sim_sixteen_nodes.py [--nodes 16] [--keepalive 0.1] [--trials 8] [--busy]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.sim import stabilize
from lab.sim.cluster import ControllerCluster, nodes_cib


def received(cluster: ControllerCluster) -> dict[str, int]:
    return {n: cluster.sim.core(n, "heartbeat").counters["rx.packets"]
            for n in sorted(cluster.alive)}


def build(args: argparse.Namespace, seed: int) -> ControllerCluster:
    names = [f"n{i:02d}" for i in range(1, args.nodes + 1)]
    cluster = ControllerCluster(nodes_cib(names), seed=seed, keepalive=args.keepalive,
                                deadtime=5 * args.keepalive)
    cluster.start_all()
    cluster.run_for(args.settle)
    network = cluster.sim.network
    network.rx_cost, network.host_cores = args.rx_cost, 2
    cluster.sim.ipc_delay = args.ipc
    cluster.run_for(2.0)
    return cluster


def idle_cpu(cluster: ControllerCluster, window: float) -> list[float]:
    before = received(cluster)
    cluster.run_for(window)
    after = received(cluster)
    return [100 * (after[n] - before[n]) * cluster.sim.network.rx_cost / window for n in after]


def kill_latency(cluster: ControllerCluster, victim: str) -> tuple[float, float]:
    """(seconds to agreement, datagrams received per survivor meanwhile)."""
    sim = cluster.sim
    mark = len(sim.wire_log)
    sim.run_until_true(lambda: any(w[1] == victim for w in sim.wire_log[mark:]), 1.0, 0.0005)
    before = received(cluster)
    cluster.kill(victim)
    took = stabilize(sim, 10, step=0.001)
    after = received(cluster)
    per_node = statistics.mean(after[n] - before[n] for n in after if n != victim)
    return (float("nan") if took is None else took), per_node


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--keepalive", type=float, default=0.1)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--rx-cost", type=float, default=0.0003)
    parser.add_argument("--ipc", type=float, default=0.005)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--busy", action="store_true",
                        help="kill 2 s after --settle, while the cold start's cib/crmd "
                        "traffic still flows (no idle window)")
    args = parser.parse_args()
    started = time.process_time()
    cpu: list[float] = []
    latencies: list[float] = []
    receptions: list[float] = []
    for trial in range(args.trials):
        cluster = build(args, seed=trial + 1)
        if not args.busy:
            cpu += idle_cpu(cluster, args.window)  # also lets the cold start settle
        victim = f"n{1 + (trial * 5) % args.nodes:02d}"
        took, per_node = kill_latency(cluster, victim)
        latencies.append(took)
        receptions.append(per_node)
        print(f"trial {trial + 1} victim {victim}: {took:.3f} s, "
              f"{per_node:.0f} datagrams per survivor", file=sys.stderr)
    ordered = sorted(latencies)
    print(f"\n{args.nodes} nodes, keepalive {args.keepalive * 1000:.0f} ms, host model "
          f"2 cores x {args.rx_cost * 1000:.2f} ms/datagram, ipc {args.ipc * 1000:.0f} ms")
    if cpu:
        print(f"idle heartbeat CPU per node: p50 {statistics.median(cpu):.2f}% "
              f"max {max(cpu):.2f}%")
    print(f"kill -> agreed view ({len(ordered)} trials): p50 {statistics.median(ordered):.3f} s "
          f"p99 {ordered[-1]:.3f} s (goal {6 * args.keepalive:.2f} s); "
          f"{statistics.mean(receptions):.0f} datagrams per survivor meanwhile")
    print(f"(simulator CPU {time.process_time() - started:.0f} s)")


if __name__ == "__main__":
    main()
