"""CPU time of one replicated CIB write, per node, in one process (no lab, load-independent).

    python bench/cib_write_cpu.py [--primitives 100] [--writes 200] [--big [--big-sets N]]
                                  [--profile N]

Three `cib.replication.ReplicaCore`s (n1 the master) exchange their messages in memory;
each `PersistCib` is carried out as the daemon does (`cib.service.published_patches`, and
each node's batch or diff appended to its journal (`cib.store.CibStore.append`, as the
daemon does; a whole-CIB resync saved whole, `CibStore.save`), under a
temporary directory, so the fsyncs are real; here on the same thread, where the daemon
writes on a worker thread; --save-every-write: the master saves the whole CIB per batch,
as before cib.journal). A write
is `cibadmin -M` of one nvpair, through the wire form the daemon gets (`WireRequest`).
Rows: CPU seconds (process time, which waiting for a CPU does not inflate) per write on
the master and on one replica, the wall time of the master's disk write, and the CPU of a
start that loads the master's saved copy and replays its journal (every write's record).
--big adds a 2 MB cluster_property_set first (the issue's "small write to a 2 MB CIB"); --big-sets N
spreads its 22000 nvpairs over N sets (libxml2's RelaxNG check of one set's interleave
grows with the square of the set's length: one 22000-pair set costs ~7x what 220 sets of
100 pairs, the same 2 MB, cost). --profile N
prints the N most expensive functions of the whole run (cProfile, cumulative).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import deque
from pathlib import Path

from benchlib import load_average, p50_p99, table
from pengine_scale import generate_cib

from cib.journal import JournalRecord
from cib.model import version_of
from cib.ops import schema_validator
from cib.replication import ReplicaCore
from cib.replication_messages import (
    Acknowledge,
    ClientWrite,
    PeerMessage,
    PersistCib,
    ViewChanged,
    WireRequest,
)
from cib.request import Op
from cib.service import published_patches
from cib.store import CibStore
from cib.xmlio import parse
from messaging.effects import Node, Send

NODES = ("n1", "n2", "n3")


def cib_text(primitives: int, big: bool, sets: int = 1) -> str:
    """A running cluster's CIB: `primitives` primitives, each with a monitor on each node."""
    text = generate_cib(primitives, len(NODES)).replace("node0", "n")
    text = text.replace('validate-with="pacemaker-3.7"', 'validate-with="pacemaker-3.9"')
    states = []
    for index, node in enumerate(NODES, 1):
        lrm = "".join(
            f'<lrm_resource id="rsc{r:04d}" type="Dummy" class="ocf" provider="heartbeat">'
            f'<lrm_rsc_op id="rsc{r:04d}_monitor_10000" operation_key="rsc{r:04d}_monitor_10000"'
            f' operation="monitor" crm-debug-origin="do_update_resource" crm_feature_set='
            f'"3.16.2" transition-key="1:2:0:x" transition-magic="0:0;1:2:0:x" exit-reason=""'
            f' on_node="{node}" call-id="{r + 2}" rc-code="0" op-status="0" interval="10000"'
            f' last-rc-change="1700000000" exec-time="10" queue-time="0"'
            f' op-digest="4811cef7f7f94e3a35a70be7916cb2fd"/></lrm_resource>'
            for r in range(primitives))
        states.append(f'<node_state id="{index}" uname="{node}" in_ccm="true" crmd="online" '
                      f'join="member" expected="member"><lrm id="{index}"><lrm_resources>'
                      f"{lrm}</lrm_resources></lrm></node_state>")
    start, end = text.index("<status>"), text.index("</status>")
    text = text[:start] + "<status>" + "".join(states) + text[end:]
    if big:
        per_set = -(-22000 // sets)
        bulk = "".join(
            f'<cluster_property_set id="bulk{"" if sets == 1 else f"set{first}"}">'
            + "".join(f'<nvpair id="bulk{n:05d}" name="bulk{n:05d}" value="{"x" * 40}"/>'
                      for n in range(first, min(first + per_set, 22000)))
            + "</cluster_property_set>" for first in range(0, 22000, per_set))
        text = text.replace("<crm_config>", f"<crm_config>{bulk}", 1)
    return text


class Cluster:
    """Three cores, their disks, and per-node CPU seconds."""

    def __init__(self, text: str, directory: Path, journal: bool = True) -> None:
        self.cores = {name: ReplicaCore(name, parse(text), schema_validator)
                      for name in NODES}
        self.stores = {name: CibStore(directory / name) for name in NODES}
        for store in self.stores.values():  # the copy the journal chains from
            store.save(parse(text), keep_status=True, term=0)
        self.journal = journal
        self.persisted = {name: parse(text) for name in NODES}
        self.versions = {name: version_of(tree, absent=0)
                         for name, tree in self.persisted.items()}
        self.cpu = dict.fromkeys(NODES, 0.0)
        self.disk_wall: list[float] = []
        self.queue: deque[tuple[str, object]] = deque()
        self.acked = 0
        members = tuple(enumerate(NODES, 1))
        for name in NODES:
            self.feed(name, ViewChanged(0.0, 1, members))
        self.drain()

    def feed(self, name: str, event: object) -> None:
        started = time.process_time()
        for effect in self.cores[name].handle(event):  # type: ignore[arg-type]
            if isinstance(effect, Send):
                # a diff goes to every node at once (ALL_NODES): the others receive it
                targets = ([effect.destination.name] if isinstance(effect.destination, Node)
                           else [other for other in NODES if other != name])
                self.queue.extend((target, PeerMessage(0.0, name, effect.message))
                                  for target in targets)
            elif isinstance(effect, PersistCib):
                wall = time.perf_counter()
                published_patches(effect, self.persisted[name])
                if self.journal and effect.digest and effect.patches:
                    self.stores[name].append(JournalRecord(
                        self.versions[name], effect.version, effect.term, effect.digest,
                        effect.patches))
                else:
                    self.stores[name].save(effect.cib, keep_status=True, term=effect.term)
                # a replica's tree changes in place: its version is kept, not read later
                self.persisted[name], self.versions[name] = effect.cib, effect.version
                if name == "n1":
                    self.disk_wall.append(time.perf_counter() - wall)
            elif isinstance(effect, Acknowledge):
                # a refused write (exit 78 of a CIB that fails its schema) is no write
                if effect.exit_code != 0:
                    raise RuntimeError(f"write refused: {effect.message[:300]}")
                self.acked += 1
        self.cpu[name] += time.process_time() - started

    def drain(self) -> None:
        while self.queue:
            name, event = self.queue.popleft()
            self.feed(name, event)


def run(primitives: int, writes: int, big: bool, journal: bool, sets: int = 1
        ) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as directory:
        cluster = Cluster(cib_text(primitives, big, sets), Path(directory), journal)
        size = len(cib_text(primitives, big, sets))
        for name in NODES:
            cluster.cpu[name] = 0.0
        per_write: list[float] = []
        for index in range(writes):
            xml = f'<nvpair id="opt-stonith" name="stonith-enabled" value="{index % 2 == 0}"/>'
            before = time.process_time()
            cluster.feed("n1", ClientWrite(0.0, f"w{index}", WireRequest(Op.MODIFY.value, xml),
                                           1.7e9 + index))
            cluster.drain()
            per_write.append(time.process_time() - before)
        assert cluster.acked == writes, f"{cluster.acked} of {writes} writes acknowledged"
        started = time.process_time()
        loaded = CibStore(Path(directory) / "n1").load()
        replay_cpu = time.process_time() - started
        if cluster.journal:
            assert loaded.replayed == writes, f"{loaded.replayed} of {writes} records replayed"
        return {
            "CIB size, KB": size / 1024,
            "CPU per write, all 3 nodes, p50/p99 ms": p50_p99(per_write),
            "CPU per write, master, mean ms": cluster.cpu["n1"] / writes,
            "CPU per write, one replica, mean ms": cluster.cpu["n2"] / writes,
            "master's disk write (wall), p50/p99 ms": p50_p99(cluster.disk_wall),
            "a start's load of the master's copy and journal, CPU ms": replay_cpu,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--primitives", type=int, default=100)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--big-sets", type=int, default=1,
                        help="spread --big's nvpairs over this many sets (default one)")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--save-every-write", action="store_true",
                        help="the master saves the whole CIB per batch (before cib.journal)")
    args = parser.parse_args()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        rows = profiler.runcall(run, args.primitives, args.writes, args.big,
                                not args.save_every_write, args.big_sets)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
    else:
        rows = run(args.primitives, args.writes, args.big, not args.save_every_write,
                   args.big_sets)
    cells = []
    for key, value in rows.items():
        if isinstance(value, tuple):
            cells.append([key, " / ".join(f"{v * 1e3:.2f}" for v in value)])
        elif "ms" in key:
            cells.append([key, f"{float(value) * 1e3:.2f}"])  # type: ignore[arg-type]
        else:
            cells.append([key, f"{float(value):.0f}"])  # type: ignore[arg-type]
    disk = "whole save per batch" if args.save_every_write else "master journals"
    big = f", +2 MB in {args.big_sets} set(s)" if args.big else ""
    print(f"\nCIB write CPU ({args.primitives} primitives{big}, "
          f"{args.writes} writes, {disk}; {load_average()})")
    print(table(["measure", "value"], cells))


if __name__ == "__main__":
    main()
