"""The heartbeat wire format: msgpack inside a small signed envelope (one UDP datagram).

Layout (docs/wire-format.md has the full description)::

    "hB" | version (1 byte) | key index (1 byte) | body (msgpack) | signature (raw digest)
    body = [tag, cluster, src, generation, seq, dst, [fields...]]

The signature covers every byte before it, with the authkeys key named by the index
byte; its length follows from that key's method (crc 4, md5 16, sha1 20, hmac-sha256 32).
`open_datagram` checks magic, version, key and signature BEFORE decoding any msgpack, so
an unsigned or wrongly signed packet is never parsed. Every rejection is a `PacketRejected`
(a RemoteProtocolError) carrying a short `reason` used as a counter name.

Message types are frozen dataclasses registered in `WIRE` with small int tags; fields are
positional (only ever appended, with defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from messaging.auth import AuthKey, KeyRing
from messaging.codec import Registry, pack, unpack
from messaging.errors import RemoteProtocolError

MAGIC = b"hB"
VERSION = 1
HEADER_SIZE = 4
MAX_DATAGRAM = 65507
BROADCAST = ""

WIRE = Registry("wire")


class PacketRejected(RemoteProtocolError):
    """A datagram we drop; `reason` is the counter it is recorded under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Skip(NamedTuple):
    """Data mseqs first..last of the sender's stream went to `dst` alone (by unicast): any
    other receiver advances past them instead of asking for them again."""

    dst: str
    first: int
    last: int


@WIRE.register(1)
@dataclass(frozen=True, slots=True)
class Status:
    """The heartbeat itself, every keepalive: 'I am alive; my data stream is at last_mseq'
    (`skips`: the addressed messages of the last few keepalives, repeated for receivers
    that lost the Data that first announced them)."""

    last_mseq: int
    first_mseq: int = 1
    skips: tuple[Skip, ...] = ()


@WIRE.register(2)
@dataclass(frozen=True, slots=True)
class Data:
    """One fragment of an upper-layer message (more=True: further fragments follow;
    index = position of this fragment within its message, 0 for the first; `skips`: the
    addressed messages sent by unicast since the sender's previous fragment to everyone)."""

    mseq: int
    channel: str
    chunk: bytes
    more: bool = False
    index: int = 0
    skips: tuple[Skip, ...] = ()


@WIRE.register(3)
@dataclass(frozen=True, slots=True)
class RetransmitRequest:
    """Ask the envelope's dst (the origin) to resend its data messages first..last."""

    first: int
    last: int


@WIRE.register(4)
@dataclass(frozen=True, slots=True)
class RetransmitGone:
    """Answer to a retransmit request: messages before `first_available` are gone."""

    first_available: int


@WIRE.register(5)
@dataclass(frozen=True, slots=True)
class Leaving:
    """Sent on a clean shutdown so peers mark the node dead at once."""


WireMessage = Status | Data | RetransmitRequest | RetransmitGone | Leaving


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sent what to whom: the signed header fields plus one wire message."""

    cluster: str
    src: str
    generation: int
    seq: int
    dst: str
    message: Any  # one of WireMessage
    version: int = VERSION


def seal(envelope: Envelope, key: AuthKey) -> bytes:
    """Encode and sign `envelope` with `key`."""
    tag, fields = WIRE.to_wire(envelope.message)
    if isinstance(envelope.message, (Status, Data)) and not envelope.message.skips:
        fields = fields[:-1]  # no skips: the same bytes as before they existed (fast paths)
    body = pack([tag, envelope.cluster, envelope.src, envelope.generation, envelope.seq,
                 envelope.dst, fields])
    signed = MAGIC + bytes((VERSION, key.index)) + body
    return signed + key.digest(signed)


def _check_header(data: bytes, keys: KeyRing) -> AuthKey:
    if len(data) < HEADER_SIZE:
        raise PacketRejected("truncated", f"{len(data)}-byte datagram")
    if data[:2] != MAGIC:
        raise PacketRejected("bad_magic", "not a hacluster heartbeat packet")
    if data[2] != VERSION:
        raise PacketRejected("bad_version", f"wire version {data[2]} (we speak {VERSION})")
    key = keys.get(data[3])
    if key is None:
        raise PacketRejected("unknown_key", f"signed with key index {data[3]}, not in authkeys")
    if len(data) < HEADER_SIZE + key.digest_size + 1:
        raise PacketRejected("truncated", f"{len(data)}-byte datagram")
    return key


def open_datagram(data: bytes, keys: KeyRing) -> Envelope:
    """Verify and decode one datagram.

    Raises:
        PacketRejected: with reason truncated, bad_magic, bad_version, unknown_key,
            bad_signature or garbage.
    """
    key = _check_header(data, keys)
    signed, signature = data[: -key.digest_size], data[-key.digest_size:]
    if not key.verify(signed, signature):
        raise PacketRejected("bad_signature", f"signature check failed (key {key.index})")
    try:
        body = unpack(signed[HEADER_SIZE:])
        return _envelope(body)
    except PacketRejected:
        raise
    except RemoteProtocolError as error:
        raise PacketRejected("garbage", str(error)) from None


_STATUS_TAG = WIRE.tag_of(Status(0))


def _fast_skips(value: Any) -> tuple[Skip, ...] | None:
    """`skips` of exactly the expected shape ([[str, int, int], ...]), else None."""
    if type(value) is not list:
        return None
    skips = []
    for run in value:
        if (type(run) is not list or len(run) != 3 or type(run[0]) is not str
                or type(run[1]) is not int or type(run[2]) is not int):
            return None
        skips.append(Skip(run[0], run[1], run[2]))
    return tuple(skips)


def _fast_status(tag: Any, fields: Any) -> Status | None:
    """The heartbeat itself, decoded without the generic codec (it is most of the traffic);
    None for anything not a well-formed two-int Status, with or without well-formed skips
    (the codec then decides)."""
    if tag != _STATUS_TAG or type(tag) is not int or type(fields) is not list:
        return None
    if len(fields) not in (2, 3) or type(fields[0]) is not int or type(fields[1]) is not int:
        return None
    if len(fields) == 2:
        return Status(fields[0], fields[1])
    skips = _fast_skips(fields[2])
    return None if skips is None else Status(fields[0], fields[1], skips)


_DATA_TAG = WIRE.tag_of(Data(0, "", b""))
_DATA_TYPES = (int, str, bytes, bool, int)


def _fast_data(tag: Any, fields: Any) -> Data | None:
    """A message fragment decoded without the generic codec: after a membership change
    every node receives every ccm message (15 x 15 acks at 16 nodes), and the codec's
    type introspection was two thirds of heartbeat's CPU per datagram. None for anything
    but five fields of exactly Data's types, with or without well-formed skips (the codec
    then decides)."""
    if tag != _DATA_TAG or type(tag) is not int or type(fields) is not list:
        return None
    if len(fields) not in (5, 6) or any(type(v) is not t for v, t in zip(
            fields, _DATA_TYPES, strict=False)):
        return None
    mseq, channel, chunk, more, index = fields[:5]
    skips = _fast_skips(fields[5]) if len(fields) == 6 else ()
    return None if skips is None else Data(mseq, channel, chunk, more, index, skips)


def _wrong_field(cluster: Any, src: Any, dst: Any, generation: Any, seq: Any) -> None:
    for value, kind, name in ((cluster, str, "cluster"), (src, str, "src"), (dst, str, "dst"),
                              (generation, int, "generation"), (seq, int, "seq")):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RemoteProtocolError(f"envelope field {name} has the wrong type")


def _envelope(body: Any) -> Envelope:
    if not isinstance(body, list) or len(body) < 7:
        raise RemoteProtocolError("envelope is not a 7-item list")
    tag, cluster, src, generation, seq, dst, fields = body[:7]
    # msgpack gives exactly str and int (bool apart): one test for the common case, the
    # field-by-field walk only to name what is wrong
    if not (type(cluster) is str and type(src) is str and type(dst) is str
            and type(generation) is int and type(seq) is int):
        _wrong_field(cluster, src, dst, generation, seq)
    if generation < 0 or seq < 0 or not src:
        raise RemoteProtocolError("envelope with negative counters or empty src")
    message = (_fast_status(tag, fields) or _fast_data(tag, fields)
               or WIRE.from_wire([tag, fields]))
    return Envelope(cluster, src, generation, seq, dst, message)
