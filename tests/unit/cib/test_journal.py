"""cib.journal: the master's batches are replayed onto the saved copy at start; a torn tail,
a flipped byte or a record that does not chain stops the replay at the last good result;
a save empties the journal, and records already in a save are skipped."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from cib.journal import JournalRecord, read_records
from cib.model import empty_cib, version_of
from cib.ops import perform
from cib.request import Op, Request
from cib.service import load_cib
from cib.store import CibStore
from cib.xmlio import Element, element_text, parse, versioned_digest
from messaging.logs import get_logger


def _set(cib: Element, name: str, value: str) -> tuple[Element, JournalRecord]:
    """The master's write of one cluster property, and its journal record."""
    nvpair = f'<nvpair id="opt-{name}" name="{name}" value="{value}"/>'
    xml = f'<cluster_property_set id="opts">{nvpair}</cluster_property_set>'
    outcome = perform(cib, Request(Op.MODIFY, parse(xml), scope="crm_config",
                                   allow_create=True))
    assert outcome.patch is not None
    new = outcome.cib
    record = JournalRecord(version_of(cib, absent=0), version_of(new, absent=0), 4,
                           versioned_digest(new, new.get("crm_feature_set")),
                           (element_text(outcome.patch, pretty=False),))
    return new, record


def _value(cib: Element | None, name: str) -> str | None:
    assert cib is not None
    found = cib.xpath(f"//nvpair[@name='{name}']/@value")
    return str(found[0]) if found else None


def _journaled(tmp_path: Path, writes: int) -> tuple[CibStore, list[Element]]:
    store = CibStore(tmp_path)
    cib = empty_cib(epoch=1)
    store.save(cib, keep_status=True, term=3)
    trees = [cib]
    for index in range(writes):
        cib, record = _set(cib, f"p{index}", str(index))
        store.append(record)
        trees.append(cib)
    return store, trees


def test_records_are_replayed_onto_the_saved_copy(tmp_path: Path) -> None:
    _, trees = _journaled(tmp_path, 3)
    loaded = CibStore(tmp_path).load()
    assert loaded.replayed == 3 and loaded.journal_problem is None and loaded.term == 4
    assert loaded.cib is not None
    assert version_of(loaded.cib) == version_of(trees[-1])
    assert [_value(loaded.cib, f"p{i}") for i in range(3)] == ["0", "1", "2"]


def test_a_torn_tail_is_cut_and_the_records_before_it_kept(tmp_path: Path) -> None:
    _journaled(tmp_path, 2)
    journal = tmp_path / "cib.journal"
    journal.write_bytes(journal.read_bytes()[:-5])  # the crash cut the last append short
    loaded = CibStore(tmp_path).load()
    assert loaded.replayed == 1 and "torn" in (loaded.journal_problem or "")
    assert _value(loaded.cib, "p0") == "0" and _value(loaded.cib, "p1") is None


def test_a_flipped_byte_in_a_record_stops_the_replay_there(tmp_path: Path) -> None:
    _journaled(tmp_path, 2)
    journal = tmp_path / "cib.journal"
    data = bytearray(journal.read_bytes())
    data[-10] ^= 0x01
    journal.write_bytes(bytes(data))
    records, torn = read_records(journal)
    assert len(records) == 1 and torn


def test_a_record_giving_another_digest_stops_and_the_journal_is_kept_aside(
        tmp_path: Path) -> None:
    store, trees = _journaled(tmp_path, 1)
    _, record = _set(trees[-1], "late", "x")
    store.append(JournalRecord(record.base, record.version, record.term, "0" * 32,
                               record.patches))
    loaded = CibStore(tmp_path).load()
    assert loaded.replayed == 1 and "digest" in (loaded.journal_problem or "")
    assert _value(loaded.cib, "p0") == "0" and _value(loaded.cib, "late") is None
    assert tmp_path / "cib.journal.corrupt-0" in loaded.set_aside


def test_a_record_refused_after_its_first_patch_applied_leaves_none_of_it(
        tmp_path: Path) -> None:
    """A record's patches are applied to the loaded copy itself: the second refused (it
    starts at a version the first already left), the first is undone too."""
    store, trees = _journaled(tmp_path, 1)
    _, record = _set(trees[-1], "late", "x")
    store.append(JournalRecord(record.base, record.version, record.term, record.digest,
                               record.patches * 2))
    loaded = CibStore(tmp_path).load()
    assert loaded.replayed == 1 and "does not apply" in (loaded.journal_problem or "")
    assert _value(loaded.cib, "p0") == "0" and _value(loaded.cib, "late") is None
    assert version_of(loaded.cib) == version_of(trees[-1])  # type: ignore[arg-type]


def test_a_save_empties_the_journal_and_old_records_are_skipped(tmp_path: Path) -> None:
    store, trees = _journaled(tmp_path, 2)
    kept = tmp_path / "journal-before-save"
    shutil.copy(tmp_path / "cib.journal", kept)
    store.save(trees[-1], keep_status=True, term=4)
    assert (tmp_path / "cib.journal").stat().st_size == 0
    # a crash between the save and the emptying leaves records the save already holds
    shutil.copy(kept, tmp_path / "cib.journal")
    loaded = CibStore(tmp_path).load()
    assert loaded.replayed == 0 and loaded.journal_problem is None
    assert version_of(loaded.cib) == version_of(trees[-1])  # type: ignore[arg-type]


def test_a_journal_not_chaining_from_the_copy_is_not_applied(tmp_path: Path) -> None:
    _, trees = _journaled(tmp_path, 1)
    _, stray = _set(trees[-1], "after-a-gap", "y")
    gap = JournalRecord(stray.version, stray.version._replace(epoch=stray.version.epoch + 1),
                        stray.term, stray.digest, stray.patches)
    CibStore(tmp_path).append(gap)
    loaded = CibStore(tmp_path).load()
    assert loaded.replayed == 1 and "starts at" in (loaded.journal_problem or "")


def test_the_daemon_start_folds_the_journal_into_a_save(tmp_path: Path) -> None:
    _, trees = _journaled(tmp_path, 2)
    cib, term = load_cib(CibStore(tmp_path), get_logger(daemon="test"))
    assert _value(cib, "p1") == "1" and term == 4
    assert (tmp_path / "cib.journal").stat().st_size == 0
    saved = parse((tmp_path / "cib.xml").read_bytes())
    assert version_of(saved) == version_of(trees[-1])


def test_the_daemon_journals_the_masters_batch_and_saves_behind_it(tmp_path: Path) -> None:
    from cib.journal import JOURNAL
    from cib.replication_messages import PersistCib
    from cib.service import CibService

    state = tmp_path / "state"
    events: list[str] = []

    async def scenario() -> None:
        service = CibService("n1", state)
        service.publisher.bind()
        # the loaded copy is not the file (status dropped, or no file): saved whole
        first, _ = _set(service.persisted, "p0", "first")
        service._persist(PersistCib(first, version_of(first, absent=0), 4, ("<diff/>",),
                                    digest="d"))
        new, record = _set(first, "p0", "0")
        service._persist(PersistCib(new, version_of(new, absent=0), 4, record.patches,
                                    digest=record.digest))
        service.disk.after_writes(lambda: events.append("acknowledged"))
        journal, live = state / "cib" / JOURNAL, state / "cib" / "cib.xml"
        while not events:
            await asyncio.sleep(0.01)
        records, _ = read_records(journal)
        if records == [record] and _value(parse(live.read_bytes()), "p0") == "first":
            events.append("in the journal only")
        for _ in range(400):  # the save behind it (the journal rotates as it starts)
            if _value(parse(live.read_bytes()), "p0") != "first":
                break
            await asyncio.sleep(0.05)
        events.append(f"saved {_value(parse(live.read_bytes()), 'p0')}")
        assert journal.stat().st_size == 0
        service.close()
        service.publisher.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert events == ["acknowledged", "in the journal only", "saved 0"]


def test_a_replica_journals_the_masters_diff_and_saves_behind_it(tmp_path: Path) -> None:
    """A replica's deferred copy that chains from the one on disk goes into its journal at
    once (nothing waits for it), the whole copy is saved a moment later; its first copy,
    whose base is not the file, is saved whole."""
    from cib.journal import JOURNAL
    from cib.replication_messages import PersistCib
    from cib.service import CibService

    state = tmp_path / "state"
    events: list[str] = []

    async def scenario() -> None:
        service = CibService("n2", state)
        service.publisher.bind()
        journal, live = state / "cib" / JOURNAL, state / "cib" / "cib.xml"
        first, record = _set(service.persisted, "p0", "first")
        service._persist(PersistCib(first, version_of(first, absent=0), 4, record.patches,
                                    deferred=True, digest=record.digest))
        for _ in range(400):  # saved whole, DEFERRED_WRITE_DELAY later
            if live.exists() and _value(parse(live.read_bytes()), "p0") == "first":
                break
            await asyncio.sleep(0.01)
        new, record = _set(first, "p0", "0")
        service._persist(PersistCib(new, version_of(new, absent=0), 4, record.patches,
                                    deferred=True, digest=record.digest))
        service.disk.after_writes(lambda: events.append("nothing waited"))
        for _ in range(400):
            if journal.exists() and read_records(journal)[0] == [record]:
                break
            await asyncio.sleep(0.01)
        if _value(parse(live.read_bytes()), "p0") == "first":
            events.append("in the journal only")
        for _ in range(400):  # the save behind it
            if _value(parse(live.read_bytes()), "p0") != "first":
                break
            await asyncio.sleep(0.05)
        events.append(f"saved {_value(parse(live.read_bytes()), 'p0')}")
        service.close()
        service.publisher.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert events == ["nothing waited", "in the journal only", "saved 0"]
