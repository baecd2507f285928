"""The one IPC server and client over real ipc:// sockets: permissions, request/reply with
ids, errors both ways, timeouts and reconnects, and a server that keeps answering after
garbage, multi-frame, oversized and wrongly typed requests (issue 8, defect 1)."""

from __future__ import annotations

import asyncio
import grp
import os
import select
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from messaging.client import AsyncClient, Client, Subscriber
from messaging.effects import Client as ClientToken
from messaging.envelope import Kind, Pong, decode, encode, protocol
from messaging.errors import (
    InternalError,
    NotFoundError,
    PeerTimeout,
    PeerUnreachable,
    RemoteProtocolError,
)
from messaging.ipc import Publisher, Server, bind, cluster_gid

API = protocol("itest")
MAX_FRAME = 64 * 1024


@API.register("echo")
@dataclass(frozen=True, slots=True)
class Echo:
    text: str


@API.register("later")
@dataclass(frozen=True, slots=True)
class Later:
    """Answered only when `release` arrives (so several requests are in flight)."""

    text: str


@API.register("release")
@dataclass(frozen=True, slots=True)
class Release:
    pass


@API.register("fail")
@dataclass(frozen=True, slots=True)
class Fail:
    bug: bool = False


@API.register("silent")
@dataclass(frozen=True, slots=True)
class Silent:
    pass


class Daemon:
    """A Server on its own asyncio loop in a thread, with a handler like a daemon's."""

    def __init__(self, endpoint: str) -> None:
        self.server = Server(endpoint, API, self.handle, daemon="itest", max_frame=MAX_FRAME)
        self.waiting: list[tuple[Later, ClientToken]] = []
        self.echoed: list[str] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def handle(self, request: Any, client: ClientToken) -> Any:
        if isinstance(request, Echo):
            self.echoed.append(request.text)
            return Echo(request.text.upper())
        if isinstance(request, Later):
            self.waiting.append((request, client))
            return None
        if isinstance(request, Release):
            for later, token in reversed(self.waiting):
                self.server.send(token, Echo(later.text))
                self.server.send(token, Echo(f"event after {later.text}"))
            self.waiting.clear()
            return Echo("released")
        if isinstance(request, Fail):
            if request.bug:
                raise KeyError("a bug")
            raise NotFoundError("no such thing")
        return None  # Silent: never answered

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server.bind()
        self.ready.set()
        task = self.loop.create_task(self.server.serve())
        try:
            self.loop.run_forever()
        finally:
            task.cancel()
            self.loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
            self.server.close()
            self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    made = Daemon(f"ipc://{tmp_path}/itest.ctl")
    made.thread.start()
    assert made.ready.wait(10)
    try:
        yield made
    finally:
        made.stop()


def _client(daemon: Daemon, timeout: float = 5.0) -> Client:
    return Client(daemon.server.endpoint, API, timeout=timeout, max_frame=MAX_FRAME)


def test_socket_file_is_0660_and_group_haclient(daemon: Daemon, tmp_path: Path) -> None:
    info = (tmp_path / "itest.ctl").stat()
    assert stat.S_IMODE(info.st_mode) == 0o660
    gid = cluster_gid()
    if gid is not None and os.geteuid() == 0:
        assert info.st_gid == gid == grp.getgrnam("haclient").gr_gid


def test_request_reply_and_builtin_ping(daemon: Daemon) -> None:
    with _client(daemon) as client:
        assert client.request(Echo("hi")) == Echo("HI")
        pong = client.ping()
        assert pong == Pong("itest", os.getpid())


def test_several_requests_in_flight_are_matched_by_id(daemon: Daemon) -> None:
    with _client(daemon) as client:
        first, second = client.send_request(Later("one")), client.send_request(Later("two"))
        assert client.request(Release()) == Echo("released")
        assert client.wait_reply(first) == Echo("one")  # answered last, matched by id
        assert client.wait_reply(second) == Echo("two")
        events = {client.next_event(), client.next_event()}
        assert events == {Echo("event after one"), Echo("event after two")}


def test_errors_map_to_the_haerror_tree_and_the_server_goes_on(daemon: Daemon) -> None:
    with _client(daemon) as client:
        with pytest.raises(NotFoundError, match="no such thing"):
            client.request(Fail())
        with pytest.raises(InternalError, match="KeyError"):
            client.request(Fail(bug=True))
        assert client.request(Echo("still")) == Echo("STILL")


def test_timeout_then_reconnect(daemon: Daemon) -> None:
    client = _client(daemon, timeout=0.3)
    with pytest.raises(PeerTimeout):
        client.request(Silent())
    assert client.request(Echo("again"), timeout=5.0) == Echo("AGAIN")
    client.close()


def test_missing_daemon_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(PeerUnreachable, match="no daemon listening"):
        Client(f"ipc://{tmp_path}/nobody.ctl", API).request(Echo("x"))


def _raw_exchange(endpoint: str, kind: int, frames: list[bytes],
                  wait: float = 5.0) -> list[bytes] | None:
    """Send `frames` from a raw zmq socket; the reply frames, or None if none came."""
    context = zmq.Context()
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart(frames)
        return sock.recv_multipart() if sock.poll(int(wait * 1000)) else None
    finally:
        sock.close(0)
        context.term()


BAD_REQUESTS: list[tuple[str, int, list[bytes]]] = [
    ("multi-frame REQ (defect 1)", zmq.REQ, [b"a", b"b", b"c"]),
    ("garbage", zmq.REQ, [b"\xc1\xc1\xc1"]),
    ("empty frame", zmq.REQ, [b""]),
    ("old lrmd format", zmq.REQ, [msgpack.packb([2, ["ListRequest", []]])]),
    ("old stonithd format", zmq.REQ, [msgpack.packb({"v": 1, "t": "Echo", "b": {}})]),
    ("other version", zmq.REQ, [msgpack.packb([9, "request", 5, "echo", ["x"]])]),
    ("unknown type", zmq.REQ, [msgpack.packb([1, "request", 5, "nope", []])]),
    ("wrong field type", zmq.REQ, [msgpack.packb([1, "request", 5, "echo", [3]])]),
    ("a reply sent as request", zmq.REQ, [encode(API, Kind.REPLY, 5, Echo("x"))]),
    ("DEALER without delimiter, two frames", zmq.DEALER, [b"x", b"y"]),
]


@pytest.mark.parametrize(("what", "kind", "frames"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_malformed_request_gets_an_error_and_the_server_keeps_serving(
        daemon: Daemon, what: str, kind: int, frames: list[bytes]) -> None:
    reply = _raw_exchange(daemon.server.endpoint, kind, frames)
    assert reply is not None, f"{what}: no answer"
    envelope = decode(API, reply[-1])
    assert envelope.kind is Kind.ERROR
    with pytest.raises(RemoteProtocolError):
        raise envelope.message.to_exception()
    with _client(daemon) as client:
        assert client.request(Echo("alive")) == Echo("ALIVE")
    assert daemon.server.rejected >= 1


def test_oversized_request_is_dropped_and_the_server_keeps_serving(daemon: Daemon) -> None:
    huge = encode(API, Kind.REQUEST, 1, Echo("x" * (2 * MAX_FRAME)))
    assert _raw_exchange(daemon.server.endpoint, zmq.REQ, [huge], wait=0.5) is None
    with _client(daemon) as client:
        assert client.request(Echo("alive")) == Echo("ALIVE")
        with pytest.raises(PeerTimeout):  # zmq drops the oversized frame's connection
            client.request(Echo("y" * (2 * MAX_FRAME)), timeout=0.5)
        assert client.request(Echo("after")) == Echo("AFTER")


def test_async_client_concurrent_requests(daemon: Daemon) -> None:
    async def scenario() -> list[Any]:
        client = AsyncClient(daemon.server.endpoint, API, max_frame=MAX_FRAME)
        try:
            later = [asyncio.ensure_future(client.request(Later(t))) for t in ("a", "b")]
            await asyncio.sleep(0)  # let both go out before the release
            while len(daemon.waiting) < 2:
                await asyncio.sleep(0.01)
            released = await client.request(Release())
            return [released, *(await asyncio.gather(*later))]
        finally:
            client.close()

    assert asyncio.run(scenario()) == [Echo("released"), Echo("a"), Echo("b")]


def test_a_notice_is_handled_in_order_and_answered_by_nothing(daemon: Daemon) -> None:
    """Notices (fire and forget, `AsyncClient.notify`): handled as requests, in order with
    them; neither their replies nor their failures come back, so the next frame the client
    reads is the reply to its request."""
    async def scenario() -> Any:
        client = AsyncClient(daemon.server.endpoint, API, max_frame=MAX_FRAME)
        try:
            await client.notify(Echo("a"))
            await client.notify(Fail())
            await client.notify(Fail(bug=True))
            return await client.request(Echo("b"), timeout=5.0)
        finally:
            client.close()

    assert asyncio.run(scenario()) == Echo("B")
    assert daemon.echoed == ["a", "b"]
    with zmq.Context() as context, context.socket(zmq.DEALER) as sock:
        sock.connect(daemon.server.endpoint)
        sock.send_multipart([b"", encode(API, Kind.NOTICE, 7, Echo("c"))])
        sock.send_multipart([b"", encode(API, Kind.REQUEST, 8, Echo("d"))])
        assert sock.poll(5000)
        reply = decode(API, sock.recv_multipart()[-1])
        assert (reply.kind, reply.request_id, reply.message) == (Kind.REPLY, 8, Echo("D"))
        assert not sock.poll(200)  # nothing for the notice
    assert daemon.echoed == ["a", "b", "c", "d"]


def test_async_client_events_after_a_reply_reach_next_event(daemon: Daemon) -> None:
    async def scenario() -> list[Any]:
        client = AsyncClient(daemon.server.endpoint, API, max_frame=MAX_FRAME)
        try:
            later = asyncio.ensure_future(client.request(Later("op")))
            while not daemon.waiting:
                await asyncio.sleep(0.01)
            released = await client.request(Release())
            return [released, await later, await client.next_event(5.0)]
        finally:
            client.close()

    assert asyncio.run(scenario()) == [Echo("released"), Echo("op"), Echo("event after op")]


def test_async_client_timeout_then_reconnect(daemon: Daemon) -> None:
    async def scenario() -> Any:
        client = AsyncClient(daemon.server.endpoint, API, timeout=0.3, max_frame=MAX_FRAME)
        try:
            with pytest.raises(PeerTimeout):
                await client.request(Silent())
            return await client.request(Echo("again"), timeout=5.0)
        finally:
            client.close()

    assert asyncio.run(scenario()) == Echo("AGAIN")


def test_async_client_send_after_a_reply_arrived_does_not_strand_it(daemon: Daemon) -> None:
    """A reply lands while the loop is busy; the client then sends again before the loop
    polls. The send processes the socket's pending commands, which clears the descriptor
    the reader waits on: the reply must still be read (zmq_getsockopt(3), ZMQ_FD)."""
    async def scenario() -> list[Any]:
        client = AsyncClient(daemon.server.endpoint, API, timeout=5.0, max_frame=MAX_FRAME)
        try:
            assert await client.request(Echo("warm")) == Echo("WARM")  # reader is waiting
            held = asyncio.ensure_future(client.request(Later("held")))
            while not daemon.waiting:
                await asyncio.sleep(0.01)
            with _client(daemon) as other:  # the reply to `held` is sent to our socket
                assert other.request(Release()) == Echo("released")
            descriptor = client._connect().socket.FD
            # Block the loop until the reply made the descriptor readable, then send at
            # once, before the loop can poll it.
            assert select.select([descriptor], [], [], 5.0)[0]
            after = await client.request(Echo("after"), timeout=2.0)
            return [await held, after, await client.next_event(2.0)]
        finally:
            client.close()

    assert asyncio.run(scenario()) == [Echo("held"), Echo("AFTER"), Echo("event after held")]


def test_publisher_events_reach_subscribers(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/itest.pub"

    async def scenario() -> list[Any]:
        publisher = Publisher(endpoint, API)
        publisher.bind()
        subscriber = Subscriber(endpoint, API, ("status",))
        try:
            first = None
            while first is None:  # until the subscription is live (zmq's slow joiner)
                publisher.publish("status", Echo("ready"))
                await asyncio.sleep(0.01)
                first = subscriber.recv(0.05)
            publisher.publish("other", Echo("filtered out"))
            publisher.publish("status", Echo("n2 dead"))
            await asyncio.sleep(0)
            while (event := subscriber.recv(5.0)) == Echo("ready"):
                pass
            return [first, event]
        finally:
            subscriber.close()
            publisher.close()

    assert asyncio.run(scenario()) == [Echo("ready"), Echo("n2 dead")]


def test_subscriber_skips_frames_that_are_not_events(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/itest.pub"
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    bind(pub, endpoint)
    subscriber = Subscriber(endpoint, API, ("status",), context=context)
    try:
        event = encode(API, Kind.EVENT, 0, Echo("n2 dead"))
        while subscriber.recv(0.05) is None:  # until the subscription is live
            pub.send_multipart([b"status", encode(API, Kind.EVENT, 0, Echo("ready"))])
        for junk in ([b"status", b"\xc1garbage"], [b"status"], [b"status", event, b"x"],
                     [b"status", encode(API, Kind.REPLY, 3, Echo("a reply"))]):
            pub.send_multipart(junk)
        pub.send_multipart([b"status", event])
        while (got := subscriber.recv(5.0)) == Echo("ready"):
            pass
        assert got == Echo("n2 dead")
    finally:
        subscriber.close()
        pub.close(linger=0)
        context.term()
