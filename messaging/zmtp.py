"""A blocking ZMTP 3 DEALER connection without pyzmq: the wire under `messaging.client.Client`.

Why: importing pyzmq (and libzmq's context with its I/O thread) is a large share of a
command-line tool's start (cibadmin, crm_mon); one request and its reply need only a
stream socket and ZMTP's framing (RFC 23/ZMTP 3.0, NULL security). The daemons' servers
stay pyzmq ROUTER sockets; the asyncio clients and the subscribers stay on pyzmq too.

Protocol subset: the 64-byte greeting (version 3, mechanism NULL, as client), the READY
command carrying ``Socket-Type: DEALER`` both ways, then messages as frames (flags: MORE
0x01, LONG 0x02 with an 8-byte size, COMMAND 0x04; commands after the handshake, such as
ZMTP 3.1 PINGs, are skipped). ``ipc://PATH`` is a Unix stream socket, ``tcp://HOST:PORT``
a TCP one: the same transports libzmq uses, so the server sees the same peer (SO_PEERCRED
gives it the caller's uid on ipc).

Invariants: every wait has a deadline (`PeerTimeout` when it passes); a peer that is not
listening yet is retried until the deadline, as libzmq reconnects; a connection that
breaks, speaks something other than ZMTP 3 or sends a frame over ``max_frame`` is closed
and reported (`PeerTimeout` for a broken connection: the request's outcome is unknown,
`RemoteProtocolError` for a peer that is not a ZMTP 3 ROUTER or too large a frame).
"""

from __future__ import annotations

import _socket  # socket.py's one class over it, without its enums: see _socket_for
import os
import struct
import time

from messaging.errors import PeerTimeout, RemoteProtocolError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from pathlib import Path

GREETING = (b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00")
            + b"\x00" + b"\x00" * 31)
MORE, LONG, COMMAND = 0x01, 0x02, 0x04
RETRY_S = 0.1  # a listener not there yet: libzmq's default reconnect interval
FRAME_SLACK = 1024  # as messaging.client: the envelope's own bytes beyond max_frame


def _command(name: bytes, properties: dict[bytes, bytes]) -> bytes:
    body = bytes([len(name)]) + name + b"".join(
        bytes([len(key)]) + key + struct.pack(">I", len(value)) + value
        for key, value in properties.items())
    if len(body) > 255:
        return bytes([COMMAND | LONG]) + struct.pack(">Q", len(body)) + body
    return bytes([COMMAND, len(body)]) + body


READY = _command(b"READY", {b"Socket-Type": b"DEALER"})


def frames_bytes(frames: list[bytes]) -> bytes:
    """`frames` as one ZMTP message (MORE on all but the last)."""
    out = []
    for index, frame in enumerate(frames):
        more = MORE if index < len(frames) - 1 else 0
        if len(frame) > 255:
            out.append(bytes([more | LONG]) + struct.pack(">Q", len(frame)))
        else:
            out.append(bytes([more, len(frame)]))
        out.append(frame)
    return b"".join(out)


class Connection:
    """One connected, handshaken DEALER stream."""

    def __init__(self, endpoint: str, deadline: float, max_frame: int) -> None:
        self.endpoint, self.max_frame = endpoint, max_frame
        self._buffer = bytearray()
        self.broken = False  # the stream failed: nothing more can come on it
        self._sock = _connect(endpoint, deadline)
        try:
            self._handshake(deadline)
        except BaseException:
            self.close()
            raise

    def _handshake(self, deadline: float) -> None:
        try:
            self._sock.sendall(GREETING + READY)
        except OSError as error:  # the daemon closed it (stopping, killed): as in send()
            raise PeerTimeout(f"{self.endpoint}: the connection broke ({error})") from None
        greeting = self._take(64, deadline)
        if greeting[0] != 0xFF or greeting[9] != 0x7F or greeting[10] < 3:
            raise RemoteProtocolError(f"{self.endpoint}: the peer does not speak ZMTP 3")
        if greeting[12:32].rstrip(b"\x00") != b"NULL":
            raise RemoteProtocolError(f"{self.endpoint}: the peer wants another security "
                                      "mechanism than NULL")
        flags, body = self._frame(deadline)
        if not flags & COMMAND or not body.startswith(b"\x05READY"):
            raise RemoteProtocolError(f"{self.endpoint}: no READY from the peer "
                                      f"({body[:40]!r})")

    def send(self, frames: list[bytes]) -> None:
        try:
            self._sock.sendall(frames_bytes(frames))
        except OSError as error:
            self.broken = True
            raise PeerTimeout(f"{self.endpoint}: the connection broke ({error})") from None

    def receive(self, deadline: float) -> list[bytes]:
        """The next message's frames; PeerTimeout at `deadline`."""
        frames = []
        while True:
            flags, body = self._frame(deadline)
            if flags & COMMAND:
                continue  # e.g. a ZMTP 3.1 PING: no heartbeats are asked for
            frames.append(body)
            if not flags & MORE:
                return frames

    def _frame(self, deadline: float) -> tuple[int, bytes]:
        flags = self._take(1, deadline)[0]
        size = (struct.unpack(">Q", self._take(8, deadline))[0] if flags & LONG
                else self._take(1, deadline)[0])
        if size > self.max_frame + FRAME_SLACK:
            self.broken = True
            raise RemoteProtocolError(f"{self.endpoint}: a frame of {size} bytes, over the "
                                      f"limit of {self.max_frame}")
        return flags, self._take(size, deadline)

    def _take(self, count: int, deadline: float) -> bytes:
        while len(self._buffer) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PeerTimeout(f"{self.endpoint}: no answer in time")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(max(65536, count - len(self._buffer)))
            except TimeoutError:
                raise PeerTimeout(f"{self.endpoint}: no answer in time") from None
            except OSError as error:
                self.broken = True
                raise PeerTimeout(f"{self.endpoint}: the connection broke ({error})") from None
            if not chunk:
                self.broken = True
                raise PeerTimeout(f"{self.endpoint}: the daemon closed the connection "
                                  "before answering")
            self._buffer += chunk
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken

    def close(self) -> None:
        self._sock.close()


def _connect(endpoint: str, deadline: float) -> _socket.socket:
    while True:
        sock = _socket_for(endpoint)
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            sock.connect(_address(endpoint))
            return sock
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()  # bound but not listening, or between unlink and bind: retry
        except TimeoutError:
            sock.close()
        except OSError as error:
            sock.close()
            raise PeerTimeout(f"{endpoint}: cannot connect ({error})") from None
        if time.monotonic() + RETRY_S > deadline:
            raise PeerTimeout(f"{endpoint}: no daemon accepted the connection in time")
        time.sleep(RETRY_S)


def _socket_for(endpoint: str) -> _socket.socket:
    """A stream socket for `endpoint`: the C module's socket, whose connect, sendall, recv
    and settimeout are all this module uses. Importing socket.py instead builds its
    IntEnum of every address family, socket kind, message flag and address-info flag (and
    loads selectors), about a tenth of a live cibadmin's start."""
    if endpoint.startswith("ipc://"):
        return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    if endpoint.startswith("tcp://"):
        sock = _socket.socket(_socket.AF_INET6 if "[" in endpoint else _socket.AF_INET,
                              _socket.SOCK_STREAM)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise RemoteProtocolError(f"{endpoint}: only ipc:// and tcp:// endpoints are supported")


def endpoint_path(endpoint: str) -> Path | None:
    """The filesystem path of an ``ipc://`` endpoint (None for tcp:// and friends)."""
    from pathlib import Path  # the daemons' side (messaging.ipc); a client needs only a str

    file = endpoint_file(endpoint)
    return None if file is None else Path(file)


def endpoint_file(endpoint: str) -> str | None:
    """`endpoint_path` as a str, without importing pathlib (a tool's start-up)."""
    return endpoint[len("ipc://"):] if endpoint.startswith("ipc://") else None


def endpoint_present(endpoint: str) -> bool:
    """Whether the socket file of an ``ipc://`` endpoint exists (tcp: always)."""
    file = endpoint_file(endpoint)
    return file is None or os.path.exists(file)


def _address(endpoint: str) -> str | tuple[str, int]:
    path = endpoint_file(endpoint)
    if path is not None:
        return path
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    return host.strip("[]"), int(port)


__all__ = ["Connection", "endpoint_file", "endpoint_path", "endpoint_present", "frames_bytes"]
