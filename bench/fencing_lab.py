"""Fence request to result in the namespace lab (root): real launchers, heartbeat, ccm,
stonithd and fence_lab through the lab's power switch (lab.pdu).

For TRIALS rounds: a random origin runs `stonith_admin --reboot T` (T another node) inside
its node; the wall time of that command is request -> result as an administrator sees it
(nsenter + Python start of stonith_admin included; the `-L` row is that client overhead
alone). Then `--off T` and `--on T` the same way. After every round the bench waits until
all nodes agree on one full view again (not timed).

    python bench/fencing_lab.py [--trials 5] [--nodes 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

NAME = "hcfbench"
BIN = Path(sys.executable).parent


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / "hacluster"), "lab", "--name", NAME, *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}"))
    if check and done.returncode != 0:
        sys.exit(f"lab {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done


def timed(origin: str, *args: str) -> float:
    start = time.monotonic()
    lab("exec", origin, "stonith_admin", *args)
    return time.monotonic() - start


def wait_view(nodes: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = lab("exec", nodes[0], "hacluster", "membership", "--json", check=False)
        if done.returncode == 0 and sorted(json.loads(done.stdout)["members"]) == nodes:
            listed = lab("exec", nodes[-1], "stonith_admin", "-L", check=False)
            if "fence-lab" in listed.stdout:
                return
        time.sleep(0.2)
    sys.exit("the lab did not come back to one full view in 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the namespace lab needs root")
    nodes = [f"n{i}" for i in range(1, args.nodes + 1)]
    rng = random.Random(1)
    rows: dict[str, list[float]] = {"-L (client overhead)": [], "--reboot": [], "--off": [],
                                    "--on": []}
    lab("down", check=False)
    try:
        lab("up", "--nodes", str(args.nodes), "--wait", "40")
        wait_view(nodes)
        for _ in range(args.trials):
            origin, target = rng.sample(nodes, 2)
            rows["-L (client overhead)"].append(timed(origin, "-L"))
            rows["--reboot"].append(timed(origin, "--reboot", target, "--timeout", "60"))
            wait_view(nodes)
            rows["--off"].append(timed(origin, "--off", target, "--timeout", "60"))
            rows["--on"].append(timed(origin, "--on", target, "--timeout", "60"))
            wait_view(nodes)
    finally:
        lab("down", check=False)
    print(f"fencing in the namespace lab, {args.nodes} nodes, {args.trials} trials (seconds)")
    print(f"{'request':<22}{'p50':>8}{'max':>8}")
    for name, values in rows.items():
        print(f"{name:<22}{statistics.median(values):>8.3f}{max(values):>8.3f}")


if __name__ == "__main__":
    main()
