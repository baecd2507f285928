"""The signed envelope: round trips, every rejection reason, and status packet size."""

from __future__ import annotations

import hashlib
import hmac

import msgpack
import pytest

from messaging.auth import AuthKey, KeyRing
from messaging.errors import RemoteProtocolError
from messaging.wire import (
    Data,
    Envelope,
    Leaving,
    PacketRejected,
    RetransmitGone,
    RetransmitRequest,
    Status,
    open_datagram,
    seal,
)

KEY = AuthKey(1, "hmac-sha256", b"s3cret")
RING = KeyRing(1, (KEY, AuthKey(2, "sha1", b"old"), AuthKey(3, "crc")))


@pytest.mark.parametrize(
    "message",
    [Status(7, 2), Data(3, "ccm", b"\x00\x01", True), RetransmitRequest(4, 9),
     RetransmitGone(12), Leaving()],
)
@pytest.mark.parametrize("index", [1, 2, 3])
def test_round_trip_with_every_key(message: object, index: int) -> None:
    key = RING.get(index)
    assert key is not None
    envelope = Envelope("prod", "node1", 1795322000, 42, "node2", message)
    assert open_datagram(seal(envelope, key), RING) == envelope


def test_layout_matches_the_documented_format() -> None:
    envelope = Envelope("c", "n1", 5, 6, "", Status(0, 1))
    data = seal(envelope, KEY)
    assert data[:4] == b"hB\x01\x01"
    body, signature = data[4:-32], data[-32:]
    assert msgpack.unpackb(body) == [1, "c", "n1", 5, 6, "", [0, 1]]
    assert signature == hmac.new(b"s3cret", data[:-32], hashlib.sha256).digest()


def _reason(data: bytes, ring: KeyRing = RING) -> str:
    with pytest.raises(PacketRejected) as caught:
        open_datagram(data, ring)
    assert isinstance(caught.value, RemoteProtocolError)
    return caught.value.reason


def _signed(body: bytes) -> bytes:
    head = b"hB\x01\x01" + body
    return head + KEY.digest(head)


def test_rejections_have_reasons() -> None:
    good = seal(Envelope("c", "n1", 5, 6, "", Status(0, 1)), KEY)
    assert _reason(b"hB") == "truncated"
    assert _reason(good[:10]) == "truncated"
    assert _reason(b"XX" + good[2:]) == "bad_magic"
    assert _reason(good[:2] + b"\x02" + good[3:]) == "bad_version"
    assert _reason(good[:3] + b"\x09" + good[4:]) == "unknown_key"
    assert _reason(good[:-1] + bytes([good[-1] ^ 1])) == "bad_signature"
    tampered = bytearray(good)
    tampered[8] ^= 0x20
    assert _reason(bytes(tampered)) == "bad_signature"
    assert _reason(good, KeyRing(1, (AuthKey(1, "hmac-sha256", b"other"),))) == "bad_signature"
    assert _reason(_signed(b"\xc1")) == "garbage"
    assert _reason(_signed(msgpack.packb([99, "c", "n", 1, 1, "", []]))) == "garbage"
    assert _reason(_signed(msgpack.packb([1, "c", "n", "1", 1, "", [0]]))) == "garbage"
    assert _reason(_signed(msgpack.packb([1, "c", "", 1, 1, "", [0]]))) == "garbage"
    assert _reason(_signed(msgpack.packb([2, "c", "n", 1, 1, "", [1, "x", "str"]]))) == "garbage"
    assert _reason(_signed(msgpack.packb({"a": 1}))) == "garbage"


def test_status_packet_is_small_at_sixteen_nodes() -> None:
    # Status does not grow with the node count; a long node name and cluster name included.
    envelope = Envelope("production-db", "node16.example", 1795322000, 4_000_000, "",
                        Status(123_456, 120_000))
    size = len(seal(envelope, KEY))
    assert size <= 120, size
