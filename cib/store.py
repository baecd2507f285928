"""The CIB on disk, laid out and checked as Pacemaker's CIB manager does (I/O shell).

Files in the directory: ``cib.xml`` and ``cib.xml.sig`` (the on-disk MD5 digest of the
written tree), numbered backups of the previous pair ``cib-N.raw`` and ``cib-N.raw.sig``
(hard links made before each write; N comes from ``cib.last`` and wraps at `series_max`,
100 like Pacemaker's CIB_SERIES_MAX), and ours alone: ``cib.term``, the replication term of
the live copy (a backup taken instead counts as term 0), and ``cib.journal`` (cib.journal, with
``.old`` and ``.next`` while it rotates): the master's batches appended since the last
save, replayed onto the copy at load.

Invariants: a write is atomic (temporary file in the same directory, fsync, rename, then a
directory fsync), the digest is written before the CIB so a crash between the two renames
leaves a pair that fails its check rather than a wrong pair that passes; a write refuses to
replace a ``cib.xml`` that no longer matches its signature (someone edited it by hand: that
file is moved aside first and kept; the check is skipped when the pair is the very one
this store wrote last: same inodes, size and modification times). At load a file that is
unreadable, unparsable or does not match its signature is moved aside as
``<name>.corrupt-K`` (never deleted) and the newest good backup is used instead; the status
section is dropped and an empty one added, ``dc-uuid`` is removed and missing version fields
become 0, as Pacemaker does at start-up. The journal is replayed before the status is
dropped (its patches may touch the status); every save empties it once the new pair and
the directory are on disk (or, when rotated, drops the old file the save holds:
cib.journal), so the journal always chains from the saved copy.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

from cib.journal import (
    SEGMENTS,
    Journal,
    JournalRecord,
    fsync_directory,
    read_journal,
    replay,
    sync_handles,
)
from cib.model import Version, as_started, version_of
from cib.xmlio import Element, element_text, on_disk_digest, parse
from messaging.errors import ValidationError

SERIES_MAX = 100
LIVE = "cib.xml"


@dataclass(frozen=True)
class DiskCopy:
    """A tree as the disk gets it (its file text and signature), printed at once: the live
    tree changes in place afterwards (cib.replication_follower), so a save waiting for its
    thread must not print it later."""

    text: bytes
    signature: str
    version: Version


def disk_copy(cib: Element, written: str | None = None, keep_status: bool = False) -> DiskCopy:
    """`cib` printed for the disk now (`for_disk`'s rules)."""
    tree = for_disk(cib, written, keep_status)
    return DiskCopy(element_text(tree).encode(), on_disk_digest(tree),
                    version_of(tree, absent=0))


@dataclass
class Loaded:
    """What `CibStore.load` found: the CIB (None when nothing usable) and what was set aside."""

    cib: Element | None
    source: Path | None
    set_aside: list[Path] = field(default_factory=list)
    term: int = 0
    replayed: int = 0  # journal records applied on top of the file
    journal_problem: str | None = None  # why the journal was not used to its end


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: temporary file, fsync, rename, directory fsync."""
    _write_file(path.parent, path.name, data)
    fsync_directory(path.parent)


def _write_file(directory: Path, name: str, data: bytes) -> None:
    import tempfile  # lazy: a query never writes, and tempfile pulls in shutil and random

    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, directory / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def for_disk(cib: Element, written: str | None = None, keep_status: bool = False) -> Element:
    """The tree as Pacemaker writes it: no status (unless asked), num_updates 0. `cib`
    itself when nothing needs changing (the caller does not change what it wrote)."""
    if keep_status and written is None:
        return cib
    tree = copy.deepcopy(cib)
    if not keep_status:
        for status in tree.findall("status"):
            tree.remove(status)
        tree.set("num_updates", "0")
    if written is not None:
        tree.set("cib-last-written", written)
    return tree


class CibStore:
    """The CIB directory of one node."""

    def __init__(self, directory: Path, series_max: int = SERIES_MAX) -> None:
        self.directory = directory
        self.series_max = series_max
        self._written: tuple[int, ...] | None = None  # stat of the pair we last wrote
        self._term_written: int | None = None  # the cib.term this store last wrote
        self.journal = Journal(directory)

    def _stat(self) -> tuple[int, ...] | None:
        try:
            live, sig = (os.stat(self.directory / name) for name in (LIVE, f"{LIVE}.sig"))
        except OSError:
            return None
        return live.st_ino, sig.st_ino, live.st_size, live.st_mtime_ns, sig.st_mtime_ns

    def _read_pair(self, name: str) -> Element:
        """The tree in `name` if it matches `name`.sig; raises ValidationError otherwise."""
        path = self.directory / name
        try:
            data = path.read_bytes()
            signature = (self.directory / f"{name}.sig").read_text().strip()
        except OSError as error:
            raise ValidationError(f"{path}: cannot read it or its signature: {error}") from None
        tree = parse(data, str(path))
        if on_disk_digest(tree) != signature:
            raise ValidationError(f"{path}: digest {on_disk_digest(tree)} does not match the "
                                  f"signature {signature}")
        return tree

    def _set_aside(self, name: str) -> list[Path]:
        moved = []
        for member in (name, f"{name}.sig"):
            path = self.directory / member
            if path.exists():
                index = 0
                while (self.directory / f"{member}.corrupt-{index}").exists():
                    index += 1
                target = self.directory / f"{member}.corrupt-{index}"
                os.replace(path, target)
                moved.append(target)
        if moved:
            fsync_directory(self.directory)
        return moved

    def _backups_newest_first(self) -> list[str]:
        last = self._last()
        if last is None:
            return []
        order = [(last - offset) % self.series_max for offset in range(self.series_max)]
        return [f"cib-{number}.raw" for number in order
                if (self.directory / f"cib-{number}.raw").exists()]

    def _term(self) -> int:
        try:
            return int((self.directory / "cib.term").read_text().strip())
        except (OSError, ValueError):
            return 0

    def _last(self) -> int | None:
        try:
            return int((self.directory / "cib.last").read_text().strip())
        except (OSError, ValueError):
            return None

    def load(self) -> Loaded:
        """The newest CIB that passes its signature check (see the module docstring)."""
        set_aside: list[Path] = []
        for name in [LIVE, *self._backups_newest_first()]:
            if not (self.directory / name).exists():
                continue
            try:
                tree = self._read_pair(name)
            except ValidationError:
                set_aside.extend(self._set_aside(name))
                continue
            term = self._term() if name == LIVE else 0
            loaded = self._replay(tree, term)
            loaded.source, loaded.set_aside = self.directory / name, set_aside + loaded.set_aside
            return loaded
        return Loaded(None, None, set_aside)

    def _replay(self, tree: Element, term: int) -> Loaded:
        records, torn = read_journal(self.directory)
        done = replay(tree, records)
        problem = done.stopped or ("a torn record at the end (never acknowledged)"
                                   if torn else None)
        # a journal that does not chain from this copy is kept aside, like a bad file
        aside = ([path for name in SEGMENTS for path in self._set_aside(name)]
                 if done.stopped is not None else [])
        return Loaded(as_started(done.cib), None, aside,
                      term if done.term is None else done.term, done.applied, problem)

    def has_journal(self) -> bool:
        """Whether journal records wait to be folded into a save."""
        return any((self.directory / name).exists() and (self.directory / name).stat().st_size
                   for name in SEGMENTS)

    def append(self, *records: JournalRecord) -> None:
        """Append batches to the journal, one sync for all; returns once they are on disk
        (cib.journal)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.journal.append(*records)

    def write_journal(self, *records: JournalRecord) -> int:
        """Write batches to the journal without syncing (`cib.journal.Journal.write`); the
        returned handle goes to `sync_journal`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.journal.write(*records)

    def sync_journal(self, handles: list[int]) -> None:
        """Sync (and close) what `write_journal` returned: one group commit."""
        sync_handles(handles)

    def save(self, cib: Element | DiskCopy, written: str | None = None,
             keep_status: bool = False, term: int | None = None,
             reset_journal: bool = True) -> Path:
        """Write `cib` as the live CIB, backing up the previous pair first.

        Args:
            cib: the tree to write (not changed), or its `disk_copy` (printed already:
                `written` and `keep_status` were applied then).
            written: the cib-last-written text (the caller's wall clock), or None to keep it.
            keep_status: write the status section too (our replicas' choice for tests).
            term: the replication term of this copy (cib.replication), written after the
                CIB so that a crash between the two leaves the older, weaker term.
            reset_journal: empty the journal afterwards; False when the journal is rotated
                instead (its appends go on meanwhile on another thread: cib.disk).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        live = self.directory / LIVE
        if live.exists():
            try:
                if self._stat() is None or self._stat() != self._written:
                    self._read_pair(LIVE)  # not the pair we wrote last: check it first
            except ValidationError:
                self._set_aside(LIVE)
            else:
                self._backup()
        printed = cib if isinstance(cib, DiskCopy) else disk_copy(cib, written, keep_status)
        _write_file(self.directory, f"{LIVE}.sig", printed.signature.encode())
        _write_file(self.directory, LIVE, printed.text)
        if term is not None and term != self._term_written:  # it changes at view changes only
            _write_file(self.directory, "cib.term", str(term).encode())
            self._term_written = term
        fsync_directory(self.directory)
        self._written = self._stat()
        if reset_journal:
            self.journal.reset()  # only now: the pair holding every record is on disk
        return live

    def _backup(self) -> None:
        last = self._last()
        number = 0 if last is None else (last + 1) % self.series_max
        for suffix in ("", ".sig"):
            target = self.directory / f"cib-{number}.raw{suffix}"
            target.unlink(missing_ok=True)
            os.link(self.directory / f"{LIVE}{suffix}", target)
        _write_file(self.directory, "cib.last", str(number).encode())

