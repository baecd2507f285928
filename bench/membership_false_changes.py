"""False membership changes per hour under packet loss (no node actually fails).

Two sources, both printed:
- simulator (lab.sim, deterministic): a full simulated hour per row, loss applied to every
  packet one node sends or receives, 3 nodes; counted = views installed after the first
  stable one. No extrapolation.
- namespace lab (root, real daemons): SECONDS of real time per row with `lab loss n2 PCT`;
  counted = view id increases seen by n1's ccm; the per-hour figure is EXTRAPOLATED from that
  short run (count * 3600 / SECONDS), so zero means "none in SECONDS", not "none in an hour".

    python bench/membership_false_changes.py [--seconds 120] [--no-lab] [--deadtime-x 5,8]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccm.api import CcmClient
from lab.cli import lab, wait_for_view
from lab.layout import load
from lab.sim import MEMBERSHIP, SimConfig, Simulation, membership_events, stabilize
from messaging.errors import HAError

LOSSES = (0, 10, 30)
KEEPALIVE = 0.2
LAB = "hcfalse"


def simulated(loss: int, deadtime_x: int, seconds: float = 3600.0, seed: int = 1) -> int:
    config = SimConfig(keepalive=KEEPALIVE, deadtime=deadtime_x * KEEPALIVE)
    sim = Simulation(MEMBERSHIP, seed=seed, config=config)
    sim.add_nodes(["n1", "n2", "n3"])
    if stabilize(sim, limit=10) is None:
        raise SystemExit("simulator did not stabilise")
    before = len(membership_events(sim))
    sim.network.loss["n2"] = loss / 100
    sim.run_for(seconds)
    # one view change = the same view id installed on several nodes: count distinct ids
    return len({event.view_id for _, _, event in membership_events(sim)[before:]})


def cli(*args: str) -> None:
    result = CliRunner().invoke(lab, ["--name", LAB, *args], catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"lab {' '.join(args)} failed: {result.output}")


def real(loss: int, deadtime_x: int, seconds: float) -> int:
    ka_ms = int(KEEPALIVE * 1000)
    cli("down")
    cli("up", "--nodes", "3", "--keepalive", str(ka_ms), "--deadtime", str(deadtime_x * ka_ms),
        "--wait", "60")
    state = load(LAB, False)
    assert state is not None
    client = CcmClient(Path(state.nodes["n1"].directory) / "state")
    try:
        wait_for_view(state, list(state.nodes), 60)
        first = client.query().view_id
        if loss:
            cli("loss", "n2", str(loss))
        ids = set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(HAError):  # a missed poll is not a membership change
                ids.add(client.query(timeout=2.0).view_id)
            time.sleep(0.05)
        return len({i for i in ids if i != first})
    finally:
        cli("down")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--deadtime-x", default="5,8")
    parser.add_argument("--no-lab", action="store_true")
    args = parser.parse_args()
    factors = [int(x) for x in args.deadtime_x.split(",")]
    use_lab = not args.no_lab and os.geteuid() == 0
    print("False membership changes per hour, 3 nodes, keepalive 200 ms, loss on n2 both ways")
    print(f"{'deadtime':>9} {'loss':>5} {'sim /h (1 h simulated)':>23} "
          f"{'lab count':>9} {'lab /h (extrapolated)':>22}")
    for factor in factors:
        for loss in LOSSES:
            sim = simulated(loss, factor)
            lab_cell, per_hour = "-", "-"
            if use_lab:
                count = real(loss, factor, args.seconds)
                lab_cell = f"{count} in {args.seconds:.0f}s"
                per_hour = f"{count * 3600 / args.seconds:.0f}"
            print(f"{factor:>3} x ka {loss:>4}% {sim:>23} {lab_cell:>9} {per_hour:>22}")
    if use_lab:
        print(f"Lab figures are extrapolated from {args.seconds:.0f} s runs per row.")


if __name__ == "__main__":
    main()
