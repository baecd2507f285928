"""messaging.peer_channel.PeerChannel.after_handed against a heartbeat control socket (real
zmq IPC, heartbeat's own `messaging.ipc.Server` and contract): an action runs only once
heartbeat handled the frames sent before it (a frame still queued in the daemon, or read by
heartbeat but not yet sent, dies with the node's processes); the frames after it are not
held back meanwhile; a frame already posted is confirmed by a barrier; a refused frame
drops what waited for it.

`StalledHeartbeat` reads the socket only when told, and handles what it read one message at
a time: each step of the path (queued, posted, read, handled) can be held as long as a test
needs, as a kill of the node at that step would leave it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import zmq

from messaging.effects import ALL_NODES, Client, Node
from messaging.envelope import decode
from messaging.errors import ValidationError
from messaging.heartbeat import api
from messaging.ipc import Server
from messaging.logs import get_logger
from messaging.peer_channel import PeerChannel

WAIT_S = 20.0  # a bound on condition waits (a loaded host), never a readiness sleep


class StalledHeartbeat:
    """A node's heartbeat control socket that reads and handles only when told. Handled
    `SendMessage` payloads go to `handled` (as the real daemon's core sends them at
    once); `refuse` names payloads answered with a refusal instead."""

    def __init__(self, state_dir: Path) -> None:
        self.server = Server(api.ctl_endpoint(state_dir), api.IPC, self._answer,
                             daemon="heartbeat")
        self.server.bind()
        self.read_not_handled: list[list[bytes]] = []
        self.handled: list[bytes] = []
        self.refuse: set[bytes] = set()

    @property
    def _socket(self) -> Any:
        return self.server._socket  # the bound ROUTER: read here only when a test says

    def read(self) -> int:
        """Read what arrived (heartbeat's process has it, not yet sent); how many."""
        count = 0
        while self._socket.poll(0, zmq.POLLIN):
            self.read_not_handled.append(self._socket.recv_multipart())
            count += 1
        return count

    async def read_until(self, count: int) -> None:
        """Read as messages arrive until `count` are read and not handled."""
        await until(lambda: self.read() >= 0 and len(self.read_not_handled) >= count)

    def read_payloads(self) -> list[bytes]:
        """The payloads of the SendMessages read and not handled yet, in order."""
        messages = (decode(api.IPC, frames[-1]).message for frames in self.read_not_handled)
        return [message.payload for message in messages
                if isinstance(message, api.SendMessage)]

    def handle_one(self) -> None:
        """Handle the oldest message read (a SendMessage is sent: `handled`; a Ping is
        answered by the Server itself)."""
        self.server.receive(self.read_not_handled.pop(0))

    def _answer(self, request: object, client: Client) -> object:
        assert isinstance(request, api.SendMessage)
        if request.payload in self.refuse:
            raise ValidationError("send refused: too large")
        self.handled.append(request.payload)
        return api.Ack()

    def close(self) -> None:
        self.server.close()


async def until(condition: Callable[[], object]) -> None:
    """Wait for `condition` (checked as the loop turns), failing after WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _channel_beside(heartbeat: StalledHeartbeat,
                          state_dir: Path) -> AsyncIterator[PeerChannel]:
    """A cib channel of node n1 whose sender runs, on `heartbeat`'s socket."""
    channel = PeerChannel(state_dir, "n1", "cib", open_frame=bytes,
                          on_message=lambda sender, message: None,
                          log=get_logger(daemon="test"))
    sender = asyncio.get_running_loop().create_task(channel.sender())
    try:
        yield channel
    finally:
        sender.cancel()
        channel.close()
        heartbeat.close()


def test_actions_wait_for_heartbeat_to_handle_their_frames_which_leave_unheld(
        tmp_path: Path) -> None:
    ran: list[tuple[str, int]] = []
    heartbeat = StalledHeartbeat(tmp_path)

    def note(name: str) -> Callable[[], None]:
        return lambda: ran.append((name, len(heartbeat.handled)))

    async def scenario() -> None:
        async with _channel_beside(heartbeat, tmp_path) as channel:
            for name in ("f1", "f2"):
                channel.send(ALL_NODES, name.encode())
                channel.after_handed(note(name))
            await heartbeat.read_until(1)
            channel.send(ALL_NODES, b"f3")  # sent while f2 waits for heartbeat's answer
            channel.after_handed(note("f3"))
            channel.send(ALL_NODES, b"f4")  # nobody waits for it
            # every frame reaches heartbeat before it answered any: no round trip between
            await heartbeat.read_until(4)
            assert ran == []  # read by heartbeat, not sent: a kill loses them
            heartbeat.handle_one()
            heartbeat.handle_one()
            await until(lambda: len(ran) == 2)
            assert ran == [("f1", 2), ("f2", 2)]  # f2's answer: f1 was handled before it
            heartbeat.handle_one()
            heartbeat.handle_one()
            await until(lambda: len(ran) == 3)

    asyncio.run(scenario())
    assert heartbeat.handled == [b"f1", b"f2", b"f3", b"f4"]
    assert ran[-1][0] == "f3" and ran[-1][1] >= 3


def test_an_action_after_a_posted_frame_is_released_by_a_barrier(tmp_path: Path) -> None:
    ran: list[int] = []
    heartbeat = StalledHeartbeat(tmp_path)

    async def scenario() -> None:
        async with _channel_beside(heartbeat, tmp_path) as channel:
            channel.send(Node("n2"), b"f1")  # nobody waits: posted as a notice
            await heartbeat.read_until(1)
            channel.after_handed(lambda: ran.append(len(heartbeat.handled)))
            await heartbeat.read_until(2)
            heartbeat.handle_one()  # the frame: a notice, heartbeat answers nothing
            await asyncio.sleep(0.05)  # a wrong release would come within a few turns
            assert ran == []
            heartbeat.handle_one()  # the Ping behind it
            await until(lambda: ran)
            channel.after_handed(lambda: ran.append(-1))  # nothing new sent: at once

    asyncio.run(scenario())
    assert ran == [1, -1] and heartbeat.handled == [b"f1"]


def test_a_refused_frame_drops_the_actions_waiting_for_it(tmp_path: Path) -> None:
    ran: list[str] = []
    heartbeat = StalledHeartbeat(tmp_path)
    heartbeat.refuse.add(b"huge")

    async def scenario() -> None:
        async with _channel_beside(heartbeat, tmp_path) as channel:
            channel.send(ALL_NODES, b"huge")
            channel.after_handed(lambda: ran.append("huge"))
            await heartbeat.read_until(1)
            heartbeat.handle_one()
            await until(lambda: not channel._waiting)  # the refusal came back: dropped
            channel.send(ALL_NODES, b"next")  # the channel goes on
            channel.after_handed(lambda: ran.append("next"))
            await heartbeat.read_until(1)
            heartbeat.handle_one()
            await until(lambda: ran)

    asyncio.run(scenario())
    assert ran == ["next"]


def test_a_frame_sent_after_heartbeat_left_releases_nothing(tmp_path: Path) -> None:
    """Against heartbeat's own answer: once it broadcast Leaving it sends nothing more, so
    the write an action would acknowledge never left the node; the action is dropped."""
    import os

    from messaging.authkeys import load_authkeys, write_authkeys
    from messaging.config import parse_ha_cf
    from messaging.heartbeat.service import HeartbeatService, Options

    write_authkeys(tmp_path / "authkeys")
    options = Options("n1", bind_address="127.0.0.1", state_dir=str(tmp_path / "state"))
    ran: list[str] = []

    async def scenario() -> None:
        service = HeartbeatService(parse_ha_cf("ucast lo 127.0.0.1\nnode n1 n2\n"),
                                   load_authkeys(tmp_path / "authkeys"), options,
                                   get_logger(daemon="test"))
        serving = asyncio.get_running_loop().create_task(service.server.serve())
        channel = PeerChannel(service.state_dir, "n1", "cib", open_frame=bytes,
                              on_message=lambda sender, message: None,
                              log=get_logger(daemon="test"))
        sender = asyncio.get_running_loop().create_task(channel.sender())
        try:
            channel.send(Node("n2"), b"before")
            channel.after_handed(lambda: ran.append("before"))
            await until(lambda: ran)
            service.feed_leaving(service.runner.monotonic())
            channel.send(Node("n2"), b"after")
            channel.after_handed(lambda: ran.append("after"))
            await until(lambda: not channel._waiting)  # the refusal came back: dropped
        finally:
            for task in (sender, serving):
                task.cancel()
            channel.close()
            service.runner.close()
            service.server.close()
            service.publisher.close()
            os.close(service._lock_fd)

    asyncio.run(scenario())
    assert ran == ["before"]
