#!/usr/bin/env python3
"""How the policy engine scales: generated CIBs of 16 nodes and 100..2000 primitives.

Each generated CIB has every resource stopped and to be started (so every node gets a
probe per resource), a recurring monitor per primitive, groups of four for a fifth of the
primitives, location preferences and colocations, and all nodes online. Per 500 primitives
it adds the collectives issue 12 asks for: two anonymous clones (one instance per node,
interleaved, the second ordered after and colocated with the first) and one promotable
clone (Stateful, promoted-max 1, a monitor per role). For each size it times:
  ours   the whole process `crm_simulate -x F -R -Q -G out` (our console script),
  sched  `pengine.api.schedule()` in this process (no start-up, no graph writing),
  sim    ours with -S (simulate the whole transition too; Pacemaker's -S takes minutes
         because it writes one CIB update per action, so it is not run),
  settled  CPU seconds of ours `-R -Q -G` on the CIB that -S produced (every resource running, with
         a history on every node: the shape of a live cluster's status section),
  pcmk   Pacemaker's `crm_simulate -x F -R -Q -G out` on the same file, when installed
         (skipped past --pcmk-max primitives, and killed after --pcmk-timeout seconds),
and reports wall and CPU seconds (user+sys of the child, from os.wait4, which is what
matters on a loaded machine), the peak RSS of each child, ours/pcmk on CPU time and the
1-minute load average when the row was done. `--cib FILE` (repeatable) also times
`-R -Q -G` of ours and Pacemaker's on that file (start-up on a small input, e.g. the
corpus's group1.xml), in a second table.
Best of --repeat runs. "sched" is CPU seconds of schedule() alone. Ours runs with its
bytecode caches (written by one untimed run first; PYTHONDONTWRITEBYTECODE is dropped for
the children), as an installed package does.

    python bench/pengine_scale.py --sizes 100,500,1000,2000 --repeat 1
    python bench/pengine_scale.py --sizes 100 --repeat 20 --no-simulate \
        --cib ../shared/conformance/scheduler/xml/group1.xml
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate_cib(primitives: int, nodes: int = 16) -> str:
    """A CIB with `nodes` online nodes and `primitives` stopped primitives to start."""
    node_names = [f"node{n:02d}" for n in range(1, nodes + 1)]
    grouped = primitives // 5 // 4 * 4  # a fifth of the primitives, in groups of four
    out = ['<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" '
           'num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">',
           "  <configuration>", "    <crm_config>",
           '      <cluster_property_set id="cib-bootstrap-options">',
           '        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>',
           "      </cluster_property_set>", "    </crm_config>", "    <nodes>"]
    out += [f'      <node id="{i}" uname="{name}"/>' for i, name in enumerate(node_names, 1)]
    out += ["    </nodes>", "    <resources>"]
    for index in range(primitives):
        if index < grouped and index % 4 == 0:
            out.append(f'      <group id="grp{index // 4:04d}">')
        out.append(_primitive(index))
        if index < grouped and index % 4 == 3:
            out.append("      </group>")
    sets = max(1, primitives // 500)
    for index in range(sets):
        out += _clones(index, nodes)
    out += ["    </resources>", "    <constraints>"]
    out += _constraints(primitives, grouped, node_names)
    for index in range(sets):
        out += _clone_constraints(index)
    out += ["    </constraints>", "  </configuration>", "  <status>"]
    out += [f'    <node_state id="{i}" uname="{name}" in_ccm="true" crmd="online" '
            'join="member" expected="member" crm-debug-origin="do_state_transition"/>'
            for i, name in enumerate(node_names, 1)]
    out += ["  </status>", "</cib>", ""]
    return "\n".join(out)


def _primitive(index: int) -> str:
    return _primitive_named(f"rsc{index:04d}")


def _primitive_named(rid: str) -> str:
    return (f'        <primitive id="{rid}" class="ocf" provider="heartbeat" type="Dummy">'
            f'<operations><op id="{rid}-mon" name="monitor" interval="10s" timeout="20s"/>'
            "</operations></primitive>")


def _clones(index: int, nodes: int) -> list[str]:
    """Two interleaved anonymous clones and one promotable clone (the set `index`)."""
    lines = []
    for name in (f"base{index:02d}", f"app{index:02d}"):
        lines += [f'      <clone id="{name}-clone">',
                  f'        <meta_attributes id="{name}-clone-meta">',
                  f'          <nvpair id="{name}-clone-max" name="clone-max" value="{nodes}"/>',
                  f'          <nvpair id="{name}-interleave" name="interleave" value="true"/>',
                  "        </meta_attributes>", _primitive_named(name), "      </clone>"]
    rid = f"db{index:02d}"
    lines += [f'      <clone id="{rid}-clone">',
              f'        <meta_attributes id="{rid}-clone-meta">',
              f'          <nvpair id="{rid}-promotable" name="promotable" value="true"/>',
              f'          <nvpair id="{rid}-promoted-max" name="promoted-max" value="1"/>',
              "        </meta_attributes>",
              f'        <primitive id="{rid}" class="ocf" provider="pacemaker" type="Stateful">'
              f'<operations><op id="{rid}-mon-p" name="monitor" interval="10s" role="Promoted"'
              f' timeout="20s"/><op id="{rid}-mon-u" name="monitor" interval="11s"'
              ' role="Unpromoted" timeout="20s"/></operations></primitive>',
              "      </clone>"]
    return lines


def _clone_constraints(index: int) -> list[str]:
    base, app, db = f"base{index:02d}-clone", f"app{index:02d}-clone", f"db{index:02d}-clone"
    return [f'      <rsc_order id="ord-{app}" first="{base}" then="{app}" kind="Mandatory"/>',
            f'      <rsc_colocation id="col-{app}" rsc="{app}" with-rsc="{base}"'
            ' score="INFINITY"/>',
            f'      <rsc_order id="ord-{db}" first="{base}" then="{db}" kind="Mandatory"/>']


def _constraints(primitives: int, grouped: int, node_names: list[str]) -> list[str]:
    lines = []
    for index in range(grouped, primitives):
        rid = f"rsc{index:04d}"
        if index % 5 == 0:
            node = node_names[index % len(node_names)]
            lines.append(f'      <rsc_location id="loc-{rid}" rsc="{rid}" node="{node}" '
                         'score="100"/>')
        if index % 7 == 0 and index > grouped:
            lines.append(f'      <rsc_colocation id="col-{rid}" rsc="{rid}" '
                         f'with-rsc="rsc{index - 1:04d}" score="50"/>')
    for group in range(0, grouped // 4, 3):
        node = node_names[group % len(node_names)]
        lines.append(f'      <rsc_location id="loc-grp{group:04d}" rsc="grp{group:04d}" '
                     f'node="{node}" score="200"/>')
    return lines


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    max_rss_mib: float
    ok: bool
    timed_out: bool = False


def run_child(argv: list[str], env: dict[str, str] | None = None,
              timeout: float | None = None) -> Run:
    """Run a command, returning wall time and that child's own peak RSS.

    A child still running after `timeout` seconds is killed and reported as timed out.
    """
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    killer = None
    if timeout is not None:
        killer = threading.Timer(timeout, process.kill)
        killer.start()
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    timed_out = (timeout is not None and killer is not None and not killer.is_alive()
                 and elapsed >= timeout)
    if killer is not None:
        killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 and not timed_out and process.stderr is not None:
        sys.stderr.write(process.stderr.read().decode(errors="replace")[-2000:])
    cpu = usage.ru_utime + usage.ru_stime
    return Run(elapsed, cpu, usage.ru_maxrss / 1024, process.returncode == 0, timed_out)


def best(runs: list[Run]) -> Run:
    good = [r for r in runs if r.ok] or runs
    return min(good, key=lambda r: r.cpu_seconds)


def our_command(override: str | None = None) -> list[str]:
    if override:
        return shlex.split(override)
    script = REPO / ".venv/bin/crm_simulate"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pengine.cli"]


def time_in_process(path: Path, repeat: int) -> float:
    sys.path.insert(0, str(REPO))
    from pengine.api import schedule

    data = path.read_bytes()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        schedule(data)
        times.append(time.process_time() - start)
    return min(times)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000,2000",
                        help="comma-separated primitive counts (default %(default)s)")
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best)")
    parser.add_argument("--no-pacemaker", action="store_true", help="skip Pacemaker's tool")
    parser.add_argument("--pcmk-max", type=int, default=2000,
                        help="run Pacemaker only up to this many primitives")
    parser.add_argument("--pcmk-timeout", type=float, default=1200.0,
                        help="kill Pacemaker's run after this many seconds")
    parser.add_argument("--no-in-process", action="store_true", help="skip schedule() timing")
    parser.add_argument("--no-simulate", action="store_true", help="skip our -S timing")
    parser.add_argument("--keep", type=Path, help="write the generated CIBs here")
    parser.add_argument("--cib", type=Path, action="append", default=[],
                        help="also time -R -Q -G on this CIB file, ours and Pacemaker's")
    parser.add_argument("--ours", help="command line to run as ours (default: the venv's "
                        "crm_simulate), e.g. to compare two builds")
    return parser.parse_args()


def _pacemaker_cell(theirs: Run | None, ours: Run) -> str:
    if theirs is None:
        return f"{'-':>7} {'-':>7} {'-':>5} {'-':>9}"
    if theirs.timed_out:
        # killed: Pacemaker needed more than this, so the ratio is an upper bound
        bound = f"<{ours.cpu_seconds / max(theirs.cpu_seconds, 1e-6):.3f}"
        return f"{'>' + format(theirs.seconds, '.0f'):>7} {'-':>7} {'-':>5} {bound:>9}"
    ratio = ours.cpu_seconds / max(theirs.cpu_seconds, 1e-6)
    return (f"{theirs.seconds:7.2f} {theirs.cpu_seconds:7.2f} {theirs.max_rss_mib:5.0f} "
            f"{ratio:9.3f}")


def _time_files(args: argparse.Namespace, pacemaker: str | None, env: dict[str, str],
                workdir: Path) -> None:
    """The second table: `-R -Q -G` CPU of ours and Pacemaker's on the given files."""
    print(f"\n{'file':<28} {'ours cpu ms':>11} {'pcmk cpu ms':>11} {'ratio':>6} {'load':>5}")
    for path in args.cib:
        argv = ["-x", str(path), "-R", "-Q", "-G"]
        run_child([*our_command(args.ours), *argv, str(workdir / "ours.exp")], env)  # caches
        ours = best([run_child([*our_command(args.ours), *argv, str(workdir / "ours.exp")], env)
                     for _ in range(args.repeat)])
        theirs = best([run_child([pacemaker, *argv, str(workdir / "pcmk.exp")], env)
                       for _ in range(args.repeat)]) if pacemaker else None
        their_ms = f"{theirs.cpu_seconds * 1000:11.1f}" if theirs else f"{'-':>11}"
        ratio = (f"{ours.cpu_seconds / max(theirs.cpu_seconds, 1e-6):6.2f}" if theirs
                 else f"{'-':>6}")
        print(f"{path.name:<28} {ours.cpu_seconds * 1000:11.1f} {their_ms} {ratio} "
              f"{os.getloadavg()[0]:5.1f}", flush=True)


def main() -> int:
    args = _arguments()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    pacemaker = None
    if not args.no_pacemaker:
        pacemaker = shutil.which("crm_simulate", path="/usr/sbin:/usr/bin")
    workdir = Path(tempfile.mkdtemp(prefix="pengine-scale-"))
    cib_dir = args.keep or workdir
    cib_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LC_ALL="C", CIB_shadow_dir=str(workdir))
    # An installed package has its bytecode; with PYTHONDONTWRITEBYTECODE (set in some
    # shells and CI) every run of ours would compile the whole engine from source again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    header = (f"{'prims':>6} {'nodes':>5} {'ours s':>7} {'cpu s':>7} {'sched':>7} "
              f"{'MiB':>5} {'-S s':>6} {'-S cpu':>6} {'-S MiB':>6} {'settled':>7} "
              f"{'pcmk s':>7} {'cpu s':>7} {'MiB':>5} {'cpu ratio':>9} {'load':>5}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        path = cib_dir / f"scale-{args.nodes}n-{size}p.xml"
        path.write_text(generate_cib(size, args.nodes))
        if size == sizes[0]:  # one untimed run writes the bytecode caches
            run_child([*our_command(args.ours), "-x", str(path), "-R", "-Q"], env)
        ours = best([run_child([*our_command(args.ours), "-x", str(path), "-R", "-Q", "-G",
                                str(workdir / "ours.exp")], env) for _ in range(args.repeat)])
        sched = float("nan") if args.no_in_process else time_in_process(path, args.repeat)
        simulated = "     -      -      -       -"
        if not args.no_simulate:
            settled_path = workdir / f"settled-{size}.xml"
            sim = run_child([*our_command(args.ours), "-x", str(path), "-S", "-Q",
                             "-O", str(settled_path)], env)
            settled = best([run_child([*our_command(args.ours), "-x", str(settled_path), "-R",
                                       "-Q", "-G", str(workdir / "settled.exp")], env)
                            for _ in range(args.repeat)])
            simulated = (f"{sim.seconds:6.2f} {sim.cpu_seconds:6.2f} {sim.max_rss_mib:6.0f} "
                         f"{settled.cpu_seconds:7.2f}")
        theirs = None
        if pacemaker and size <= args.pcmk_max:
            theirs = best([run_child([pacemaker, "-x", str(path), "-R", "-Q", "-G",
                                      str(workdir / "pcmk.exp")], env, args.pcmk_timeout)
                           for _ in range(args.repeat)])
        mark = "" if ours.ok else "  (ours FAILED)"
        print(f"{size:>6} {args.nodes:>5} {ours.seconds:7.2f} {ours.cpu_seconds:7.2f} "
              f"{sched:7.2f} {ours.max_rss_mib:5.0f} {simulated} "
              f"{_pacemaker_cell(theirs, ours)} {os.getloadavg()[0]:5.1f}{mark}", flush=True)
    if args.cib:
        _time_files(args, pacemaker, env, workdir)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
