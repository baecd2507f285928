"""What the master's acknowledgement waits for on disk: a whole-CIB save against a journal
append (issue 9), interleaved on the same directory, so the shared disk's mood hits both.

    python bench/cib_journal_disk.py [--count 40] [--dir /var/lib/hacluster-lab]

Rows (wall p50 / p90, and CPU p50 of the calling thread): `CibStore.save` (backup links,
signature, CIB and cib.last each written atomically with fsync, directory fsync) and
`CibStore.append` (one journal record, one fdatasync), for a small CIB and a 2 MB one; and
the raw disk: one fdatasync'd 600-byte append; and what the daemon's acknowledgement waits
for, alone and when a snapshot save is under way (`cib.disk.DiskWriter`: a save of the
2 MB CIB issued behind, then one journal append, until `after_writes` runs the
acknowledgement).
Run it in the lab's data directory (the same file system as the cib daemons' stores).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import load_average, table

from cib.xmlio import Element


def _cib(pairs: int) -> Element:
    from cib.model import empty_cib
    from cib.xmlio import parse

    cib = empty_cib(epoch=1)
    config = cib.find("configuration/crm_config")
    assert config is not None
    values = "".join(f'<nvpair id="b{n}" name="b{n}" value="{"x" * 40}"/>' for n in range(pairs))
    config.append(parse(f'<cluster_property_set id="bulk">{values}</cluster_property_set>'))
    return cib


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.thread_time()
    action()
    return time.perf_counter() - started, time.thread_time() - cpu


def _cell(samples: list[tuple[float, float]]) -> list[str]:
    walls = sorted(s[0] for s in samples)
    return [f"{statistics.median(walls) * 1e3:.2f} / {walls[int(len(walls) * 0.9)] * 1e3:.2f} ms",
            f"{statistics.median(s[1] for s in samples) * 1e3:.2f} ms"]


def _synced_append(fd: int) -> None:
    import os

    os.write(fd, b"y" * 600)
    os.fdatasync(fd)


async def _append_during_save(store: object, cib: Element | None, record: object,
                              count: int) -> list[tuple[float, float]]:
    """Wall time from a journal append to its acknowledgement, each issued right after a
    whole save (behind: nothing waits for it) of `cib` (None: alone, after the previous
    append's sync had time to finish); CPU is not measured (0)."""
    from cib.disk import DiskWriter
    from messaging.logs import get_logger

    disk = DiskWriter(store, get_logger(daemon="bench"))  # type: ignore[arg-type]
    samples = []
    for _ in range(count):
        if cib is not None:
            disk.write(cib, term=1, behind=True)
        else:
            await asyncio.sleep(0.03)
        acknowledged: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        disk.append(record)  # type: ignore[arg-type]
        disk.after_writes(functools.partial(_stamp, acknowledged))
        samples.append((await acknowledged - started, 0.0))
        while getattr(disk, "_saving", False):  # (a single-thread writer has no such flag:
            await asyncio.sleep(0.005)  # its append was done after the save)
    disk.close()
    return samples


def _stamp(done: asyncio.Future[float]) -> None:
    done.set_result(time.perf_counter())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--dir", default="/var/lib/hacluster-lab")
    args = parser.parse_args()
    import os

    from cib.journal import JournalRecord
    from cib.store import CibStore
    from messaging.types import Version

    Path(args.dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cib-journal-bench-", dir=args.dir))
    record = JournalRecord(Version(0, 1, 0), Version(0, 1, 1), 1, "0" * 32,
                           ('<diff format="2"><change operation="modify"/></diff>',))
    samples: dict[str, list[tuple[float, float]]] = {}
    try:
        for label, pairs in (("small CIB", 10), ("2 MB CIB", 22000)):
            cib, store = _cib(pairs), CibStore(work / label.replace(" ", "-"))
            store.save(cib, keep_status=True, term=1)
            save = functools.partial(store.save, cib, keep_status=True, term=1)
            append = functools.partial(store.append, record)
            for _ in range(args.count):
                samples.setdefault(f"save, {label}", []).append(_timed(save))
                samples.setdefault(f"journal append, {label}", []).append(_timed(append))
        samples["append acknowledged, nothing else running (DiskWriter)"] = asyncio.run(
            _append_during_save(CibStore(work / "alone"), None, record, args.count))
        samples["append acknowledged while a 2 MB save runs (DiskWriter)"] = asyncio.run(
            _append_during_save(CibStore(work / "writer"), _cib(22000), record, args.count))
        raw = os.open(work / "raw", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        samples["raw: 600 B append + fdatasync"] = [
            _timed(functools.partial(_synced_append, raw)) for _ in range(args.count)]
        os.close(raw)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nCIB disk cost per acknowledged batch, {args.count} each ({load_average()})")
    print(table(["what", "wall p50 / p90", "CPU p50"],
                [[name, *_cell(values)] for name, values in samples.items()]))


if __name__ == "__main__":
    main()
