"""Shared pieces of the lab benchmarks: our lab, process memory and CPU, quantiles, tables.

Numbers are measured, never made up: when a daemon a measurement needs is not installed
yet (`missing_daemons`), the script prints a skip line saying so instead of a row. Tables
are markdown with the load average of the machine at the time, since the machine is shared
and wall times include waiting for a CPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def byte_compile() -> str:
    """Compile the checkout's packages to .pyc as pip does when it installs them, and say so
    (a note for the table). Without it a checkout run under PYTHONDONTWRITEBYTECODE=1 (as
    these sessions are) compiles every imported module from source at every process start:
    about a fifth of a Python command's start-up CPU, which no installed system pays."""
    import compileall

    packages = sorted(path for path in REPO.iterdir()
                      if (path / "__init__.py").exists() and path.name not in ("tests", "bench"))
    for package in packages:
        compileall.compile_dir(package, quiet=1)
    return f"byte-compiled {len(packages)} packages first, as an install does"


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg()) + \
        f" on {os.cpu_count()} CPUs"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p99 of few samples is about the maximum)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def p50_p99(values: Sequence[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 99)


def ratio(ours: float | None, theirs: float | None) -> str:
    """ours / theirs as text ("-" when either side was not measured)."""
    if ours is None or theirs is None or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}x"


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "not measured" if value is None else f"{value:.{digits}f}{unit}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def missing_daemons(*modules: str) -> list[str]:
    """The daemons among `modules` that have no `__main__` yet (so cannot be started)."""
    gone = []
    for module in modules:
        try:
            found = importlib.util.find_spec(f"{module}.__main__") is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            gone.append(module)
    return gone


# ------------------------------------------------------------------ our lab
def hacluster(*args: str, timeout: float = 600) -> str:
    """Run `hacluster ARGS` from this checkout; raises with its output on failure."""
    done = subprocess.run([str(Path(sys.executable).parent / "hacluster"), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"hacluster {' '.join(args)}: {done.stdout}{done.stderr}"[-1200:])
    return done.stdout


def our_cibadmin(state_dir: Path, *args: str) -> str:
    """Our cibadmin from the host against the cib of the node whose state dir is given."""
    env = dict(os.environ, HACLUSTER_STATE_DIR=str(state_dir))
    env.pop("CIB_file", None)
    done = subprocess.run([str(Path(sys.executable).parent / "cibadmin"), *args], env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"cibadmin {' '.join(args)}: {done.stderr}"[-1200:])
    return done.stdout


class OurLab:
    """`hacluster lab` under a name of its own."""

    def __init__(self, name: str) -> None:
        self.name = name

    def lab(self, *args: str, timeout: float = 600) -> str:
        return hacluster("lab", "--name", self.name, *args, timeout=timeout)

    def up(self, nodes: int, *extra: str, wait: float = 120) -> float:
        """Seconds from `lab up` to one agreed view of every node."""
        self.down()
        started = time.monotonic()
        self.lab("up", "--nodes", str(nodes), "--wait", str(wait), *extra)
        return time.monotonic() - started

    def down(self) -> None:
        self.lab("down")

    def together(self, *commands: list[str], timeout: float = 600) -> None:
        """Run several `lab` commands at once (e.g. every node's `start`, as when power
        returns to a rack); raises with the output of the first that failed."""
        exe = str(Path(sys.executable).parent / "hacluster")
        running = [subprocess.Popen([exe, "lab", "--name", self.name, *args], cwd=REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                   for args in commands]
        outputs = [(process.communicate(timeout=timeout)[0], process.returncode, args)
                   for process, args in zip(running, commands, strict=True)]
        for output, code, args in outputs:
            if code != 0:
                raise RuntimeError(f"hacluster lab {' '.join(args)}: {output}"[-1200:])

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = json.loads(self.lab("status", "--json"))
        return status

    def node_pids(self, node: str) -> list[int]:
        """Every process in the node's network namespace (the lab's holder included)."""
        from lab.procs import netns_inode, pids_in_netns

        namespace = self.status()["nodes"][node]["namespace"]
        return list(pids_in_netns(netns_inode(namespace)))


# ------------------------------------------------------------------ processes
def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB of a live process (0, 0 if it is gone)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    values = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:]
              if line.endswith("kB")}
    return values.get("Rss", 0), values.get("Pss", 0)


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def context_switches(pid: int) -> int:
    """Context switches of every thread of `pid` so far, voluntary and not (0 if it is
    gone): an idle thread switches out once per wake-up, so this counts wake-ups."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in text.splitlines()
                     if "ctxt_switches:" in line)
    return total


def process_name(pid: int) -> str:
    """What a process is: the module after `-m`, the script name, or its comm."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return "?"
    if "python" not in Path(words[0]).name:
        return Path(words[0]).name
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1]
    if "-c" in words[:-1]:
        return "launcher" if "launcher" in words[words.index("-c") + 1] else "python -c"
    return Path(words[1]).name if len(words) > 1 else "python"
