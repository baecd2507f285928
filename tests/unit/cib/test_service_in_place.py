"""cib.service with a tree the core changes in place (cib.replication_follower): the copy on
disk is followed by its version, so a change made in place to the tree last saved is
journaled from the version that tree had, and the journal replays onto the saved file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cib.journal import JOURNAL, read_records
from cib.model import version_of
from cib.patch import UndoLog, apply_patchset
from cib.replication_messages import PersistCib
from cib.store import CibStore
from cib.xmlio import parse
from tests.unit.cib.test_journal import _set, _value


def test_a_change_made_in_place_to_the_saved_tree_is_journaled_from_its_old_version(
        tmp_path: Path) -> None:
    from cib.service import CibService

    state = tmp_path / "state"
    found: list[object] = []

    async def scenario() -> None:
        service = CibService("n2", state)
        service.publisher.bind()
        journal = state / "cib" / JOURNAL
        live, record = _set(service.persisted, "p0", "first")
        service._persist(PersistCib(live, version_of(live, absent=0), 4, record.patches,
                                    deferred=True, digest=record.digest))
        for _ in range(400):  # its base is not the file: saved whole, a moment later
            if service._deferred is None:
                break
            await asyncio.sleep(0.01)
        _, record = _set(live, "p0", "0")
        apply_patchset(live, parse(record.patches[0]), undo=UndoLog())  # the replica's way
        service._persist(PersistCib(live, version_of(live, absent=0), 4, record.patches,
                                    deferred=True, digest=record.digest))
        for _ in range(400):
            if journal.exists() and read_records(journal)[0]:
                break
            await asyncio.sleep(0.01)
        found.append(read_records(journal)[0] == [record])
        service.close()
        service.publisher.close()
        found.append(CibStore(state / "cib").load().cib)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert found[0]  # the record runs from the version the saved tree had, not its new one
    assert _value(found[1], "p0") == "0"  # type: ignore[arg-type]
