"""cib.disk: writes run in order off the loop, and an acknowledgement waits for every write
issued before it (exit 0 means "written into the master's journal", not yet synced)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from cib.disk import DiskWriter
from cib.model import empty_cib
from cib.store import CibStore, DiskCopy
from cib.xmlio import Element
from messaging.logs import get_logger


def _epoch(cib: DiskCopy | Element) -> str | None:
    """The epoch of what a save got (the disk writer prints the tree when asked)."""
    return str(cib.version.epoch) if isinstance(cib, DiskCopy) else cib.get("epoch")


class GatedStore(CibStore):
    """A real store whose writes wait for the test's go-ahead."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gate = threading.Event()
        self.saved: list[str | None] = []

    def save(self, cib, written=None, keep_status=False, term=None,  # type: ignore[no-untyped-def]
             reset_journal=True):
        assert self.gate.wait(10)
        self.saved.append(_epoch(cib))
        return super().save(cib, written, keep_status, term, reset_journal)


def _run_gated(store: GatedStore | GatedJournalStore, events: list[str],
               queue: Callable[[DiskWriter], None]) -> None:
    """Queue writes and acknowledgements while the store's gate holds the disk thread, let
    the event loop run on ("loop ran"), open the gate and wait for the two acknowledgements."""

    async def scenario() -> None:
        disk = DiskWriter(store, get_logger(daemon="test"))
        queue(disk)
        await asyncio.sleep(0.05)  # the loop runs on while the writes wait at the gate
        events.append("loop ran")
        store.gate.set()
        while len(events) < 3:
            await asyncio.sleep(0.01)
        disk.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_an_acknowledgement_waits_for_the_writes_before_it(tmp_path: Path) -> None:
    store = GatedStore(tmp_path)
    events: list[str] = []

    def queue(disk: DiskWriter) -> None:
        disk.after_writes(lambda: events.append("ack before any write"))
        disk.write(empty_cib(epoch=1), term=1)
        disk.write(empty_cib(epoch=2), term=1)
        disk.after_writes(lambda: events.append("ack after epoch 2"))

    _run_gated(store, events, queue)
    assert events == ["ack before any write", "loop ran", "ack after epoch 2"]
    assert store.saved == ["1", "2"]
    loaded = CibStore(tmp_path).load()
    assert loaded.cib is not None and loaded.cib.get("epoch") == "2"


def test_a_copy_saved_behind_holds_back_no_acknowledgement(tmp_path: Path) -> None:
    store = GatedStore(tmp_path)
    events: list[str] = []

    def queue(disk: DiskWriter) -> None:
        disk.write(empty_cib(epoch=1), term=1, behind=True)  # a replica's deferred copy
        disk.after_writes(lambda: events.append("ack at once"))
        disk.write(empty_cib(epoch=2), term=1)  # the master's copy
        disk.after_writes(lambda: events.append("ack after epoch 2"))

    _run_gated(store, events, queue)
    assert events == ["ack at once", "loop ran", "ack after epoch 2"]
    assert store.saved == ["1", "2"]


def test_a_save_holds_the_tree_as_it_was_when_requested(tmp_path: Path) -> None:
    """A replica changes its live tree in place (cib.replication_follower): a save waiting
    for its thread must write the tree of its request, not what the tree became since."""
    store = GatedStore(tmp_path)
    events: list[str] = []
    live = empty_cib(epoch=2)

    def queue(disk: DiskWriter) -> None:
        disk.write(empty_cib(epoch=1), term=1)  # holds the save thread at the gate
        disk.write(live, term=1)  # waits behind it
        live.set("epoch", "3")  # the next change, in place
        live.set("num_updates", "7")
        disk.after_writes(lambda: events.append("saved"))
        events.append("queued")

    _run_gated(store, events, queue)
    loaded = CibStore(tmp_path).load()
    assert loaded.cib is not None and loaded.cib.get("epoch") == "2"
    assert store.saved == ["1", "2"]


def test_an_append_to_an_open_journal_is_in_the_file_when_append_returns(
        tmp_path: Path) -> None:
    """With the journal's thread idle and its file open, the batch is written on the loop
    (page cache, sync behind); what waited for it is released on the loop's next turn,
    never inside `append`."""
    from cib.journal import JOURNAL, JournalRecord, read_journal
    from messaging.types import Version

    def record(epoch: int) -> JournalRecord:
        return JournalRecord(Version(0, epoch - 1, 0), Version(0, epoch, 0), 1, "0" * 32,
                             (f"<diff epoch='{epoch}'/>",))

    async def scenario() -> tuple[list[str], list[str]]:
        disk = DiskWriter(CibStore(tmp_path), get_logger(daemon="test"))
        events: list[str] = []
        disk.append(record(2))  # the first one creates the file, on the journal's thread
        disk.after_writes(lambda: events.append("first acked"))
        while not events:
            await asyncio.sleep(0.01)
        size = (tmp_path / JOURNAL).stat().st_size
        disk.append(record(3))
        written = ["in the file"] if (tmp_path / JOURNAL).stat().st_size > size else []
        disk.after_writes(lambda: events.append("second acked"))
        written += events[1:]  # nothing released inside append
        while len(events) < 2:
            await asyncio.sleep(0.01)
        disk.close()
        return written, events

    written, events = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert written == ["in the file"]
    assert events == ["first acked", "second acked"]
    records, _ = read_journal(tmp_path)
    assert [r.version.epoch for r in records] == [2, 3]


class GatedJournalStore(CibStore):
    """A real store whose journal writes wait for the test's go-ahead."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gate = threading.Event()

    def write_journal(self, *records):  # type: ignore[no-untyped-def]
        assert self.gate.wait(10)
        return super().write_journal(*records)


def test_an_append_behind_holds_back_no_acknowledgement(tmp_path: Path) -> None:
    """A replica journals its copy of the master's batch: its own client's answer (already
    in the master's journal) does not wait for that append; the master's append does."""
    from cib.journal import JournalRecord, read_journal
    from messaging.types import Version

    def record(epoch: int) -> JournalRecord:
        return JournalRecord(Version(0, epoch - 1, 0), Version(0, epoch, 0), 1, "0" * 32,
                             (f"<diff epoch='{epoch}'/>",))

    store = GatedJournalStore(tmp_path)
    events: list[str] = []

    def queue(disk: DiskWriter) -> None:
        disk.append(record(2), behind=True)  # the journal's thread waits at the gate
        disk.after_writes(lambda: events.append("ack at once"))
        disk.append(record(3))
        disk.after_writes(lambda: events.append("ack after epoch 3"))

    _run_gated(store, events, queue)
    assert events == ["ack at once", "loop ran", "ack after epoch 3"]
    records, _ = read_journal(tmp_path)
    assert [r.version.epoch for r in records] == [2, 3]


class TwoGateStore(CibStore):
    """A real store: the save of epoch N waits for gate N; `done` lists the finished ones."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gates = {"1": threading.Event(), "2": threading.Event()}
        self.done: list[str] = []

    def save(self, cib, written=None, keep_status=False, term=None,  # type: ignore[no-untyped-def]
             reset_journal=True):
        assert self.gates[_epoch(cib)].wait(10)
        result = super().save(cib, written, keep_status, term, reset_journal)
        self.done.append(_epoch(cib))
        return result


def test_a_held_action_made_to_wait_longer_waits_for_the_later_write(tmp_path: Path) -> None:
    """The cib sends diffs made while the first waits for the disk as one batch: the batch
    then waits for the last one's write too, and what was held behind it (the first
    write's acknowledgement) still comes after it."""
    store = TwoGateStore(tmp_path)
    events: list[str] = []

    async def scenario() -> None:
        disk = DiskWriter(store, get_logger(daemon="test"))
        disk.write(empty_cib(epoch=1), term=1)
        held = disk.after_writes(lambda: events.append("batch"))
        disk.after_writes(lambda: events.append("ack 1"))
        disk.write(empty_cib(epoch=2), term=1)
        assert held is not None
        disk.wait_longer(held)
        store.gates["1"].set()
        while "1" not in store.done:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the loop learns that epoch 1 is written
        events.append("epoch 1 written")
        store.gates["2"].set()
        while len(events) < 3:
            await asyncio.sleep(0.01)
        disk.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert events == ["epoch 1 written", "batch", "ack 1"]
