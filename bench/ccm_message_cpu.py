"""CPU per event of one ccm core during a 16-node cold boot, in one process (load-independent).

    python bench/ccm_message_cpu.py [--nodes 16] [--spread 0.3] [--repeat 20]

The simulator (lab.sim, heartbeat and ccm cores) boots the nodes one every SPREAD seconds
and runs until the views agree plus 2 s; every event fed to n1's ccm core is recorded. The
table replays those events into a fresh core REPEAT times and gives the CPU microseconds per
event (thread CPU time, median of the repeats), by kind of event, with the count of each:
what one daemon's membership core costs per message, apart from the socket and decoding
work around it (see `cold_start.py --profile` for that).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import load_average, table

from ccm.core import PeerMessageReceived, PeerStatusChanged
from ccm.node import CcmNode
from lab.sim import MEMBERSHIP, SimConfig, Simulation, stabilize

KEEPALIVE = 0.2


def _kind(event: Any) -> str:
    if isinstance(event, PeerMessageReceived):
        return type(event.message).__name__
    if isinstance(event, PeerStatusChanged):
        return "status " + ("up" if event.up else "down")
    return f"timer {event.key}"


def record(nodes: int, spread: float) -> tuple[list[Any], dict[str, Any]]:
    """The events n1's ccm core handled during the boot, and how to build a core like it."""
    recorded: list[Any] = []
    built: dict[str, Any] = {}
    handle = CcmNode.handle

    def recording(core: CcmNode, event: Any) -> Any:
        if core.name == "n1":
            recorded.append(event)
        return handle(core, event)

    CcmNode.handle = recording  # type: ignore[method-assign,assignment]
    try:
        sim = Simulation(MEMBERSHIP, seed=1, config=SimConfig(keepalive=KEEPALIVE))
        names = [f"n{index}" for index in range(1, nodes + 1)]
        sim.add_nodes(names, boot=False)  # every node's ha.cf lists all of them
        for name in names:
            sim.start(name)
            sim.run_for(spread)
        if stabilize(sim, limit=60) is None:
            raise SystemExit("the simulated cluster did not agree on a view")
        sim.run_for(2.0)
        core = sim.nodes["n1"].daemons["ccm"].core
        built.update(name="n1", settings=core.quorum.settings,
                     timing=core.membership.timing)
    finally:
        CcmNode.handle = handle  # type: ignore[method-assign]
    return recorded, built


def replay(events: list[Any], built: dict[str, Any], repeat: int) -> dict[str, float]:
    """Median CPU microseconds per event, by kind."""
    per_kind: dict[str, list[float]] = {}
    for _ in range(repeat):
        core = CcmNode(built["name"], built["settings"], built["timing"], random.Random(0))
        core.start(events[0].now if hasattr(events[0], "now") else 0.0)
        spent: Counter[str] = Counter()
        for event in events:
            started = time.thread_time_ns()
            core.handle(event)
            spent[_kind(event)] += time.thread_time_ns() - started
        for kind, nanos in spent.items():
            per_kind.setdefault(kind, []).append(nanos)
    counts = Counter(_kind(event) for event in events)
    return {kind: statistics.median(values) / 1000 / counts[kind]
            for kind, values in per_kind.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--spread", type=float, default=0.3)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    events, built = record(args.nodes, args.spread)
    micros = replay(events, built, args.repeat)
    counts = Counter(_kind(event) for event in events)
    rows = [[kind, str(counts[kind]), f"{micros[kind]:.1f}",
             f"{micros[kind] * counts[kind] / 1000:.2f}"]
             for kind in sorted(counts, key=lambda k: -micros[k] * counts[k])]
    total = sum(micros[k] * counts[k] for k in counts)
    rows.append(["all", str(len(events)), f"{total / len(events):.1f}", f"{total / 1000:.2f}"])
    print(f"n1's ccm core, {args.nodes}-node boot (one node every {args.spread} s), "
          f"{load_average()}")
    print(table(["event", "count", "CPU us per event", "CPU ms in all"], rows))


if __name__ == "__main__":
    main()
