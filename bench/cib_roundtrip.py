"""CIB write and read costs in a running cluster (issue 9's benchmarks), ours beside Pacemaker.

    python bench/cib_roundtrip.py [--nodes 3,16] [--count 100] [--pacemaker]
                                  [--join-only | --no-join | --api-only] [--bulk-kb N]

Rows (p50/p99 over --count sequential requests unless said otherwise):
- `cibadmin -M` round trip from a non-DC node and on the DC, process start included
  (a bash loop inside the node times each command);
- 8 concurrent writers: 8 loops of `cibadmin -M`, spread over the nodes, each on its own
  nvpair; writes per second over the whole run;
- `cibadmin -Q` time;
- ours only: the round trip through the cib client API (`cib.api.CibClient`, from the
  host to the node's socket), 8 API writers' writes/s (each with the CPU per write of
  every daemon kind beyond its idle CPU, measured first over IDLE_WINDOW_S, and the
  messages all nodes' daemons handed to heartbeat per write), a joining node
  receiving a 2 MB CIB (node start until its own `cibadmin -Q` shows the master's
  version), and the cib daemon's PSS/RSS holding that 2 MB CIB.

--bulk-kb N grows our CIB by about N KB of nvpair sets (of 100 each) before the write rows:
a small write to a big CIB, in a running cluster.

Our side needs the cib daemon (`cib.__main__`) and our cibadmin (console script
`cibadmin` of this checkout's virtualenv, never Debian's /usr/sbin one); until they exist
it prints a skip line instead of numbers. --pacemaker also builds the 3-node Pacemaker
2.1.5 + Corosync lab (bench/pcmk.py) and measures the same rows there.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pcmk
from benchlib import (
    OurLab,
    byte_compile,
    cpu_seconds,
    fmt,
    load_average,
    missing_daemons,
    p50_p99,
    process_name,
    ratio,
    table,
)
from cib_join import OUR_CIBADMIN, big_cib, node_log
from crm_probe import Runner

if TYPE_CHECKING:
    from cib.api import CibClient

WRITERS = 8
SET_ID = "hcbench"


def _set_xml(values: dict[str, str]) -> str:
    pairs = "".join(f'<nvpair id="{SET_ID}-{k}" name="{SET_ID}-{k}" value="{v}"/>'
                    for k, v in values.items())
    return f'<cluster_property_set id="{SET_ID}">{pairs}</cluster_property_set>'


class Rows(dict[str, object]):
    """Measured rows, each with the 1-minute load average when it was measured (the machine
    is shared: a row means little without it)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: dict[str, float] = {}

    def __setitem__(self, key: str, value: object) -> None:
        super().__setitem__(key, value)
        self.loads[key] = os.getloadavg()[0]

    def update(self, other: dict[str, object]) -> None:  # type: ignore[override]
        for key, value in other.items():
            self[key] = value


def _modify(cibadmin: str, key: str) -> str:
    return (f"{cibadmin} -M -X '<nvpair id=\"{SET_ID}-{key}\" name=\"{SET_ID}-{key}\" "
            "value=\"'$i'\"/>'")


def cib_rows(run_in: Runner, nodes: list[str], dc: str, cibadmin: str,
             count: int) -> Rows:
    """The shared measurements; `run_in(node, script)` runs bash inside a node."""
    _create_set(run_in, dc, cibadmin)
    non_dc = next(n for n in nodes if n != dc)
    rows = Rows()
    for label, node in (("non-DC", non_dc), ("DC", dc)):
        out = run_in(node, pcmk.timing_loop(_modify(cibadmin, "w0"), count))
        rows[f"cibadmin -M round trip ({label})"] = p50_p99(pcmk.parse_micros(out))
    rows["cibadmin -Q"] = p50_p99(pcmk.parse_micros(
        run_in(non_dc, pcmk.timing_loop(f"{cibadmin} -Q", count))))
    rows["8 writers, writes/s"] = _writers(run_in, nodes, cibadmin, count)
    return rows


def _create_set(run_in: Runner, dc: str, cibadmin: str) -> None:
    """The nvpairs every writer modifies (one per writer)."""
    run_in(dc, f"{cibadmin} -C -o crm_config -X "
               f"'{_set_xml({f'w{n}': '0' for n in range(WRITERS)})}'")


def _writers(run_in: Runner, nodes: list[str], cibadmin: str, count: int) -> float:
    per_writer = max(5, count // WRITERS)
    script = {n: [] for n in nodes}  # type: dict[str, list[str]]
    for writer in range(WRITERS):
        loop = (f"for i in $(seq {per_writer}); do {_modify(cibadmin, f'w{writer}')} "
                ">/dev/null || exit 1; done")
        script[nodes[writer % len(nodes)]].append(f"( {loop} ) &")
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    with ThreadPoolExecutor(len(nodes)) as pool:
        list(pool.map(lambda n: run_in(n, " ".join(script[n]) + " wait"),
                      [n for n in nodes if script[n]]))
    return WRITERS * per_writer / (time.monotonic() - started)


def pacemaker_side(count: int) -> Rows:
    why = pcmk.missing()
    if why:
        print(f"SKIP Pacemaker side: {why}")
        return Rows()
    with pcmk.session() as (lab, _):
        return cib_rows(lab.exec, list(pcmk.NODES), lab.dc(), "cibadmin", count)


def our_side(nodes: int, count: int, join_only: bool = False, join: bool = True,
             api_only: bool = False, bulk_kb: int = 0) -> Rows:
    gone = missing_daemons("cib")
    if gone or not OUR_CIBADMIN.exists():
        print(f"SKIP ours at {nodes} nodes: no {', '.join(gone) or 'cibadmin command'} "
              "daemon/command in this checkout yet (nothing measured)")
        return Rows()
    lab = OurLab(os.environ.get("HACLUSTER_BENCH_LAB", f"hcbcib{nodes}"))  # own name per checkout
    try:
        lab.up(nodes)
        status = lab.status()
        names = sorted(status["nodes"])
        # Without crmd the cib's master is cib.replication.choose_master's: the lowest name.
        dc = _our_dc(lab, names[0]) if not missing_daemons("crmd") else names[0]

        def run_in(node: str, script: str) -> str:
            return lab.lab("exec", node, "/bin/bash", "-c", script)

        rows = Rows()
        if bulk_kb:
            _load_bulk(lab, run_in, dc, bulk_kb)
        if not join_only and not api_only:
            rows = cib_rows(run_in, names, dc, str(OUR_CIBADMIN), count)
        elif api_only:
            _create_set(run_in, dc, str(OUR_CIBADMIN))
        if not join_only:
            daemons = {(node, pid): process_name(pid)
                       for node in names for pid in lab.node_pids(node)}
            rows.update(_api_round_trip({n: status["nodes"][n]["state_dir"] for n in names},
                                        dc, count, daemons, lambda: _scheduler_runs(lab, dc)))
        if not join:
            return rows
        try:
            rows.update(big_cib(lab, names, dc, run_in))
        except RuntimeError as error:  # keep the rows measured so far
            print(f"FAILED 2 MB CIB rows: {str(error)[-300:]}")
        return rows
    finally:
        lab.down()


BULK_PAIRS_PER_SET = 100  # sets of 100: RelaxNG's check of one set grows with its square


def _load_bulk(lab: OurLab, run_in: Callable[[str, str], str], dc: str, kb: int) -> None:
    """Grow the CIB by about `kb` KB of cluster_property_sets before the write rows (a small
    write to a big CIB: what a whole-tree copy per write costs), as bench/cib_write_cpu.py's
    --big-sets does."""
    pair = '<nvpair id="hcbulk{n:06d}" name="hcbulk{n:06d}" value="{v}"/>'
    pairs = max(1, kb * 1024 // len(pair.format(n=0, v="x" * 40)))
    sets = "".join(
        f'<cluster_property_set id="hcbulkset{first}">'
        + "".join(pair.format(n=n, v="x" * 40)
                  for n in range(first, min(first + BULK_PAIRS_PER_SET, pairs)))
        + "</cluster_property_set>" for first in range(0, pairs, BULK_PAIRS_PER_SET))
    path = Path("/tmp") / f"{lab.name}-bulk-sets.xml"
    path.write_text(f"<crm_config>{sets}</crm_config>")
    run_in(dc, f"{OUR_CIBADMIN} -M -o crm_config -x {path}")
    print(f"CIB grown by {len(sets) // 1024} KB ({pairs} nvpairs in sets of "
          f"{BULK_PAIRS_PER_SET})")


def _our_dc(lab: OurLab, node: str) -> str:
    """The DC as our crm_mon reports it (Pacemaker's `Current DC:` line)."""
    out = lab.lab("exec", node, "/bin/bash", "-c",
                  f"{Path(sys.executable).parent / 'crm_mon'} -1")
    for line in out.splitlines():
        if "Current DC:" in line:
            return line.split("Current DC:")[1].split()[0]
    raise RuntimeError(f"no DC in our crm_mon -1: {out[-400:]}")


def _scheduler_runs(lab: OurLab, dc: str) -> int:
    """How many scheduler runs the DC's crmd logged so far (`scheduler_done`)."""
    return sum(1 for line in node_log(lab, dc) if " scheduler_done " in line)


def _api_round_trip(state_dirs: dict[str, str], master: str, count: int,
                    daemons: dict[tuple[str, int], str],
                    scheduler_runs: Callable[[], int]) -> dict[str, object]:
    """Round trips through `cib.api.CibClient` (no process start), and 8 API writers with
    the CPU each kind of daemon spent per write meanwhile (`daemons`: (node, pid) -> name)
    and the DC's scheduler runs per write (a count: the coalescing, which load does not
    distort)."""
    from cib.api import CibClient
    from cib.request import Op, Request
    from cib.xmlio import parse

    def modify(client: CibClient, key: str, value: int) -> None:
        xml = f'<nvpair id="{SET_ID}-{key}" name="{SET_ID}-{key}" value="{value}"/>'
        reply = client.perform(Request(Op.MODIFY, parse(xml)))
        if reply.exit_code != 0:
            raise RuntimeError(f"API write failed: {reply.message}")

    rows = Rows()
    idle = _idle_rates(rows, daemons, master)
    non_master = next(n for n in sorted(state_dirs) if n != master)
    for label, node in (("non-DC", non_master), ("DC", master)):
        with CibClient(state_dirs[node]) as client:
            _one_writer_rows(rows, label, client, modify, count, state_dirs, master, daemons,
                             scheduler_runs, idle)
    with CibClient(state_dirs[non_master]) as client:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            client.perform(Request(Op.QUERY))
            times.append(time.perf_counter() - started)
    rows["API query"] = p50_p99(times)
    _writers_rows(rows, modify, count, state_dirs, master, daemons, scheduler_runs, idle)
    return rows


def _one_writer_rows(rows: Rows, label: str, client: CibClient,
                     modify: Callable[[CibClient, str, int], None], count: int,
                     state_dirs: dict[str, str], master: str,
                     daemons: dict[tuple[str, int], str], scheduler_runs: Callable[[], int],
                     idle: dict[str, float]) -> None:
    """`count` writes one after the other from one client: round trip, heartbeat messages,
    DC scheduler runs and CPU per write."""
    times = []
    sent = _messages_sent(state_dirs)
    before, runs = _cpu_by_daemon(daemons, master), scheduler_runs()
    for i in range(count):
        started = time.perf_counter()
        modify(client, "w0", i)
        times.append(time.perf_counter() - started)
    after = _cpu_by_daemon(daemons, master)
    sent = _messages_sent(state_dirs) - sent
    rows[f"API write round trip ({label})"] = p50_p99(times)
    rows[f"API writes from the {label}: heartbeat messages per write, all nodes"] = \
        sent / count
    rows[f"API writes from the {label}: DC scheduler runs per write"] = (
        (scheduler_runs() - runs) / count)
    _cpu_rows(rows, f"API writes from the {label}", before, after, count, idle)


def _writers_rows(rows: Rows, modify: object, count: int, state_dirs: dict[str, str],
                  master: str, daemons: dict[tuple[str, int], str],
                  scheduler_runs: Callable[[], int], idle: dict[str, float]) -> None:
    """8 API writers at once: writes/s, DC scheduler runs, CPU and heartbeat messages per
    write."""
    sent = _messages_sent(state_dirs)
    before, runs = _cpu_by_daemon(daemons, master), scheduler_runs()
    rows["8 API writers, writes/s"], writes = _api_writers(state_dirs, modify, count)
    rows["8 API writers: DC scheduler runs per write"] = (scheduler_runs() - runs) / writes
    _cpu_rows(rows, "8 API writers", before, _cpu_by_daemon(daemons, master), writes, idle)
    rows["8 API writers: heartbeat messages per write, all nodes"] = \
        (_messages_sent(state_dirs) - sent) / writes


def _messages_sent(state_dirs: dict[str, str]) -> int:
    """Messages every node's daemons handed to their heartbeat so far (its counter
    `messages.sent`: one per frame to a node or to all, whatever the medium)."""
    from messaging.heartbeat.api import HeartbeatClient

    total = 0
    for state_dir in state_dirs.values():
        client = HeartbeatClient(state_dir)
        try:
            total += client.query_counters().counters.get("messages.sent", 0)
        finally:
            client.close()
    return total


IDLE_WINDOW_S = 5.0


def _idle_rates(rows: Rows, daemons: dict[tuple[str, int], str], dc: str) -> dict[str, float]:
    """CPU seconds per second of each daemon kind while nothing is written (keepalives,
    timers, monitors), one row each: the per-write rows leave this background out."""
    before, started = _cpu_by_daemon(daemons, dc), time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    after, elapsed = _cpu_by_daemon(daemons, dc), time.monotonic() - started
    rates = {key: max(0.0, after[key] - before.get(key, 0.0)) / elapsed for key in after
             if key != "wall"}
    for key in sorted(rates, key=lambda k: -rates[k]):
        if rates[key] >= 5e-5:
            rows[f"idle: CPU per second, {key}, ms"] = rates[key] * 1e3
    return rates


def _cpu_rows(rows: Rows, label: str, before: dict[str, float], after: dict[str, float],
              writes: int, idle: dict[str, float]) -> None:
    """One row per daemon kind: CPU ms per write between the two snapshots, beyond what
    the daemon spends idle in that time (`idle`: CPU seconds per second)."""
    elapsed = after["wall"] - before["wall"]
    spent = {key: (after[key] - before.get(key, 0.0) - idle.get(key, 0.0) * elapsed) / writes
             for key in after if key != "wall"}
    for key in sorted(spent, key=lambda k: -spent[k]):
        if spent[key] >= 5e-5:
            rows[f"{label}: CPU per write beyond idle, {key}, ms"] = spent[key] * 1e3


def _cpu_by_daemon(daemons: dict[tuple[str, int], str], dc: str) -> dict[str, float]:
    """CPU seconds so far by daemon kind, the DC's apart (the writers' own process: "bench
    clients")."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    totals = {"bench clients (all threads)": usage.ru_utime + usage.ru_stime,
              "wall": time.monotonic()}
    for (node, pid), name in daemons.items():
        key = f"{name} ({'DC' if node == dc else 'each non-DC'})"
        share = 1.0 if node == dc else 1.0 / max(1, len({n for n, _ in daemons} - {dc}))
        try:
            totals[key] = totals.get(key, 0.0) + cpu_seconds(pid) * share
        except OSError:
            continue
    return totals


def _api_writers(state_dirs: dict[str, str], modify: object,
                 count: int) -> tuple[float, int]:
    from concurrent.futures import ThreadPoolExecutor

    from cib.api import CibClient

    per_writer = max(5, count // WRITERS * 4)
    nodes = sorted(state_dirs)

    def writer(index: int) -> None:
        with CibClient(state_dirs[nodes[index % len(nodes)]]) as client:
            for i in range(per_writer):
                modify(client, f"w{index}", i)  # type: ignore[operator]

    started = time.monotonic()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    return WRITERS * per_writer / (time.monotonic() - started), WRITERS * per_writer


def _cell(value: object, seconds_in_ms: bool = True) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, tuple):
        if seconds_in_ms and all(isinstance(v, float) and v < 5 for v in value):
            return " / ".join(f"{v * 1e3:.1f} ms" for v in value)
        return " / ".join(f"{v:.1f}" for v in value)
    small = isinstance(value, float) and value < 10  # seconds of a transfer: keep the ms
    return fmt(value, digits=3 if small else 1)  # type: ignore[arg-type]


def _first(value: object) -> float | None:
    if isinstance(value, tuple):
        return float(value[0])
    return float(value) if isinstance(value, float) else None


def _load(rows: Rows, key: str) -> str:
    """The 1-minute load average when `key` was measured."""
    return f"{rows.loads[key]:.1f}" if key in rows.loads else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="3,16")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--pacemaker", action="store_true")
    parser.add_argument("--join-only", action="store_true",
                        help="measure only the 2 MB join rows (and the daemon's memory)")
    parser.add_argument("--no-join", action="store_true",
                        help="skip the 2 MB join rows (a short run of the write rows)")
    parser.add_argument("--api-only", action="store_true",
                        help="only the client API rows (no cibadmin processes; implies --no-join)")
    parser.add_argument("--bulk-kb", type=int, default=0,
                        help="ours only: grow the CIB by this many KB of nvpair sets before "
                             "the write rows")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not byte-compile the checkout first (benchlib.byte_compile)")
    args = parser.parse_args()
    compiled = "not byte-compiled" if args.no_compile else byte_compile()
    theirs = pacemaker_side(args.count) if args.pacemaker else Rows()
    pacemaker_load = load_average()
    ours = {int(n): our_side(int(n), args.count, args.join_only,
                             not (args.no_join or args.api_only), args.api_only, args.bulk_kb)
            for n in args.nodes.split(",") if n}
    keys = list(dict.fromkeys([*theirs, *(k for r in ours.values() for k in r)]))
    if not keys:
        print("nothing measured")
        return
    sizes = sorted(ours)
    headers = ["measure (p50 / p99)", "Pacemaker 3 nodes", "load"] + \
        [h for n in sizes for h in (f"ours {n}", "load")] + [f"ratio {n}" for n in sizes]
    rows = [[k, _cell(theirs.get(k)) if k in theirs else "-", _load(theirs, k)]
            + [c for n in sizes for c in (_cell(ours[n][k]) if k in ours[n] else "-",
                                          _load(ours[n], k))]
            + [ratio(_first(ours[n].get(k)), _first(theirs.get(k))) for n in sizes]
            for k in keys]
    print(f"\nCIB round trips ({pacemaker_load} during Pacemaker; {load_average()} at the end; "
          f"{compiled})")
    print(table(headers, rows))


if __name__ == "__main__":
    main()
