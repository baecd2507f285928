"""The one IPC envelope every daemon API speaks (pure: bytes in, typed values out).

An IPC frame is one msgpack array::

    [version, kind, request_id, tag, body]

- ``version``: `IPC_VERSION` (1). Another version is refused, never guessed at.
- ``kind``: ``"request"``, ``"reply"``, ``"error"``, ``"event"`` or ``"notice"`` (a request
  that wants no reply: the server handles it and answers nothing, a failure only logged).
- ``request_id``: the client's id for a request (1 .. 2**63-1); a reply, an error and an
  event pushed to one client carry the id of the request they belong to; published
  events and errors about undecodable requests carry 0.
- ``tag``: the message type, a string from the daemon's `messaging.codec.Registry`.
- ``body``: the message's fields in declaration order (`messaging.codec`), so trailing
  fields a newer sender appends are ignored and missing trailing fields take defaults.

Every registry of an IPC protocol extends `BUILTIN`, which holds what every server
understands: `Ping` (answered with `Pong` by the server itself, the launcher's liveness
probe) and `ErrorReply` (the body of every ``error`` frame; `messaging.errors` maps it to
and from the HAError tree). Decoding never raises anything but `RemoteProtocolError`, and
checks the frame size before unpacking.
"""

from __future__ import annotations

import enum

from messaging.codec import Registry, build, pack, to_plain, unpack
from messaging.errors import ErrorReply, LocalProtocolError, RemoteProtocolError
from messaging.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from typing import Any

IPC_VERSION = 1
MAX_REQUEST_ID = (1 << 63) - 1
DEFAULT_MAX_FRAME = 4 << 20  # 4 MiB: every daemon API but the CIB's
CIB_MAX_FRAME = 32 << 20  # full CIBs and diffs of several MB


class Kind(enum.StrEnum):
    """What a frame is."""

    REQUEST = "request"
    REPLY = "reply"
    ERROR = "error"
    EVENT = "event"
    NOTICE = "notice"  # a request answered by nothing (fire and forget)


_KINDS = {kind.value: kind for kind in Kind}


class Envelope(Record):
    """One decoded frame: its kind, request id and typed message."""

    __slots__ = ("kind", "message", "request_id")

    def __init__(self, kind: Kind, request_id: int, message: Any) -> None:
        self.kind, self.request_id, self.message = kind, request_id, message


class Header(Record):
    """A frame's envelope before its body is trusted (for error replies to bad requests)."""

    __slots__ = ("body", "kind", "request_id", "tag")

    def __init__(self, kind: Kind, request_id: int, tag: str, body: list[Any]) -> None:
        self.kind, self.request_id, self.tag, self.body = kind, request_id, tag, body


BUILTIN = Registry("ipc")


@BUILTIN.register("ping")
class Ping(Record):
    """Request every server answers itself: are you serving?"""

    __slots__ = ()

    def __init__(self) -> None:
        pass


@BUILTIN.register("pong")
class Pong(Record):
    """Answer to Ping: which daemon answered, and its process id."""

    __slots__ = ("daemon", "pid")

    def __init__(self, daemon: str, pid: int) -> None:
        self.daemon, self.pid = daemon, pid


BUILTIN.register("error")(ErrorReply)


def protocol(name: str) -> Registry:
    """A new registry for one daemon's API, extending the built-in messages."""
    return Registry(name, parent=BUILTIN)


def encode(registry: Registry, kind: Kind, request_id: int, message: object) -> bytes:
    """The frame for `message`.

    Raises:
        LocalProtocolError: unregistered message, or a value msgpack cannot carry.
    """
    if not 0 <= request_id <= MAX_REQUEST_ID:
        raise LocalProtocolError(f"request id {request_id} out of range")
    if kind is Kind.ERROR and not isinstance(message, ErrorReply):
        raise LocalProtocolError("an error frame carries an ErrorReply")
    tag = registry.tag_of(message)
    return pack([IPC_VERSION, kind.value, request_id, tag, to_plain(message)])


def parse_header(data: bytes, max_size: int = DEFAULT_MAX_FRAME) -> Header:
    """Check size, version, kind, request id and tag shape; the body stays untyped."""
    frame = unpack(data, max_size=max_size)
    if not isinstance(frame, list) or len(frame) != 5:
        raise RemoteProtocolError("not an IPC envelope [version, kind, id, tag, body]")
    version, kind, request_id, tag, body = frame
    if version != IPC_VERSION or isinstance(version, bool):
        raise RemoteProtocolError(f"IPC envelope version {version!r} unsupported "
                                  f"(this side speaks {IPC_VERSION})")
    parsed_kind = _KINDS.get(kind) if type(kind) is str else None  # no Enum call per frame
    if parsed_kind is None:
        raise RemoteProtocolError(f"IPC envelope kind {kind!r} unknown")
    if (not isinstance(request_id, int) or isinstance(request_id, bool)
            or not 0 <= request_id <= MAX_REQUEST_ID):
        raise RemoteProtocolError(f"IPC request id {request_id!r} is not an id")
    if not isinstance(tag, str) or not isinstance(body, list):
        raise RemoteProtocolError("IPC envelope tag must be a string and body a list")
    return Header(parsed_kind, request_id, tag, body)


def open_header(registry: Registry, header: Header) -> Envelope:
    """Build the typed message of a parsed header (validating every field)."""
    cls = registry.class_of(header.tag)
    if (header.kind is Kind.ERROR) != (cls is ErrorReply):
        raise RemoteProtocolError(f"{header.kind.value} frame cannot carry {header.tag!r}")
    message: Any = build(cls, header.body, f"{registry.name} {cls.__name__}")
    return Envelope(header.kind, header.request_id, message)


def decode(registry: Registry, data: bytes, max_size: int = DEFAULT_MAX_FRAME) -> Envelope:
    """The envelope in `data`; RemoteProtocolError for anything else."""
    return open_header(registry, parse_header(data, max_size))


__all__ = ["BUILTIN", "CIB_MAX_FRAME", "DEFAULT_MAX_FRAME", "IPC_VERSION", "Envelope",
           "ErrorReply", "Header", "Kind", "Ping", "Pong", "decode", "encode",
           "open_header", "parse_header", "protocol"]
