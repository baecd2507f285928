"""The cib daemon's sends against its disk (cib.service): the master's journal mark
(`Journaled`, by which the origin of a write answers its client: cib.replication_follower)
leaves only once the master's batch is written; the diffs and other frames leave at once.
The disk writes are real (cib.disk's worker threads on a temporary directory); the
heartbeat channel is replaced by a recorder of what left."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cib.api import open_peer_frame
from cib.model import Version, empty_cib
from cib.replication_messages import Announce, Diff, Journaled
from cib.service import CibService
from messaging.effects import Node, Send


class SentFrames:
    """Stands in for the PeerChannel: what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def send(self, destination: Node, payload: bytes) -> bool:
        self.sent.append((destination.name, open_peer_frame(payload)))
        return True

    def close(self) -> None:
        """Nothing to close."""


def test_the_journal_mark_leaves_only_after_the_masters_disk_write(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, object]]:
        service = CibService("n1", tmp_path)
        frames = SentFrames()
        service.peers = frames  # type: ignore[assignment]
        try:
            service.disk.write(empty_cib(epoch=3), 1)  # the batch's write, still running
            diff = Diff(1, "<diff/>", "digest", Version(0, 3, 0), ("n2",), ("n2:1",))
            mark = Journaled(1, Version(0, 3, 0))
            announce = Announce(1, Version(0, 3, 0), "digest")
            for effect in (Send(Node("n3"), diff), Send(Node("n2"), diff),
                           Send(Node("n2"), mark), Send(Node("n2"), announce)):
                service._send(effect)
            assert frames.sent == [("n3", diff), ("n2", diff), ("n2", announce)]
            for _ in range(500):
                if len(frames.sent) == 4:
                    break
                await asyncio.sleep(0.01)
            return frames.sent
        finally:
            service.disk.close()
            service.runner.close()

    sent = asyncio.run(scenario())
    assert sent[3] == ("n2", Journaled(1, Version(0, 3, 0)))  # once the write was done
