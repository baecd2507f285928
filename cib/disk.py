"""The cib daemon's disk writes, off its event loop, and what must wait for them (I/O shell).

A write of the CIB costs several fsyncs (cib.store: the signature, the CIB, the directory),
tens of milliseconds on an ordinary disk; a journal append (cib.journal) costs one
fdatasync. Done on the event loop they stalled everything else: the diffs to the replicas
left only after the master's fsyncs, and a replica's loop froze while it wrote its copy.
Here they run on three worker threads, so the loop sends, receives and applies meanwhile:
journal writes on one, their fdatasyncs on another, whole-copy saves on the third, so a
journal write (which an acknowledgement waits for) never queues behind a save (one waited
119 ms behind one) nor behind the previous batch's sync.

What an acknowledgement waits for (the `cib` package's docstring has the whole guarantee):
the master journals a change only when it has replicas; its bytes must be written into the
master's journal (the page cache: they survive the death of the master's process), not
synced, before its diff leaves for the replicas and before the acknowledgement: the
fdatasync follows in the background, the batches written meanwhile sharing the next one,
as Pacemaker's cib acknowledges once a change is applied and broadcast, and writes the CIB
to disk afterwards. A master without replicas (one node) never journals:
its changes are whole-copy saves, and those are waited for to the end (fsync included).

Invariants:
- journal writes reach the file in the order they were issued (one thread at a time: on
  the loop itself while the journal's thread is idle and the file open, `_write_here`; a
  page-cache write, the sync stays behind on its thread); those issued while it writes go
  together, never before what precedes; each written run is synced
  afterwards, in order, the runs written during a sync sharing the next one; saves run one
  at a time, in order, the newest of those requested while one runs replacing the others
  (coalesced: each is a whole copy);
- a save never empties a journal record it does not hold: a save of the copy at version V
  is issued after the append of the record ending at V, and starts with a rotation queued
  on the journal's thread behind that append (`cib.journal.Journal.rotate`: the records so
  far become the old file); the old file is deleted only once the saved copy and the
  rotation are both done, and the next rotation waits for that (one save at a time);
- an action passed to `after_writes` (the daemon's acknowledgements and its frames to peers)
  runs on the loop, in the order passed, only once every journal append issued before it
  is written and every save not `behind` issued before it is done, whichever thread
  finished first: the core emits a change's diff and acknowledgement only after its
  `PersistCib`, so the append they depend on was issued before them (`wait_longer` makes a
  held action wait for what was issued up to then too: the cib's diffs sent together; what
  is held behind it waits with it). Appends and saves issued `behind` (a replica's
  deferred copy, journaled or whole, the master's save behind its journal) are not waited
  for: a non-DC node's answer to its client, already in the master's journal, does not
  wait for this node's own copy;
- a write or sync that fails is fatal: the acknowledgements held behind it are never sent
  (their clients time out, outcome unknown) and the daemon is stopped (SIGTERM to itself),
  to be restarted by the launcher and take the cluster's copy (a failed sync may come
  after acknowledgements: their diffs were sent to every replica).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

from cib.journal import JournalRecord
from cib.store import CibStore, DiskCopy, disk_copy
from cib.xmlio import Element


@dataclass
class _Save:
    """A requested whole-copy save (printed when requested) and the issue numbers that
    complete with it."""

    cib: DiskCopy
    term: int
    numbers: list[int] = field(default_factory=list)


class DiskWriter:
    """One store's journal writes, journal syncs and saves, each kind in order on a thread
    of its own."""

    def __init__(self, store: CibStore, log: Any) -> None:
        self.store, self.log = store, log
        self.issued = 0
        self.failed = False
        self._unfinished: set[int] = set()  # issue numbers holding acknowledgements back
        self._held: deque[list[Any]] = deque()  # [issue number waited for, action]
        self._journal = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cib-journal")
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cib-save")
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cib-sync")
        self._unsynced: SimpleQueue[int] = SimpleQueue()  # written journal data to sync
        self._syncing = False
        self._saving = False
        self._next_save: _Save | None = None
        self._closed = False
        self._appending = False
        self._queued: list[tuple[int, JournalRecord | Future[None]]] = []  # 0: a rotation

    def _number(self) -> int:
        self.issued += 1
        self._unfinished.add(self.issued)
        return self.issued

    def write(self, cib: Element, term: int, behind: bool = False) -> None:
        """Save `cib` with its term as it is now (printed here, on the loop: the live tree
        changes in place after this returns), once the save in progress (if any) is done.
        A save `behind` (a replica's copy, or the master's save behind its journal) holds
        back no acknowledgement: none depends on it."""
        numbers = [] if behind else [self._number()]
        if self._next_save is not None:  # superseded: completes with this newer copy
            numbers = self._next_save.numbers + numbers
        self._next_save = _Save(disk_copy(cib, keep_status=True), term, numbers)
        if not self._saving:
            self._start_save()

    def append(self, record: JournalRecord, behind: bool = False) -> None:
        """Append one batch to the journal (cib.journal), in issue order: written at once,
        or with the others issued while the journal's thread writes; synced behind, with
        the others written meanwhile (group commit: one sync). One `behind` (a replica's
        copy of the master's batch) holds back no acknowledgement."""
        self._queued.append((0 if behind else self._number(), record))
        self._pump()

    def _pump(self) -> None:
        if self._appending or not self._queued:
            return
        queued, self._queued = self._queued, []
        loop = asyncio.get_running_loop()
        if self.store.journal.is_open and all(isinstance(item, JournalRecord)
                                              for _, item in queued):
            self._write_here(queued, loop)
            return
        self._appending = True

        def written(numbers: list[int]) -> None:  # on the journal's thread
            loop.call_soon_threadsafe(self._journal_written, numbers)

        future = loop.run_in_executor(self._journal, self._write_journal, queued, written)
        future.add_done_callback(lambda done: self._journaled(done, queued))

    def _write_here(self, queued: list[tuple[int, JournalRecord | Future[None]]],
                    loop: asyncio.AbstractEventLoop) -> None:
        """The journal's thread is idle and its file open: write on the loop (a page-cache
        write of a few hundred bytes, no sync), sparing the two thread hand-offs that kept
        each acknowledgement waiting for a CPU on a loaded host; what waited for these
        records is released on the loop's next turn, never inside the caller's `append`."""
        try:
            self._write_run([(n, r) for n, r in queued if isinstance(r, JournalRecord)],
                            lambda numbers: loop.call_soon(self._journal_written, numbers))
        except OSError as error:
            self._fail(error)

    def _write_journal(self, queued: list[tuple[int, JournalRecord | Future[None]]],
                       written: Callable[[list[int]], object]) -> None:
        """On the journal's thread: runs of records written together (`written` told of
        each, their sync queued), and the rotations queued between them, in order."""
        run: list[tuple[int, JournalRecord]] = []
        try:
            for number, item in queued:
                if isinstance(item, JournalRecord):
                    run.append((number, item))
                    continue
                self._write_run(run, written)
                run = []
                self.store.journal.rotate()
                item.set_result(None)
            self._write_run(run, written)
        except BaseException as error:
            for _, item in queued:  # a save waiting for its rotation fails too
                if isinstance(item, Future) and not item.done():
                    item.set_exception(error)
            raise

    def _write_run(self, run: list[tuple[int, JournalRecord]],
                   written: Callable[[list[int]], object]) -> None:
        if run:
            self._unsynced.put(self.store.write_journal(*(record for _, record in run)))
            written([number for number, _ in run])

    def _journal_written(self, numbers: list[int]) -> None:
        """On the loop: release what waited for these records, and sync them behind."""
        if self.failed:
            return
        self._release(numbers)
        self._pump_sync()

    def _pump_sync(self) -> None:
        if self._syncing or self._closed:
            return
        handles = _drain(self._unsynced)
        if not handles:
            return
        self._syncing = True
        future = asyncio.get_running_loop().run_in_executor(
            self._syncer, self.store.sync_journal, handles)
        future.add_done_callback(self._synced)

    def _synced(self, future: asyncio.Future[Any]) -> None:
        self._syncing = False
        error = future.exception()
        if error is not None:
            self._fail(error)
        elif not self.failed:
            self._pump_sync()

    def _journaled(self, future: asyncio.Future[Any],
                   queued: list[tuple[int, JournalRecord | Future[None]]]) -> None:
        self._appending = False
        self._finished(future, [number for number, _ in queued if number])
        if not self.failed and not self._closed:
            self._pump()

    def _start_save(self) -> None:
        save, self._next_save = self._next_save, None
        if save is None:
            return
        self._saving = True
        rotated: Future[None] = Future()
        self._queued.append((0, rotated))  # behind the appends issued so far
        self._pump()
        future = asyncio.get_running_loop().run_in_executor(
            self._saver, self._save, save, rotated)
        future.add_done_callback(lambda done: self._saved(done, save.numbers))

    def _save(self, save: _Save, rotated: Future[None]) -> None:
        """On the save thread: the copy, then (the rotation done) the old journal file."""
        self.store.save(save.cib, term=save.term, reset_journal=False)
        rotated.result()
        self.store.journal.drop_old()
        self.store.journal.prepare_next()

    def _saved(self, future: asyncio.Future[Any], numbers: list[int]) -> None:
        self._saving = False
        self._finished(future, numbers)
        if not self.failed and not self._closed:
            self._start_save()

    def after_writes(self, action: Callable[[], object]) -> list[Any] | None:
        """Run `action` now if nothing is being written, else once what is issued is done;
        the held entry is returned (for `wait_longer`), None when it ran."""
        if self.failed:
            return None
        if not self._unfinished:
            action()
            return None
        held = [self.issued, action]
        self._held.append(held)
        return held

    def wait_longer(self, held: list[Any]) -> None:
        """A held action now also waits for what was issued since (the cib's diffs sent
        together: the last one's journal record). What was held behind it waits with it,
        so the order of held actions stays the order they were passed."""
        held[0] = self.issued
        self._release([])  # what it now waits for may be done already

    def _finished(self, future: asyncio.Future[Any], numbers: list[int]) -> None:
        error = future.exception()
        if error is not None:
            self._fail(error)
        else:
            self._release(numbers)

    def _release(self, numbers: list[int]) -> None:
        if self.failed:
            return
        self._unfinished.difference_update(numbers)
        lowest = min(self._unfinished, default=self.issued + 1)
        while self._held and self._held[0][0] < lowest:
            self._held.popleft()[1]()

    def _fail(self, error: BaseException) -> None:
        self.failed = True
        self._held.clear()
        self.log.critical("cib_write_failed", error=str(error),
                          directory=str(self.store.directory))
        os.kill(os.getpid(), signal.SIGTERM)

    def close(self) -> None:
        """Wait for the writes in flight (the daemon's stop); a save still waiting for its
        turn is written here (the journal kept: records issued after it may be newer; the
        daemon's stop folds them into its last save)."""
        self._closed = True
        self._journal.shutdown(wait=True)
        queued, self._queued = self._queued, []
        if not self.failed:  # what waited for the last write (and a rotation)
            self._write_journal(queued, lambda numbers: None)
        for _, item in queued:  # after a failure: a save waiting for its rotation gives up
            if isinstance(item, Future) and not item.done():
                item.set_exception(OSError("the journal failed before this rotation"))
        self._saver.shutdown(wait=True)
        self._syncer.shutdown(wait=True)
        unsynced = _drain(self._unsynced)
        if self.failed:
            for handle in unsynced:
                os.close(handle)
        else:
            self.store.sync_journal(unsynced)
        pending, self._next_save = self._next_save, None
        if pending is not None and not self.failed:
            self.store.save(pending.cib, term=pending.term, reset_journal=False)


def _drain(handles: SimpleQueue[int]) -> list[int]:
    drained: list[int] = []
    while True:
        try:
            drained.append(handles.get_nowait())
        except Empty:
            return drained


__all__ = ["DiskWriter"]
