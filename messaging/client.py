"""The one IPC client (blocking and asyncio) and the one subscriber of daemon events.

`Client` and `AsyncClient` talk to a `messaging.ipc.Server` as DEALERs with
`messaging.envelope` frames: `AsyncClient` on a pyzmq socket, the blocking `Client` over
`messaging.zmtp` (ZMTP spoken directly on the same socket, so a command-line tool does not
load pyzmq). Each request gets a fresh id; replies are matched by id, so
several requests may be in flight (`send_request` + `wait_reply`, or concurrent awaits),
and a late reply can never be taken for another request's. An ``error`` reply is raised
as the HAError it names (`ErrorReply.to_exception`); no reply within the timeout raises
`PeerTimeout`, after which the socket is rebuilt (when no other request is in flight),
so a restarted daemon is reached again. ``event`` frames a server pushes to this client
(lrmd's OpCompleted after ExecAccepted) wait in `next_event`. A missing socket file is
`PeerUnreachable` at once. Frames larger than ``max_frame`` are refused (by zmq, or by
`messaging.zmtp` with a RemoteProtocolError); a connection that breaks before the reply is
a `PeerTimeout` (outcome unknown).

`Subscriber` / `AsyncSubscriber` read a `messaging.ipc.Publisher`: ``[topic, envelope]``
frames; frames that are not well-formed events are skipped (a publisher never makes a
subscriber fail).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Coroutine, Iterable

from messaging.codec import Registry
from messaging.envelope import DEFAULT_MAX_FRAME, Envelope, Kind, Ping, Pong, decode, encode
from messaging.errors import (
    ErrorReply,
    PeerTimeout,
    PeerUnreachable,
    RemoteProtocolError,
    TransportError,
)
from messaging.zmtp import Connection, endpoint_present

TYPE_CHECKING = False  # typing.TYPE_CHECKING; asyncio and zmq load only when used:
if TYPE_CHECKING:       # a blocking tool such as cibadmin should not pay for them
    import asyncio
    from typing import Any

    import zmq
    import zmq.asyncio

    from messaging.fd_reader import FdReader

_ids = itertools.count(1)


def _check_present(endpoint: str) -> None:
    if not endpoint_present(endpoint):
        raise PeerUnreachable(f"{endpoint}: no daemon listening (socket file missing)")


def _result(envelope: Envelope) -> Any:
    if envelope.kind is Kind.ERROR:
        assert isinstance(envelope.message, ErrorReply)
        raise envelope.message.to_exception()
    return envelope.message


def _dealer(context: zmq.asyncio.Context, endpoint: str, max_frame: int) -> zmq.Socket[Any]:
    import zmq

    from messaging.ipc import translated

    _check_present(endpoint)
    # A plain socket in the shared asyncio context (inproc peers still reach it), read
    # through messaging.fd_reader: no zmq.asyncio future per request or reply.
    sock: zmq.Socket[Any] = zmq.Socket(context, zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, max_frame + 1024)
    with translated(endpoint):
        sock.connect(endpoint)
    return sock


class Client:
    """A blocking client of one daemon's `Server`."""

    def __init__(self, endpoint: str, registry: Registry, *, timeout: float = 5.0,
                 max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.timeout = timeout
        self.max_frame = max_frame
        self._socket: Connection | None = None
        self._replies: dict[int, Envelope] = {}
        self._waiting: set[int] = set()
        self._events: deque[Envelope] = deque()

    def send_request(self, message: object) -> int:
        """Send `message` as a request; returns its id for `wait_reply`."""
        if self._socket is None:
            _check_present(self.endpoint)
            self._socket = Connection(self.endpoint, time.monotonic() + self.timeout,
                                      self.max_frame)
        request_id = next(_ids)
        data = encode(self.registry, Kind.REQUEST, request_id, message)
        try:
            self._socket.send([b"", data])
        except PeerTimeout:
            self.close()
            raise
        self._waiting.add(request_id)
        return request_id

    def wait_reply(self, request_id: int, timeout: float | None = None) -> Any:
        """The reply to request `request_id`; raises its error, or PeerTimeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while request_id not in self._replies:
                self._receive_one(deadline)
        except PeerTimeout:
            self._waiting.discard(request_id)
            if not self._waiting:
                self.close()
            raise
        self._waiting.discard(request_id)
        return _result(self._replies.pop(request_id))

    def request(self, message: object, timeout: float | None = None) -> Any:
        """Send one request and return its reply (raising the error it names)."""
        return self.wait_reply(self.send_request(message), timeout)

    def next_event(self, timeout: float | None = None) -> Any:
        """The next event the server pushed to this client; PeerTimeout after `timeout`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while not self._events:
                self._receive_one(deadline)
        except PeerTimeout:
            if not self._waiting:
                self.close()
            raise
        return self._events.popleft().message

    def ping(self, timeout: float | None = None) -> Pong:
        """Ask the server whether it serves (every server answers Ping itself)."""
        reply = self.request(Ping(), timeout)
        if not isinstance(reply, Pong):
            raise RemoteProtocolError(f"{self.endpoint} answered Ping with {type(reply).__name__}")
        return reply

    def _receive_one(self, deadline: float) -> None:
        if self._socket is None:
            raise PeerTimeout(f"{self.endpoint}: no request in flight")
        left = max(0.0, deadline - time.monotonic())
        try:
            frames = self._socket.receive(deadline)
        except (PeerTimeout, RemoteProtocolError):
            if self._socket.broken:  # nothing more will come on it: the next request reconnects
                self.close()
                raise
            raise PeerTimeout(f"{self.endpoint}: no answer within "
                              f"{self.timeout if left == 0 else left:.1f}s") from None
        envelope = decode(self.registry, frames[-1], self.max_frame)
        if envelope.kind is Kind.EVENT:
            self._events.append(envelope)
        elif envelope.request_id in self._waiting:
            self._replies[envelope.request_id] = envelope
        # a reply to a request we gave up on is dropped

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._replies.clear()
        self._waiting.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of Client: concurrent requests share one socket and one reader.

    The DEALER is a plain zmq socket read through messaging.fd_reader, like the server and
    the subscribers: a send is NOBLOCK (zmq queues it until the connection is up) and is
    followed by `FdReader.sent()`, since a send can clear the descriptor under a queued
    reply."""

    def __init__(self, endpoint: str, registry: Registry, *, timeout: float = 5.0,
                 max_frame: int = DEFAULT_MAX_FRAME,
                 context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.timeout = timeout
        self.max_frame = max_frame
        import asyncio

        import zmq.asyncio

        self._context = context or zmq.asyncio.Context.instance()
        self._reader: FdReader | None = None
        self._reading: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Envelope]] = {}
        self._events: asyncio.Queue[Envelope] = asyncio.Queue()

    def _connect(self) -> FdReader:
        if self._reader is None:
            import asyncio

            from messaging.fd_reader import FdReader

            reader = FdReader(_dealer(self._context, self.endpoint, self.max_frame))
            self._reader = reader
            self._reading = asyncio.get_running_loop().create_task(self._read(reader))
        return self._reader

    async def _read(self, reader: FdReader) -> None:
        import zmq

        while True:
            try:
                frames = await reader.recv_multipart()
                assert frames is not None  # no timeout given
                envelope = decode(self.registry, frames[-1], self.max_frame)
            except RemoteProtocolError:
                continue
            except zmq.ZMQError:
                return
            if envelope.kind is Kind.EVENT:
                self._events.put_nowait(envelope)
                continue
            future = self._pending.get(envelope.request_id)
            if future is not None and not future.done():
                future.set_result(envelope)

    def _send(self, reader: FdReader, data: bytes) -> None:
        import zmq

        from messaging.ipc import translated

        try:  # Again (a thousand requests queued to a silent peer) is a PeerTimeout
            with translated(self.endpoint):
                reader.socket.send_multipart([b"", data], flags=zmq.NOBLOCK)
        finally:
            reader.sent()

    async def request(self, message: object, timeout: float | None = None) -> Any:
        """Send one request and await its reply (raising the error it names)."""
        return await self.start_request(message, timeout)

    def start_request(self, message: object, timeout: float | None = None
                      ) -> Coroutine[Any, Any, Any]:
        """Send one request now, before any later send on this client (the server takes
        them in that order), and return the awaitable of its reply: several can be in
        flight without awaiting one another."""
        import asyncio

        reader = self._connect()
        request_id = next(_ids)
        data = encode(self.registry, Kind.REQUEST, request_id, message)
        future: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._send(reader, data)
        except BaseException:
            self._pending.pop(request_id, None)
            raise
        return self._reply(request_id, future, self.timeout if timeout is None else timeout)

    async def _reply(self, request_id: int, future: asyncio.Future[Envelope],
                     wait: float) -> Any:
        import asyncio

        try:
            envelope = await asyncio.wait_for(future, wait)
        except TimeoutError:
            raise PeerTimeout(f"{self.endpoint}: no answer within {wait:.1f}s") from None
        finally:
            self._pending.pop(request_id, None)
            if not future.done() and not self._pending:
                self.close()
        return _result(envelope)

    async def notify(self, message: object) -> None:
        """Send one request that wants no answer (kind ``notice``): a failure is the
        server's to log, so only for requests whose answer would tell nothing."""
        self._send(self._connect(), encode(self.registry, Kind.NOTICE, next(_ids), message))

    async def next_event(self, timeout: float | None = None) -> Any:
        """The next event the server pushed to this client; PeerTimeout after `timeout`."""
        import asyncio

        self._connect()
        wait = self.timeout if timeout is None else timeout
        try:
            return (await asyncio.wait_for(self._events.get(), wait)).message
        except TimeoutError:
            raise PeerTimeout(f"{self.endpoint}: no event within {wait:.1f}s") from None

    async def ping(self, timeout: float | None = None) -> Pong:
        reply = await self.request(Ping(), timeout)
        if not isinstance(reply, Pong):
            raise RemoteProtocolError(f"{self.endpoint} answered Ping with {type(reply).__name__}")
        return reply

    def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(TransportError(f"{self.endpoint}: client closed"))
        self._pending.clear()


def _subscribe(sock: Any, topics: Iterable[str | bytes]) -> None:
    import zmq

    wanted = [t.encode() if isinstance(t, str) else t for t in topics] or [b""]
    for topic in wanted:
        sock.setsockopt(zmq.SUBSCRIBE, topic)


def _event(registry: Registry, frames: list[bytes], max_frame: int) -> Any | None:
    if len(frames) != 2:
        return None
    try:
        envelope = decode(registry, frames[1], max_frame)
    except RemoteProtocolError:
        return None
    return envelope.message if envelope.kind is Kind.EVENT else None


class Subscriber:
    """A blocking SUB client: `recv(timeout)` returns the next decoded event or None."""

    def __init__(self, endpoint: str, registry: Registry, topics: Iterable[str | bytes] = (),
                 *, max_frame: int = DEFAULT_MAX_FRAME,
                 context: zmq.Context[Any] | None = None) -> None:
        import zmq

        from messaging.ipc import translated

        self.endpoint = endpoint
        self.registry = registry
        self.max_frame = max_frame
        self.socket: zmq.Socket[Any] = (context or zmq.Context.instance()).socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, max_frame + 1024)
        _subscribe(self.socket, topics)
        with translated(endpoint):
            self.socket.connect(endpoint)

    def recv(self, timeout: float | None = None) -> Any | None:
        """Next event; None after `timeout` seconds."""
        from messaging.ipc import translated

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with translated(self.endpoint):
                if not self.socket.poll(None if left is None else int(left * 1000)):
                    return None
                frames = self.socket.recv_multipart()
            event = _event(self.registry, frames, self.max_frame)
            if event is not None:
                return event

    def close(self) -> None:
        self.socket.close(linger=0)


class AsyncSubscriber:
    """The asyncio twin of Subscriber: `await recv()` returns the next decoded event.

    It reads a plain zmq socket through messaging.fd_reader rather than zmq.asyncio: a
    subscriber never sends, and pyzmq's per-message futures cost ~8-10% of a booting daemon."""

    def __init__(self, endpoint: str, registry: Registry, topics: Iterable[str | bytes] = (),
                 *, max_frame: int = DEFAULT_MAX_FRAME,
                 context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.max_frame = max_frame
        import zmq.asyncio

        from messaging.fd_reader import FdReader
        from messaging.ipc import translated

        # A plain socket in the shared asyncio context, so inproc publishers still reach it.
        self.socket: zmq.Socket[Any] = zmq.Socket(context or zmq.asyncio.Context.instance(),
                                                  zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, max_frame + 1024)
        _subscribe(self.socket, topics)
        with translated(endpoint):
            self.socket.connect(endpoint)
        self._reader = FdReader(self.socket)

    async def recv(self, timeout: float | None = None) -> Any | None:
        """Next event; None after `timeout` seconds."""
        import asyncio

        from messaging.ipc import translated

        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            with translated(self.endpoint):
                frames = await self._reader.recv_multipart(left)
            if frames is None:
                return None
            event = _event(self.registry, frames, self.max_frame)
            if event is not None:
                return event

    def close(self) -> None:
        self._reader.close()


__all__ = ["AsyncClient", "AsyncSubscriber", "Client", "Subscriber"]
