"""cib.disk + cib.journal rotation, with real files and the pure core's events: a journal
append (what an acknowledgement waits for) never waits behind a whole-copy save, a save
never drops a record it does not hold, and a start after a crash at any point of a
rotation replays the journal files over the newest good cib.xml with every acknowledged
write in it."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

from cib.journal import JOURNAL, NEXT, OLD, JournalRecord, read_journal
from cib.model import empty_cib, version_of
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
from cib.service import CibService
from cib.store import CibStore
from cib.xmlio import Element
from messaging.effects import AllNodes, Send

NODES = ("n1", "n2", "n3")


def _no_schema(cib: Element) -> None:
    """Schema validation is covered elsewhere."""


class GatedSaves(CibStore):
    """A real store whose whole-copy saves wait for the test's go-ahead (appends do not)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gate = threading.Event()
        self.gate.set()
        self.saving = threading.Event()

    def save(self, cib, written=None, keep_status=False, term=None,  # type: ignore[no-untyped-def]
             reset_journal=True):
        self.saving.set()
        assert self.gate.wait(10)
        return super().save(cib, written, keep_status, term, reset_journal)


class Master:
    """Three replication cores in memory; n1's `PersistCib` and `Acknowledge` effects are
    carried out by a real `CibService` shell (journal and saves on its disk threads)."""

    def __init__(self, state: Path) -> None:
        self.service = CibService("n1", state)
        self.service.store = GatedSaves(state / "cib")
        from cib.disk import DiskWriter

        self.service.disk = DiskWriter(self.service.store, self.service.log)
        cib = self.service.persisted
        self.cores = {name: ReplicaCore(name, cib if name == "n1" else empty_cib(epoch=0),
                                        _no_schema) for name in NODES}
        self.acked: list[str] = []
        self.queue: list[tuple[str, object]] = []
        for name in NODES:
            self.feed(name, ViewChanged(0.0, 1, tuple(enumerate(NODES, 1))))

    def feed(self, name: str, event: object) -> None:
        for effect in self.cores[name].handle(event):  # type: ignore[arg-type]
            if isinstance(effect, Send):
                targets = ([other for other in NODES if other != name]
                           if isinstance(effect.destination, AllNodes)
                           else [effect.destination.name])
                self.queue += [(target, PeerMessage(0.0, name, effect.message))
                               for target in targets]
            elif isinstance(effect, PersistCib) and name == "n1":
                self.service._persist(effect)
            elif isinstance(effect, Acknowledge):
                self.service.disk.after_writes(
                    lambda rid=effect.request_id: self.acked.append(rid))
        while self.queue:
            target, message = self.queue.pop(0)
            self.feed(target, message)

    def write(self, value: int) -> None:
        xml = (f'<cluster_property_set id="opts"><nvpair id="opt-v{value}" name="v{value}" '
               f'value="{value}"/></cluster_property_set>')
        self.feed("n1", ClientWrite(0.0, f"w{value}", WireRequest(
            Op.MODIFY.value, xml, scope="crm_config", allow_create=True), 1.7e9))


async def _until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _values(cib: Element | None) -> set[str]:
    assert cib is not None
    return {str(name) for name in cib.xpath("//nvpair/@name")}


def test_appends_are_acknowledged_while_a_save_waits_and_none_is_lost(tmp_path: Path) -> None:
    state = tmp_path / "state"
    crash_copy = tmp_path / "crashed"
    seen: list[str] = []

    async def scenario() -> None:
        master = Master(state)
        store: GatedSaves = master.service.store  # type: ignore[assignment]
        master.write(0)  # the first write after start is a whole save: let it through
        await _until(lambda: master.acked == ["w0"], "the first write")
        master.write(1)
        await _until(lambda: master.acked == ["w0", "w1"], "the journaled write")
        store.gate.clear()
        store.saving.clear()
        master.service._snapshot_due()  # the save behind the journal, held at the gate
        await _until(store.saving.is_set, "the save to start")
        for value in (2, 3):
            master.write(value)
        await _until(lambda: master.acked == ["w0", "w1", "w2", "w3"],
                     "appends while the save waits")
        seen.append("acknowledged while the save waited")
        # a crash now: the copy on disk is older than the journal's records
        shutil.copytree(state / "cib", crash_copy)
        store.gate.set()
        await _until(lambda: not master.service.disk._saving, "the save")
        master.service.disk.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert seen == ["acknowledged while the save waited"]
    names = {path.name for path in crash_copy.iterdir()}
    assert OLD in names and JOURNAL in names  # rotated: records up to the save set aside
    crashed = CibStore(crash_copy).load()
    assert crashed.journal_problem is None and crashed.replayed == 3
    assert {"v0", "v1", "v2", "v3"} <= _values(crashed.cib)
    after = CibStore(state / "cib")
    records, _ = read_journal(state / "cib")
    saved = after._read_pair("cib.xml")
    assert {"v0", "v1"} <= _values(saved) and "v2" not in _values(saved)
    assert not (state / "cib" / OLD).exists()  # dropped once the save held its records
    assert [record.base for record in records] == [
        version_of(saved), version_of(saved)._replace(epoch=version_of(saved).epoch + 1)]
    loaded = after.load()
    assert loaded.replayed == 2 and {"v0", "v1", "v2", "v3"} <= _values(loaded.cib)


def test_a_start_finds_the_records_whichever_names_a_crash_left(tmp_path: Path) -> None:
    """A rotation's renames are not synced: the records may sit under any of the three
    names, in either order; the replay orders them by the version they start from."""
    state = tmp_path / "state"

    async def scenario() -> None:
        master = Master(state)
        for value in range(4):
            master.write(value)
            if value == 1:
                master.service._snapshot_due()
                await _until(lambda: not master.service.disk._saving, "the save")
        await _until(lambda: len(master.acked) == 4, "the writes")
        master.service.disk.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    directory = state / "cib"
    assert (directory / JOURNAL).stat().st_size and (directory / NEXT).exists()
    early = tmp_path / "early-journal"
    shutil.copy(directory / JOURNAL, early)
    for name in (OLD, NEXT):  # the newer records under another name, the older aside
        shutil.copy(early, directory / name)
        (directory / JOURNAL).unlink()
        loaded = CibStore(directory).load()
        assert loaded.journal_problem is None and loaded.replayed == 2, name
        assert {"v0", "v1", "v2", "v3"} <= _values(loaded.cib)
        shutil.copy(directory / name, directory / JOURNAL)
        (directory / name).unlink()


class GatedAppends(CibStore):
    """A real store whose first journal write, or (`gate_syncs`) every journal sync, waits
    for the test's go-ahead."""

    def __init__(self, directory: Path, gate_syncs: bool = False) -> None:
        super().__init__(directory)
        self.gate = threading.Event()
        self.gate_syncs = gate_syncs
        self.groups: list[int] = []
        self.synced = 0

    def write_journal(self, *records):  # type: ignore[no-untyped-def]
        if not self.groups and not self.gate_syncs:
            assert self.gate.wait(10)
        self.groups.append(len(records))
        return super().write_journal(*records)

    def sync_journal(self, handles):  # type: ignore[no-untyped-def]
        if self.gate_syncs:
            assert self.gate.wait(10)
        super().sync_journal(handles)
        self.synced += len(handles)


def _records(count: int) -> list[JournalRecord]:
    from messaging.types import Version

    return [JournalRecord(Version(0, n, 0), Version(0, n + 1, 0), 1, "d", ("<diff/>",))
            for n in range(count)]


def test_appends_issued_during_a_write_share_the_next_write(tmp_path: Path) -> None:
    from cib.disk import DiskWriter
    from messaging.logs import get_logger

    store = GatedAppends(tmp_path)
    records = _records(4)
    acked: list[int] = []

    async def scenario() -> None:
        disk = DiskWriter(store, get_logger(daemon="test"))
        disk.append(records[0])  # its write is held at the gate
        disk.after_writes(lambda: acked.append(0))
        for index in (1, 2, 3):
            disk.append(records[index])
            disk.after_writes(lambda index=index: acked.append(index))  # type: ignore[misc]
        await asyncio.sleep(0.05)
        assert acked == []
        store.gate.set()
        await _until(lambda: len(acked) == 4, "the acknowledgements")
        disk.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert store.groups == [1, 3] and acked == [0, 1, 2, 3]
    assert read_journal(tmp_path) == (records, False)


def test_an_acknowledgement_waits_for_the_journal_write_not_its_sync(tmp_path: Path) -> None:
    """Group commit in the background: the batches written while a sync is held are
    acknowledged at once, and share the syncs that follow; close() syncs what is left."""
    from cib.disk import DiskWriter
    from messaging.logs import get_logger

    store = GatedAppends(tmp_path, gate_syncs=True)
    records = _records(3)
    acked: list[int] = []

    async def scenario() -> None:
        disk = DiskWriter(store, get_logger(daemon="test"))
        for index, record in enumerate(records):
            disk.append(record)
            disk.after_writes(lambda index=index: acked.append(index))  # type: ignore[misc]
            await _until(lambda count=index + 1: len(acked) == count,  # type: ignore[misc]
                         "the acknowledgement")
        assert store.synced == 0  # every sync is still held at the gate
        store.gate.set()
        disk.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert acked == [0, 1, 2] and store.synced == 3
    assert read_journal(tmp_path) == (records, False)
