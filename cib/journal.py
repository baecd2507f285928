"""The master's write journal: each batch appended, then fdatasync'd (I/O shell).

Why: a whole-CIB write (cib.store: signature, CIB and directory, each fsync'd, plus the
numbered backup) costs 5-50 ms on a shared disk, and the master's acknowledgements waited
for it on every batch. Appending the batch's patchsets to one file and syncing its data
costs one fdatasync (measured in bench/cib_roundtrip's notes: several times less). The
store's snapshot (``cib.xml``, its signature and backups) is written behind, coalesced,
and empties the journal once it is on disk.

File ``cib.journal`` in the CIB directory: records, each ``length (4 bytes, big endian)``,
``crc32 of the body (4 bytes)``, then the body: JSON with the version the batch starts
from (``base``), the version it ends at, the replication term, the versioned digest of the
result (cib.xmlio.versioned_digest, what replicas compare) and the v2 patchsets in order.

Rotation, so that a save never stalls an append (cib.disk runs them on two threads): when
a save of the copy at version V is issued, the journal's thread renames ``cib.journal`` to
``cib.journal.old`` between two appends (`Journal.rotate`; records up to V are then all in
the old file) and appends on in a fresh ``cib.journal`` (``cib.journal.next``, created and
synced beforehand by the previous save, renamed in). Once ``cib.xml`` at V is on disk the
save's thread deletes the old file (`Journal.drop_old`) and prepares the next one. No
rename needs a directory sync: recovery reads all three names (`read_journal`) and orders
their records by the version they start from, so whichever names a crash left, every
synced record is found, and those the saved copy already holds are skipped.

Invariants:
- a record is acknowledged only after its bytes are written into the file (`Journal.write`
  returned; every replica holds it too: the `cib` package's docstring), and fdatasync'd
  behind (`sync_handles`); `Journal.append` writes and syncs at once;
- the records chain from the snapshot the store last wrote: the first applies to it, each
  next one to the previous result (the cib daemon journals a batch only when the tree it
  starts from is the last one issued to disk, else it writes a snapshot);
- reading stops at the first record that is short, fails its crc or does not parse (a torn
  tail: a write the crash interrupted, never acknowledged); `replay` skips records already
  in the snapshot (their version is not above it) and stops at the first one that does not
  start at the current version, fails to apply or gives another digest or version. What
  stops a replay is reported, never half-applied: the tree is the last good result.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from cib.xmlio import Element, versioned_digest
from messaging.errors import HAError, InternalError
from messaging.types import Version

JOURNAL = "cib.journal"
OLD = "cib.journal.old"  # the records up to the save in progress (rotation)
NEXT = "cib.journal.next"  # the empty file the next rotation appends to
SEGMENTS = (OLD, JOURNAL, NEXT)
_HEADER = struct.Struct(">II")


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One batch of the master's writes."""

    base: Version
    version: Version
    term: int
    digest: str
    patches: tuple[str, ...]

    def encode(self) -> bytes:
        body = json.dumps({"base": list(self.base), "version": list(self.version),
                           "term": self.term, "digest": self.digest,
                           "patches": list(self.patches)}).encode()
        return _HEADER.pack(len(body), zlib.crc32(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> JournalRecord:
        fields = json.loads(body)
        return cls(Version(*fields["base"]), Version(*fields["version"]), int(fields["term"]),
                   str(fields["digest"]), tuple(str(p) for p in fields["patches"]))


@dataclass(frozen=True, slots=True)
class Replayed:
    """What `replay` made of a journal."""

    cib: Element
    term: int | None  # the last applied record's term; None when none applied
    applied: int
    stopped: str | None  # why it stopped before the end, None when every record was used


def read_records(path: Path) -> tuple[list[JournalRecord], bool]:
    """The records of the journal at `path` and whether a torn tail was cut off."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], False
    records: list[JournalRecord] = []
    offset = 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            return records, True
        length, crc = _HEADER.unpack_from(data, offset)
        body = data[offset + _HEADER.size:offset + _HEADER.size + length]
        if len(body) != length or zlib.crc32(body) != crc:
            return records, True
        try:
            records.append(JournalRecord.decode(body))
        except (ValueError, KeyError, TypeError):
            return records, True
        offset += _HEADER.size + length
    return records, False


def read_journal(directory: Path) -> tuple[list[JournalRecord], bool]:
    """Every record of the directory's journal files (rotation may leave up to three), in
    chain order: the files by the version their first record starts from. Whether any had a
    torn tail."""
    parts, torn = [], False
    for name in SEGMENTS:
        records, cut = read_records(directory / name)
        torn = torn or cut
        if records:
            parts.append(records)
    parts.sort(key=lambda records: records[0].base)
    return [record for records in parts for record in records], torn


def replay(cib: Element, records: list[JournalRecord]) -> Replayed:
    """`cib` (a snapshot as written, status included; changed in place) with the journal's
    records applied, up to the first one refused (which leaves it as the one before)."""
    from cib.model import version_of  # lazy: only a start with a journal replays
    from cib.patch import UndoLog, apply_patchset
    from cib.xmlio import parse

    term, applied = None, 0
    for index, record in enumerate(records):
        current = version_of(cib, absent=0)
        if record.version <= current and record.base != current:
            continue  # already in the snapshot (written after this record)
        if record.base != current:
            return Replayed(cib, term, applied, f"record {index} starts at {record.base}, "
                                                f"the copy is at {current}")
        # `cib` is this load's own tree: patched in place, not copied per patch (a 2 MB
        # CIB's copy costs more than its patch), and restored if the record is refused
        undo = UndoLog()
        try:
            result = cib
            for patch in record.patches:
                result = apply_patchset(result, parse(patch), undo=undo)
        except HAError as error:
            undo.rollback()
            return Replayed(cib, term, applied, f"record {index} does not apply: {error}")
        digest = versioned_digest(result, result.get("crm_feature_set"))
        if digest != record.digest or version_of(result, absent=0) != record.version:
            undo.rollback()
            return Replayed(cib, term, applied, f"record {index} gives another digest or "
                                                "version than the master's")
        cib, term, applied = result, record.term, applied + 1
    return Replayed(cib, term, applied, None)


class Journal:
    """Appends to one directory's journal (`append` and `rotate` on one thread, `drop_old`
    and `prepare_next` on the saving one, never while a rotation runs: cib.disk); emptied
    by each snapshot."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / JOURNAL
        self._fd: int | None = None

    def append(self, *records: JournalRecord) -> None:
        """Write `records` (one or a group: group commit) and sync their data, once;
        returns once they are on disk."""
        sync_handles([self.write(*records)])

    @property
    def is_open(self) -> bool:
        """The current file is open: a `write` needs neither a create nor its syncs."""
        return self._fd is not None

    def write(self, *records: JournalRecord) -> int:
        """Write `records` into the file (the kernel's page cache: they survive the death
        of this process, not a power loss) without syncing; returns a duplicate of the
        file's descriptor for `sync_handles`, valid after a rotation closed the file."""
        if self._fd is None:
            created = not self.path.exists()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if created:  # the file's name must survive a crash too
                os.fsync(self._fd)
                fsync_directory(self.directory)
        os.write(self._fd, b"".join(record.encode() for record in records))
        return os.dup(self._fd)

    def rotate(self) -> None:
        """Set the records appended so far aside as the old file (a save holding them all
        is being written) and append on in the prepared next one."""
        self.close()
        old = self.directory / OLD
        if old.exists() and old.stat().st_size:  # an empty one may be left from a crash
            raise InternalError(f"{old}: a rotation before the last save dropped it")
        if self.path.exists():
            os.rename(self.path, self.directory / OLD)
        if (self.directory / NEXT).exists():
            os.rename(self.directory / NEXT, self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def drop_old(self) -> None:
        """The save holding the old file's records is on disk: delete them."""
        (self.directory / OLD).unlink(missing_ok=True)

    def prepare_next(self) -> None:
        """Create the empty file the next rotation appends to, its name synced (so the first
        append after a rotation costs one fdatasync, as every other)."""
        path = self.directory / NEXT
        if path.exists():
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_directory(self.directory)

    def reset(self) -> None:
        """Empty the journal (the snapshot just written holds every record; no append or
        rotation runs meanwhile)."""
        for name in (OLD, NEXT):
            (self.directory / name).unlink(missing_ok=True)
        if self._fd is None and not self.path.exists():
            return
        fd = self._fd if self._fd is not None else os.open(self.path, os.O_WRONLY)
        if os.fstat(fd).st_size:
            os.ftruncate(fd, 0)
            os.fdatasync(fd)
        if self._fd is None:
            os.close(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def sync_handles(handles: list[int]) -> None:
    """fdatasync each descriptor `Journal.write` returned (several of one file cost little
    more than one: group commit), then close them all, even when a sync fails."""
    try:
        for handle in handles:
            os.fdatasync(handle)
    finally:
        for handle in handles:
            os.close(handle)


def fsync_directory(directory: Path) -> None:
    """Make the names in `directory` durable (a created, renamed or removed file)."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


__all__ = ["JOURNAL", "NEXT", "OLD", "SEGMENTS", "Journal", "JournalRecord", "Replayed",
           "fsync_directory", "read_journal", "read_records", "replay", "sync_handles"]
