"""Durable small state files written in place, and the thread that writes them off the loop.

A daemon's small state (heartbeat's replay marks and host cache, ccm's last view id) used
to be replaced atomically: write a temporary file, rename it over the old one. On a disk
mounted with `discard`, the rename frees the old inode and ext4 discards its blocks
synchronously (ext4_evict_inode -> blkdev_issue_discard) in the renaming thread: the
daemon's event loop stalled for up to seconds while it should have been receiving
keepalives and declaring deaths. Two remedies, together:

- `SlotFile`: the file holds two fixed-size slots, written alternately in place (pwrite,
  then fdatasync), never renamed once it exists. Each slot carries a sequence number, the
  payload length and a CRC-32; a reader takes the valid slot with the highest sequence
  number. A write torn by a crash damages only the slot being written, and the other
  slot still holds the previous value, so the last value that was completely written is
  never lost. Only creating the file, or growing it for a payload larger than a slot,
  writes a fresh file and renames it (once, rarely).
- `BackgroundWriter`: one thread per daemon carries the writes out, newest value per file
  (a value superseded before it was written is skipped: each write replaces the whole
  state). The event loop only hands the bytes over.

`StateFiles` (messaging.runtime) is the `Persist` handler built on both.

Invariants: a slot is valid only if its magic, length and CRC agree; `read` returns the
payload of the newest valid slot, or the whole content of a file that is not a slot file
at all (the whole-file format written before, so an upgrade keeps its state), or None;
a write goes to the slot that does not hold the newest valid record.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

MAGIC = b"\x00HSF"  # never at the start of the old text files (read back as whole files)
_HEADER = struct.Struct(">4sQII")  # magic, sequence number, payload length, crc32
HEADER_SIZE = _HEADER.size
MIN_SLOT = 4096  # one page: a slot write touches one page for small state


def _crc(seq: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack(">QI", seq, len(payload))))


def encode_slot(seq: int, payload: bytes) -> bytes:
    """One slot's bytes: header then payload (the rest of the slot is not written)."""
    return _HEADER.pack(MAGIC, seq, len(payload), _crc(seq, payload)) + payload


def decode_slot(raw: bytes) -> tuple[int, bytes] | None:
    """(sequence number, payload) of a slot, or None when it is empty, torn or foreign."""
    if len(raw) < HEADER_SIZE:
        return None
    magic, seq, length, crc = _HEADER.unpack_from(raw)
    if magic != MAGIC or length > len(raw) - HEADER_SIZE:
        return None
    payload = raw[HEADER_SIZE:HEADER_SIZE + length]
    return (seq, payload) if _crc(seq, payload) == crc else None


def slot_size_for(length: int) -> int:
    """The smallest power-of-two slot (at least MIN_SLOT) that holds `length` bytes."""
    size = MIN_SLOT
    while size - HEADER_SIZE < length:
        size *= 2
    return size


def newest(content: bytes) -> tuple[int, bytes] | None:
    """The newest valid record of a two-slot file's content (None when there is none)."""
    if len(content) < 2 * HEADER_SIZE or len(content) % 2:
        return None
    size = len(content) // 2
    records = [r for r in (decode_slot(content[:size]), decode_slot(content[size:]))
               if r is not None]
    return max(records, default=None, key=lambda record: record[0])


class SlotFile:
    """One state file of two slots, written in place. Not thread-safe: one writer."""

    def __init__(self, path: str | Path, sync: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        self._slot_size = 0  # 0 until the file is known to be a slot file of that size
        self._seq = 0  # sequence number of the newest valid record on disk

    def read(self) -> bytes | None:
        """The newest value written (see the module's invariants), None when none."""
        try:
            content = self.path.read_bytes()
        except OSError:
            return None
        record = newest(content)
        if record is not None:
            return record[1]
        return None if content.startswith(MAGIC) else content

    def write(self, payload: bytes) -> None:
        """Store `payload` so that a crash at any point leaves it or the previous value.

        Raises:
            OSError: the file cannot be written (the previous value stays readable).
        """
        if not self._slot_size:
            self._learn()
        if HEADER_SIZE + len(payload) > self._slot_size:
            self._create(payload)
            return
        seq = self._seq + 1
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, encode_slot(seq, payload), (seq % 2) * self._slot_size)
            if self.sync:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        self._seq = seq

    def _learn(self) -> None:
        """Find the slot size and newest sequence number of the file already there."""
        try:
            content = self.path.read_bytes()
        except OSError:
            return
        record = newest(content)
        if record is not None:
            self._slot_size, self._seq = len(content) // 2, record[0]

    def _create(self, payload: bytes) -> None:
        """A fresh file holding `payload` (renamed into place: a crash leaves old or new)."""
        size = slot_size_for(len(payload))
        seq = self._seq + 1
        content = bytearray(2 * size)
        record = encode_slot(seq, payload)
        start = (seq % 2) * size
        content[start:start + len(record)] = record
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, bytes(content))
            if self.sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        self._slot_size, self._seq = size, seq


class BackgroundWriter:
    """Writes `SlotFile`s on one thread, newest value per file, in submission order.

    `submit` never blocks on the disk; `flush` waits until everything submitted is
    written; `close` flushes and ends the thread. A failed write is reported through
    `on_error(path, error)` (from the writer thread) and does not stop later writes.
    """

    def __init__(self, on_error: Callable[[Path, OSError], None] | None = None,
                 sync: bool = True, name: str = "state-writer") -> None:
        self._on_error = on_error
        self._sync = sync
        self._name = name
        self._files: dict[Path, SlotFile] = {}
        self._pending: dict[Path, bytes] = {}
        self._busy = False
        self._closed = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, path: Path, payload: bytes) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError(f"{self._name} is closed")
            self._pending.pop(path, None)  # re-queued last: writes keep submission order
            self._pending[path] = payload
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name,
                                                daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def pending(self, path: Path) -> bytes | None:
        """The value submitted for `path` and not yet written, if any."""
        with self._wake:
            return self._pending.get(path)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted value is written; False when `timeout` ran out."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Flush, then stop the thread; False when the flush timed out."""
        flushed = self.flush(timeout)
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        return flushed

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                path = next(iter(self._pending))
                payload = self._pending[path]  # stays `pending` until it is on disk
                self._busy = True
            self._write(path, payload)
            with self._wake:
                if self._pending.get(path) is payload:  # not superseded meanwhile
                    del self._pending[path]
                self._busy = False
                self._wake.notify_all()

    def _write(self, path: Path, payload: bytes) -> None:
        file = self._files.setdefault(path, SlotFile(path, self._sync))
        try:
            file.write(payload)
        except OSError as error:
            if self._on_error is not None:
                self._on_error(path, error)


__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "MIN_SLOT",
    "BackgroundWriter",
    "SlotFile",
    "decode_slot",
    "encode_slot",
    "newest",
    "slot_size_for",
]
