"""The cib daemon's sends against its disk (cib.service): every frame to a peer leaves only
behind the master's disk writes issued before it, in the order the core sent them, so the
master's diff (by which the origin of a write answers its client:
cib.replication_follower) says the change is in the master's journal, and nothing sent after
it overtakes it. A diff to every node leaves as one broadcast, or, too large for heartbeat,
once to each other member (a bulk offer is fetched by one receiver). The disk writes are
real (cib.disk's worker threads on a temporary directory); the heartbeat channel is
replaced by a recorder of what left."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cib.api import BULK_THRESHOLD, open_peer_frame
from cib.model import Version, empty_cib
from cib.replication_messages import Announce, Diff, DiffBatch
from cib.service import CibService
from messaging.effects import ALL_NODES, AllNodes, Node, Send


class SentFrames:
    """Stands in for the PeerChannel: what was sent, in order ("*": to every node)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def send(self, destination: Node | AllNodes, payload: bytes) -> bool:
        name = destination.name if isinstance(destination, Node) else "*"
        self.sent.append((name, open_peer_frame(payload)))
        return True

    def close(self) -> None:
        """Nothing to close."""


def _diff(patch: str = "<diff/>") -> Diff:
    return Diff(1, patch, "digest", Version(0, 3, 0), ("n2",), ("n2:1",))


def test_the_diff_and_what_follows_leave_only_after_the_masters_disk_write(
        tmp_path: Path) -> None:
    diff, announce = _diff(), Announce(1, Version(0, 3, 0), "digest")

    async def scenario() -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
        service = CibService("n1", tmp_path)
        frames = SentFrames()
        service.peers = frames  # type: ignore[assignment]
        try:
            service.disk.write(empty_cib(epoch=3), 1)  # the change's write, still running
            for effect in (Send(ALL_NODES, diff), Send(Node("n2"), announce)):
                service._send(effect)
            before = list(frames.sent)
            for _ in range(500):
                if len(frames.sent) == 2:
                    break
                await asyncio.sleep(0.01)
            return before, frames.sent
        finally:
            service.disk.close()
            service.runner.close()

    before, sent = asyncio.run(scenario())
    assert before == []  # the diff says "in the master's journal"
    assert sent == [("*", diff), ("n2", announce)]  # once the write was done, in order


def test_a_diff_too_large_for_heartbeat_goes_to_each_other_member(tmp_path: Path) -> None:
    big = _diff("<diff>" + "x" * BULK_THRESHOLD + "</diff>")

    async def scenario() -> list[tuple[str, object]]:
        service = CibService("n1", tmp_path)
        frames = SentFrames()
        service.peers = frames  # type: ignore[assignment]
        service.core.members = {"n1": 1, "n2": 2, "n3": 3}
        try:
            service._send(Send(ALL_NODES, big))
            service._send(Send(ALL_NODES, _diff()))
            return frames.sent
        finally:
            service.disk.close()
            service.runner.close()

    assert asyncio.run(scenario()) == [("n2", big), ("n3", big), ("*", _diff())]


def test_diffs_made_while_the_first_waits_for_the_disk_leave_as_one_batch(
        tmp_path: Path) -> None:
    first, second, third = (Diff(1, f"<diff n='{n}'/>", f"digest {n}", Version(0, 3 + n, 0),
                                 (f"n{n}",), (f"n{n}:1",)) for n in (1, 2, 3))
    announce = Announce(1, Version(0, 5, 0), "digest 2")

    async def scenario() -> list[tuple[str, object]]:
        service = CibService("n1", tmp_path)
        frames = SentFrames()
        service.peers = frames  # type: ignore[assignment]
        try:
            service.disk.write(empty_cib(epoch=3), 1)  # the first change's write, running
            for effect in (Send(ALL_NODES, first), Send(ALL_NODES, second),
                           Send(Node("n2"), announce), Send(ALL_NODES, third)):
                service._send(effect)
            for _ in range(500):
                if len(frames.sent) == 3:
                    break
                await asyncio.sleep(0.01)
            return frames.sent
        finally:
            service.disk.close()
            service.runner.close()

    batch = DiffBatch(1, (first.patch, second.patch), second.digest, second.version,
                      ("n1", "n2"), ("n1:1", "n2:1"))
    assert asyncio.run(scenario()) == [("*", batch), ("n2", announce), ("*", third)]
