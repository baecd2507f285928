"""cibadmin's own cost, ours beside Debian's Pacemaker 2.1.5 one, in the same run.

    python bench/cibadmin_startup.py [--count 30] [--state-dir DIR]

Both commands run interleaved on the same CIB file (CIB_file mode: `-Q`, and `-M` on a
scratch copy), so load hits both alike. Per row: wall time p50 / min, and CPU time (user +
system of the process, from wait4's rusage), which a loaded machine inflates much less than
wall time. With --state-dir (a running node's state directory, e.g. a lab node's), our
`cibadmin -Q` and `-M` in live mode are timed too (no Debian counterpart there: Pacemaker's
tools reach Pacemaker's daemons only). --tools adds the other CIB commands' start-up, ours
beside Debian's on the same file: `crm_mon -1`, `crm_attribute -G` and `crm_resource -l`.
--callgrind adds a column: the instructions of one run of each command under valgrind's
callgrind, a count the machine's load does not distort (for before/after comparisons of
start-up work; Debian's rows are counted too).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import byte_compile, load_average, table

OURS = str(Path(sys.executable).parent / "cibadmin")
DEBIAN = "/usr/sbin/cibadmin"
SET = '<cluster_property_set id="hcbench-startup"/>'
MODIFY = ["-M", "-X", SET]
PRIMITIVE = '<primitive id="hcbench-dummy" class="ocf" provider="pacemaker" type="Dummy"/>'
# (label, our console script, Debian's binary, arguments): read-only, on the same file
TOOLS = (("crm_mon -1", "crm_mon", "/usr/sbin/crm_mon", ["-1"]),
         ("crm_attribute -G", "crm_attribute", "/usr/sbin/crm_attribute",
          ["-t", "crm_config", "-n", "hcbench-attr", "-G", "-q"]),
         ("crm_resource -l", "crm_resource", "/usr/sbin/crm_resource", ["-l"]))


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def instructions(argv: list[str], env: dict[str, str]) -> str:
    """Instructions one run of `argv` executes, counted by callgrind ("-" without valgrind)."""
    if shutil.which("valgrind") is None:
        return "-"
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           *argv], env=env, capture_output=True, text=True, check=False)
    counted = re.search(r"Collected : (\d+)", done.stderr)
    return f"{int(counted.group(1)) / 1e6:.1f} M" if counted else "-"


def measure(commands: dict[str, tuple[list[str], dict[str, str]]], count: int
            ) -> dict[str, list[tuple[float, float]]]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(count):
        for name, (argv, env) in commands.items():
            samples[name].append(run_once(argv, env))
    return samples


def _row(name: str, values: list[tuple[float, float]]) -> list[str]:
    walls, cpus = [v[0] for v in values], [v[1] for v in values]
    return [name, f"{statistics.median(walls) * 1e3:.1f} / {min(walls) * 1e3:.1f} ms",
            f"{statistics.median(cpus) * 1e3:.1f} ms"]


def _tool_commands(cib: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The --tools rows, on `cib` given a primitive and an attribute to show first."""
    env = dict(os.environ, CIB_file=str(cib))
    subprocess.run([DEBIAN, "-C", "-o", "resources", "-X", PRIMITIVE], check=True, env=env)
    subprocess.run(["/usr/sbin/crm_attribute", "-t", "crm_config", "-n", "hcbench-attr",
                    "-v", "1"], check=True, env=env, capture_output=True)
    commands = {}
    for name, ours, debian, arguments in TOOLS:
        commands[f"ours: {name}"] = ([str(Path(OURS).parent / ours), *arguments], env)
        commands[f"Debian: {name}"] = ([debian, *arguments], env)
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--state-dir", help="a running node's state directory (live mode)")
    parser.add_argument("--tools", action="store_true",
                        help="also crm_mon -1, crm_attribute -G, crm_resource -l (CIB_file)")
    parser.add_argument("--callgrind", action="store_true",
                        help="also count each command's instructions once under callgrind")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not byte-compile the checkout first (benchlib.byte_compile)")
    args = parser.parse_args()
    compiled = "not byte-compiled" if args.no_compile else byte_compile()
    if not Path(DEBIAN).exists():
        print(f"SKIP: no Debian cibadmin at {DEBIAN}")
        return
    work = Path(tempfile.mkdtemp(prefix="cibadmin-bench-"))
    try:
        cib = work / "cib.xml"
        cib.write_text(subprocess.run([DEBIAN, "--empty"], capture_output=True, text=True,
                                      check=True).stdout)
        subprocess.run([DEBIAN, "-C", "-o", "crm_config", "-X", SET], check=True,
                       env=dict(os.environ, CIB_file=str(cib)))
        commands = _tool_commands(cib) if args.tools else {}
        for label, binary in (("ours", OURS), ("Debian", DEBIAN)):
            scratch = work / f"{label}.xml"
            shutil.copy(cib, scratch)
            query_env = dict(os.environ, CIB_file=str(cib))
            commands[f"{label}: cibadmin -Q (CIB_file)"] = ([binary, "-Q"], query_env)
            commands[f"{label}: cibadmin -M (CIB_file)"] = ([binary, *MODIFY],
                                                            dict(os.environ, CIB_file=str(scratch)))
        if args.state_dir:
            live = {k: v for k, v in os.environ.items() if k != "CIB_file"}
            live["HACLUSTER_STATE_DIR"] = args.state_dir
            subprocess.run([OURS, "-C", "-o", "crm_config", "-X", SET], env=live, check=False,
                           capture_output=True)  # 76 when it exists already
            commands["ours: cibadmin -Q (live)"] = ([OURS, "-Q"], live)
            commands["ours: cibadmin -M (live)"] = ([OURS, *MODIFY], live)
        samples = measure(commands, args.count)
        counts = {name: instructions(*command) for name, command in commands.items()
                  if args.callgrind}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ncibadmin start-up, {args.count} runs each, interleaved ({compiled}; "
          f"{load_average()})")
    header = ["command", "wall p50 / min", "CPU p50"] + (["instructions"] if counts else [])
    print(table(header, [_row(name, values) + ([counts[name]] if counts else [])
                         for name, values in samples.items()]))


if __name__ == "__main__":
    main()
