"""Cold start in the whole-cluster simulator: every node boots at once, until the DC is
idle and every resource runs (a fence device and one Dummy).

    python bench/crmd_cold_start_sim.py --nodes 3 16 [--spread 20 --crmd-lag 3] [--rounds]

Every daemon core of every node runs in lab.sim (heartbeat keepalive 200 ms, deadtime 1 s,
agent actions 0.05 s, 1 ms latency plus up to 2 ms jitter per packet). Simulated seconds,
not wall time: what the protocols cost (election, join, CIB replication, transitions),
without process start-up or scheduling on a loaded host.

`--spread S` boots the nodes at seeded random instants over S seconds instead of at once,
and `--crmd-lag L` starts each node's controller L seconds after its other daemons: what a
16-node lab on a loaded 2-core host looks like (its nodes' daemons came up over about 20 s,
each crmd about 3 s after heartbeat), so the simulator shows the same rounds (joins
restarted by each arriving node, transitions aborted, CIB master handovers). `--rounds`
prints the DC's count of each. The clock still starts at the first boot.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crmd_failover_sim import RESOURCE

from crmd.fsa_matrix import FsaState
from lab.sim.cluster import FENCE_DEVICE, ControllerCluster, nodes_cib

STEP_S = 0.01


def cold_start(nodes: int, seed: int, limit: float = 120.0, spread: float = 0.0,
               crmd_lag: float = 0.0) -> tuple[float | None, ControllerCluster]:
    names = [f"n{i}" for i in range(1, nodes + 1)]
    cib = nodes_cib(names).replace(b"<resources/>", f"<resources>{RESOURCE}</resources>"
                                   .encode())
    cluster = ControllerCluster(cib, stonith=True, seed=seed)
    cluster.sim.network.links["eth0"].jitter = 0.002
    if spread or crmd_lag:
        _boot_spread(cluster, names, random.Random(seed), spread, crmd_lag)
    else:
        cluster.start_all()
    last_boot = max(_boots.values(), default=0.0) + crmd_lag if spread or crmd_lag else 0.0
    while cluster.now < limit:
        cluster.run_for(STEP_S)
        dc = cluster.dc()
        running = {rsc for rsc, _ in cluster.placement()}
        if cluster.now > last_boot and dc is not None \
                and cluster.controller(dc).state is FsaState.IDLE \
                and {"payload", FENCE_DEVICE} <= running and _all_joined(cluster, names):
            return cluster.now, cluster
    return None, cluster


_boots: dict[str, float] = {}


def _boot_spread(cluster: ControllerCluster, names: list[str], rng: random.Random,
                 spread: float, crmd_lag: float) -> None:
    """Node i boots at a random instant in [0, spread] (the first at 0), its controller
    `crmd_lag` later."""
    sim = cluster.sim
    sim.add_nodes(names, boot=False)
    _boots.clear()
    offsets = sorted(rng.uniform(0, spread) for _ in names)
    order = list(names)
    rng.shuffle(order)
    for name, offset in zip(order, [0.0, *offsets[1:]], strict=True):
        _boots[name] = offset

        def boot(name: str = name) -> None:
            sim.start(name)
            if crmd_lag:
                cluster.stop_controller(name)
                sim.scheduler.call_at(sim.now + crmd_lag,
                                      lambda: cluster.restart_controller(name))
        sim.scheduler.call_at(offset, boot)


def _all_joined(cluster: ControllerCluster, names: list[str]) -> bool:
    return all(n in cluster.alive and n in cluster.with_controller for n in names) and all(
        cluster.controller(n).dc == cluster.dc() for n in names)


def rounds(cluster: ControllerCluster) -> Counter[str]:
    """What the DC's controller and every cib did: joins offered, transitions started and
    aborted, CIB master changes, writes refused (outcome unknown)."""
    counted: Counter[str] = Counter()
    dc = cluster.dc()
    for node in cluster.names:
        for record in cluster.sim.daemon(node, "crmd").log.records:
            if node == dc and record.event in ("join_offered", "transition_started",
                                               "transition_aborted", "election_started"):
                counted[record.event] += 1
            if record.event == "fsa_input" and node == dc and \
                    record.fields.get("input") == "I_NODE_JOIN":
                counted["I_NODE_JOIN"] += 1
        for record in cluster.sim.daemon(node, "cib").log.records:
            if record.event == "cib_master" and node == dc:
                counted["cib_master (DC's view)"] += 1
    counted["writes resent"] = sum(
        1 for node in cluster.names for _, _, code in getattr(
            cluster.sim.daemon(node, "crmd").state.get("cib-writes"), "refused", [])
        if code == 102)
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 16])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spread", type=float, default=0.0,
                        help="boot the nodes at random instants over this many seconds")
    parser.add_argument("--crmd-lag", type=float, default=0.0,
                        help="each controller starts this long after its node's daemons")
    parser.add_argument("--rounds", action="store_true", help="count the DC's rounds")
    args = parser.parse_args()
    print("| nodes | simulated s to an idle DC with everything running | after the last "
          "controller started |" + (" rounds |" if args.rounds else ""))
    print("|---|---|---|" + ("---|" if args.rounds else ""))
    for nodes in args.nodes:
        took, cluster = cold_start(nodes, args.seed, spread=args.spread,
                                   crmd_lag=args.crmd_lag)
        last = max(_boots.values(), default=0.0) + args.crmd_lag
        text = "not settled" if took is None else f"{took:.2f} | {took - last:.2f}"
        extra = f" {dict(rounds(cluster))} |" if args.rounds else ""
        print(f"| {nodes} | {text} |{extra}")


if __name__ == "__main__":
    main()
