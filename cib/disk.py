"""The cib daemon's disk writes, off its event loop, and what must wait for them (I/O shell).

A write of the CIB costs several fsyncs (cib.store: the signature, the CIB, the directory),
tens of milliseconds on an ordinary disk; a journal append (cib.journal) costs one
fdatasync. Done on the event loop they stalled everything else: the diffs to the replicas
left only after the master's fsyncs, and a replica's loop froze while it wrote its copy.
Here every write runs on one worker thread, so the loop sends, receives and applies
meanwhile.

Invariants:
- writes and journal appends reach the store one at a time, in the order they were issued
  (one worker), so a save empties the journal of exactly the records issued before it;
- an action passed to `after_writes` (the daemon's acknowledgements) runs on the loop only
  once every write issued before it is on disk, so "acknowledged" still means "on the
  master's disk": the core emits a batch's acknowledgements only after the `PersistCib` of
  that batch, so the write they depend on was issued before them. Writes issued `behind`
  (a replica's deferred copy, the master's save behind its journal) are not waited for: a
  non-DC node's answer to its client, already on the master's disk, no longer waits for
  this node's own copy (it did: 15 ms in a profiled write);
- a write that fails is fatal: the acknowledgements held behind it are never sent (their
  clients time out, outcome unknown) and the daemon is stopped (SIGTERM to itself), to be
  restarted by the launcher and take the cluster's copy.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from cib.journal import JournalRecord
from cib.store import CibStore
from cib.xmlio import Element


class DiskWriter:
    """One store's writes, in order, on a worker thread."""

    def __init__(self, store: CibStore, log: Any) -> None:
        self.store, self.log = store, log
        self.issued = 0
        self.done = 0
        self.failed = False
        self._held: deque[tuple[int, Callable[[], object]]] = deque()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cib-disk")

    def write(self, cib: Element, term: int, behind: bool = False) -> None:
        """Start writing `cib` (a tree nobody changes any more) with its term. A write
        `behind` (a replica's copy, or the master's save behind its journal) holds back no
        acknowledgement: none depends on it."""
        if not behind:
            self.issued += 1
        future = asyncio.get_running_loop().run_in_executor(
            self._worker, lambda: self.store.save(cib, keep_status=True, term=term))
        future.add_done_callback(self._saved_behind if behind else self._written)

    def append(self, record: JournalRecord) -> None:
        """Start appending one batch to the journal (cib.journal), in order with the writes."""
        self.issued += 1
        future = asyncio.get_running_loop().run_in_executor(
            self._worker, lambda: self.store.append(record))
        future.add_done_callback(self._written)

    def after_writes(self, action: Callable[[], object]) -> None:
        """Run `action` now if nothing is being written, else once what is issued is done."""
        if self.failed:
            return
        if self.done >= self.issued:
            action()
        else:
            self._held.append((self.issued, action))

    def _saved_behind(self, future: asyncio.Future[Any] | Future[Any]) -> None:
        if future.exception() is not None:
            self._written(future)  # fatal all the same

    def _written(self, future: asyncio.Future[Any] | Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            self.failed = True
            self._held.clear()
            self.log.critical("cib_write_failed", error=str(error),
                              directory=str(self.store.directory))
            os.kill(os.getpid(), signal.SIGTERM)
            return
        self.done += 1
        while self._held and self._held[0][0] <= self.done:
            self._held.popleft()[1]()

    def close(self) -> None:
        """Wait for the writes in flight (the daemon's stop)."""
        self._worker.shutdown(wait=True)


__all__ = ["DiskWriter"]
