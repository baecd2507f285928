"""zmq IPC between the daemons of one node: endpoints, permissions and typed messages.

Every daemon binds ``ipc://`` sockets inside the node's state directory. A bound socket
file gets mode 0660 and group ``haclient`` when that group exists (else it stays root's),
so only cluster daemons and administrators can talk to a daemon. Messages are frozen
dataclasses encoded with a `messaging.codec.Registry` (msgpack, never pickle).

Clients: `RequestClient` (REQ, one request at a time, timeout -> `PeerTimeout`, the socket
is rebuilt after a timeout so a late reply can never be taken for the next one) and
`Subscriber` (SUB with topic frames). Async twins use `zmq.asyncio` for asyncio services.
Foreign exceptions (zmq.ZMQError) are translated here into `TransportError`s.
"""

from __future__ import annotations

import contextlib
import grp
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from messaging.codec import Registry
from messaging.errors import PeerTimeout, PeerUnreachable, RemoteProtocolError, TransportError

CLUSTER_GROUP = "haclient"
SOCKET_MODE = 0o660


def cluster_gid() -> int | None:
    """The gid of group haclient, or None when the group does not exist."""
    try:
        return grp.getgrnam(CLUSTER_GROUP).gr_gid
    except KeyError:
        return None


def endpoint_path(endpoint: str) -> Path | None:
    """The filesystem path of an ``ipc://`` endpoint (None for tcp:// and friends)."""
    return Path(endpoint[len("ipc://"):]) if endpoint.startswith("ipc://") else None


def prepare_state_dir(state_dir: str | Path) -> Path:
    """Create the state directory (0750, group haclient if present) and return it."""
    path = Path(state_dir)
    path.mkdir(parents=True, exist_ok=True, mode=0o750)
    gid = cluster_gid()
    if gid is not None and os.geteuid() == 0:
        os.chown(path, -1, gid)
    return path


def secure_endpoint(endpoint: str) -> None:
    """Give a freshly bound ipc:// socket file mode 0660 and group haclient."""
    path = endpoint_path(endpoint)
    if path is None:
        return
    os.chmod(path, SOCKET_MODE)
    gid = cluster_gid()
    if gid is not None and os.geteuid() == 0:
        os.chown(path, -1, gid)


@contextlib.contextmanager
def translated(endpoint: str) -> Iterator[None]:
    """Turn zmq errors at the I/O edge into our TransportError tree."""
    try:
        yield
    except zmq.Again:
        raise PeerTimeout(f"{endpoint}: no answer in time") from None
    except zmq.ZMQError as error:
        raise TransportError(f"{endpoint}: {error}") from None


def bind(sock: zmq.Socket[Any] | zmq.asyncio.Socket, endpoint: str) -> None:
    """Bind `sock` to `endpoint`, replacing a stale socket file, and secure it."""
    path = endpoint_path(endpoint)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    with translated(endpoint):
        sock.bind(endpoint)
    secure_endpoint(endpoint)


def _check_present(endpoint: str) -> None:
    path = endpoint_path(endpoint)
    if path is not None and not path.exists():
        raise PeerUnreachable(f"{endpoint}: no daemon listening (socket file missing)")


class RequestClient:
    """A blocking REQ client: `request(message)` returns the decoded reply."""

    def __init__(self, endpoint: str, registry: Registry, *, timeout: float = 5.0,
                 context: zmq.Context[Any] | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.timeout = timeout
        self._context = context or zmq.Context.instance()
        self._socket: zmq.Socket[Any] | None = None

    def _connect(self) -> zmq.Socket[Any]:
        if self._socket is None:
            _check_present(self.endpoint)
            sock = self._context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            ms = int(self.timeout * 1000)
            sock.setsockopt(zmq.RCVTIMEO, ms)
            sock.setsockopt(zmq.SNDTIMEO, ms)
            with translated(self.endpoint):
                sock.connect(self.endpoint)
            self._socket = sock
        return self._socket

    def request(self, message: object) -> object:
        sock = self._connect()
        try:
            with translated(self.endpoint):
                sock.send(self.registry.encode(message))
                data = sock.recv()
        except TransportError:
            self.close()
            raise
        return self.registry.decode(data)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None


class AsyncRequestClient:
    """The asyncio twin of RequestClient."""

    def __init__(self, endpoint: str, registry: Registry, *, timeout: float = 5.0,
                 context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.timeout = timeout
        self._context = context or zmq.asyncio.Context.instance()
        self._socket: zmq.asyncio.Socket | None = None

    def _connect(self) -> zmq.asyncio.Socket:
        if self._socket is None:
            _check_present(self.endpoint)
            sock = self._context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            with translated(self.endpoint):
                sock.connect(self.endpoint)
            self._socket = sock
        return self._socket

    async def request(self, message: object) -> object:
        sock = self._connect()
        try:
            with translated(self.endpoint):
                await sock.send(self.registry.encode(message))
                if not await sock.poll(int(self.timeout * 1000)):
                    raise zmq.Again()
                data = await sock.recv()
        except TransportError:
            self.close()
            raise
        return self.registry.decode(data)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None


def _subscribe(sock: zmq.Socket[Any] | zmq.asyncio.Socket, topics: Iterable[bytes]) -> None:
    wanted = list(topics) or [b""]
    for topic in wanted:
        sock.setsockopt(zmq.SUBSCRIBE, topic)


class Subscriber:
    """A blocking SUB client: `recv(timeout)` returns the next decoded event or None."""

    def __init__(self, endpoint: str, registry: Registry, topics: Iterable[bytes] = (),
                 *, context: zmq.Context[Any] | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.socket: zmq.Socket[Any] = (context or zmq.Context.instance()).socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        _subscribe(self.socket, topics)
        with translated(endpoint):
            self.socket.connect(endpoint)

    def recv(self, timeout: float | None = None) -> object | None:
        """Next event; None after `timeout` seconds; undecodable events are skipped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with translated(self.endpoint):
                if not self.socket.poll(None if left is None else int(left * 1000)):
                    return None
                frames = self.socket.recv_multipart()
            event = _decode_event(self.registry, frames)
            if event is not None:
                return event

    def close(self) -> None:
        self.socket.close(linger=0)


class AsyncSubscriber:
    """The asyncio twin of Subscriber: `await recv()` returns the next decoded event."""

    def __init__(self, endpoint: str, registry: Registry, topics: Iterable[bytes] = (),
                 *, context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.socket = (context or zmq.asyncio.Context.instance()).socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        _subscribe(self.socket, topics)
        with translated(endpoint):
            self.socket.connect(endpoint)

    async def recv(self, timeout: float | None = None) -> object | None:
        """Next event; None after `timeout` seconds; undecodable events are skipped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with translated(self.endpoint):
                if not await self.socket.poll(None if left is None else int(left * 1000)):
                    return None
                frames = await self.socket.recv_multipart()
            event = _decode_event(self.registry, frames)
            if event is not None:
                return event

    def close(self) -> None:
        self.socket.close(linger=0)


def _decode_event(registry: Registry, frames: list[bytes]) -> object | None:
    if len(frames) != 2:
        return None
    try:
        return registry.decode(frames[1])
    except RemoteProtocolError:
        return None
