"""The Pacemaker 2.1.5 + Corosync side of the benchmarks, measured in the same run as ours.

Drives ../shared/tools/pacemaker-lab.sh (a 3-node Pacemaker + Corosync cluster in
namespaces; needs root and Debian 12's packages pacemaker corosync pacemaker-cli-utils
resource-agents fence-agents, see bench/README.md) under a lab name and /24 of its own so
it never meets another session's lab. Everything here runs the real Pacemaker tools inside
the lab's nodes (`pacemaker-lab.sh exec NODE ...`) and times them from outside or with a
shell loop inside, so process start is included like it is for a user.

Invariant: whoever calls `PacemakerLab.up()` calls `down()` in a `finally`; `session()`
does both.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchlib import REPO

SCRIPT = REPO.parent / "shared" / "tools" / "pacemaker-lab.sh"
NODES = ("node1", "node2", "node3")


def missing() -> str | None:
    """Why the Pacemaker side cannot run here, or None."""
    if os.geteuid() != 0:
        return "the Pacemaker lab needs root (network namespaces)"
    if not SCRIPT.exists():
        return f"{SCRIPT} is missing"
    for binary in ("corosync", "pacemakerd", "cibadmin", "fence_dummy"):
        if shutil.which(binary) is None:
            return (f"{binary} not installed (apt-get install -y pacemaker corosync "
                    "pacemaker-cli-utils resource-agents fence-agents)")
    return None


def _path_without_this_venv() -> str:
    """PATH without this virtualenv's bin: the lab script runs crm_mon, cibadmin and
    crm_resource inside Pacemaker's nodes, and ours (same names) would shadow Pacemaker's
    when the venv is on PATH, as the README tells users to put it (the cluster then
    "did not form": our crm_mon cannot read a Pacemaker node)."""
    ours = os.path.realpath(os.path.join(sys.prefix, "bin"))
    return os.pathsep.join(entry for entry in os.environ.get("PATH", "").split(os.pathsep)
                           if entry and os.path.realpath(entry) != ours)


class PacemakerLab:
    """One pacemaker-lab.sh lab: LAB=hcbench-pcmk on 10.213.77.0/24 unless told otherwise."""

    def __init__(self, name: str = "hcbench-pcmk", net: str = "10.213.77",
                 token_ms: int | None = 1000, fencing: bool = True) -> None:
        self.env = dict(os.environ, LAB=name, LAB_NET=net, TOKEN=str(token_ms or ""),
                        FENCING="1" if fencing else "0", PATH=_path_without_this_venv())

    def run(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run([str(SCRIPT), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"pacemaker-lab.sh {' '.join(args)}: {done.stderr[-800:]}")
        return done.stdout

    def up(self) -> float:
        """Build and start the cluster with a Dummy resource; seconds until it is stable."""
        started = time.monotonic()
        self.run("up")
        return time.monotonic() - started

    def down(self) -> None:
        self.run("down")

    def exec(self, node: str, script: str, timeout: float = 600) -> str:
        return self.run("exec", node, "/bin/bash", "-c", script, timeout=timeout)

    def dc(self) -> str:
        found = re.search(r"Current DC: (\S+)", self.exec(NODES[0], "crm_mon -1"))
        if not found:
            raise RuntimeError("no DC in crm_mon -1")
        return found.group(1)

    def wait_stable(self) -> None:
        self.run("wait-stable", "3")

    def memory(self) -> dict[str, dict[str, int]]:
        """Per node: {daemon: (rss_kb, pss_kb)} summed into TOTAL, from `pacemaker-lab.sh rss`."""
        table: dict[str, dict[str, int]] = {}
        for line in self.run("rss").splitlines():
            fields = line.split("\t")
            if len(fields) < 5:
                continue
            node, name = fields[0].strip(), fields[1].strip()
            rss = int(fields[-2].split()[1])
            pss = int(fields[-1].split()[1])
            table.setdefault(node, {})[f"{name}:rss"] = rss
            table[node][f"{name}:pss"] = pss
        return table


@contextlib.contextmanager
def session(**options: object) -> Iterator[tuple[PacemakerLab, float]]:
    """An up lab and the seconds `up` took; always torn down."""
    lab = PacemakerLab(**options)  # type: ignore[arg-type]
    try:
        yield lab, lab.up()
    finally:
        lab.down()


def timing_loop(command: str, count: int) -> str:
    """A bash loop printing the wall milliseconds of `command` run `count` times."""
    return (f"for i in $(seq {count}); do s=$(date +%s%N); {command} >/dev/null || exit 1; "
            "e=$(date +%s%N); echo $(( (e - s) / 1000 )); done")


def parse_micros(output: str) -> list[float]:
    """Seconds from the microsecond lines `timing_loop` prints."""
    return [int(x) / 1e6 for x in output.split()]


def results_dir() -> Path:
    path = Path(os.environ.get("BENCH_OUT", "/tmp/hcbench"))
    path.mkdir(parents=True, exist_ok=True)
    return path
