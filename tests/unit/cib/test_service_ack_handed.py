"""The master's answer to a local write (cib.service) against a kill of its node at every
step of the write path: the write is answered only once heartbeat took the frame carrying
its diff. Until then the change is only in the master's journal (and the frame in the
cib's queue, its socket to heartbeat, or heartbeat's memory), all of which a kill -9 of
the node's processes leaves behind: on return the survivors' newer copy wins the sync and
the write is lost.

The cib is the daemon's shell (its disk writes real, on a temporary directory) around a
master core of a settled 3-node exchange; heartbeat is its control socket (real zmq IPC,
`StalledHeartbeat`) reading and handling one message at a time when told. A reply the
master gives is checked at the moment it leaves: every write it answers must be carried
by a frame heartbeat handled (sent) by then."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from cib.api import CibReply, Write, open_peer_frame
from cib.replication_messages import Diff, DiffBatch
from cib.service import CibService
from messaging.effects import Client
from tests.unit.cib.test_replication import Exchange, _create
from tests.unit.messaging.test_peer_channel_handed import StalledHeartbeat, until

WRITES = ("w1", "w2", "w3", "w4")


def _written(frames: list[bytes]) -> set[str]:
    """The request ids of the writes the diffs among `frames` carry."""
    carried: set[str] = set()
    for frame in frames:
        message = open_peer_frame(frame)
        if isinstance(message, Diff | DiffBatch):
            carried.update(message.requests)
    return carried


def _master(state_dir: Path) -> CibService:
    """A cib daemon's shell whose core is the settled master of a 3-node view."""
    exchange = Exchange(["n1", "n2", "n3"])
    exchange.settle(random.Random(0))
    service = CibService("n1", state_dir)
    service.core = service.runner.core = exchange.cores["n1"]
    assert service.core.master == "n1" and len(service.core.members) == 3
    return service


def test_a_local_write_is_answered_only_once_heartbeat_sent_its_diff(tmp_path: Path) -> None:
    answered: dict[str, int] = {}
    request_of: dict[str, str] = {}  # the client's name -> the request id the cib gave it

    async def scenario() -> StalledHeartbeat:
        heartbeat, service = StalledHeartbeat(tmp_path), _master(tmp_path)

        def reply(client: Client, message: CibReply) -> bool:
            # a kill of the node right now: what heartbeat sent survives, the rest is lost
            assert request_of[client.token] in _written(heartbeat.handled), client.token
            answered[client.token] = message.exit_code
            return True

        service.server.send = reply  # type: ignore[method-assign]
        sender = asyncio.get_running_loop().create_task(service.peers.sender())
        try:
            for number, ident in enumerate(WRITES, start=1):
                request_of[ident] = f"n1:{number}"  # the ids the cib gives, in order
                service.answer(Write(_create(ident), "test"), Client(ident))
                if ident == "w2":  # w1's frame (whole save behind) is out; w2's journaled
                    await heartbeat.read_until(1)
            # the diffs of every write reached heartbeat, which has sent none of them
            await until(lambda: heartbeat.read() >= 0 and set(request_of.values())
                        <= _written(heartbeat.read_payloads()))
            assert answered == {}
            while heartbeat.read_not_handled or len(answered) < len(WRITES):
                await until(lambda: heartbeat.read() >= 0 and (
                    heartbeat.read_not_handled or len(answered) == len(WRITES)))
                if heartbeat.read_not_handled:
                    heartbeat.handle_one()  # one step: its replies are checked as they go
            return heartbeat
        finally:
            sender.cancel()
            service.peers.close()
            service.disk.close()
            service.runner.close()
            heartbeat.close()

    asyncio.run(scenario())
    assert answered == dict.fromkeys(WRITES, 0)
