"""The Data fast path in messaging.wire decodes exactly what the generic codec would:
five fields of Data's exact types the same, anything else through the codec's checks."""

from __future__ import annotations

import msgpack
import pytest

from messaging.auth import AuthKey, KeyRing
from messaging.errors import RemoteProtocolError
from messaging.wire import WIRE, Data, PacketRejected, open_datagram

KEY = AuthKey(1, "hmac-sha256", b"s3cret")
RING = KeyRing(1, (KEY,))


def _signed(fields: object, tag: object = 2) -> bytes:
    head = b"hB\x01\x01" + msgpack.packb([tag, "c", "n1", 5, 6, "n2", fields])
    return head + KEY.digest(head)


def test_well_formed_data_decodes() -> None:
    envelope = open_datagram(_signed([7, "ccm", b"\x01\x02", True, 3]), RING)
    assert envelope.message == Data(7, "ccm", b"\x01\x02", True, 3)
    assert envelope.dst == "n2"


@pytest.mark.parametrize("fields", [
    [7, "ccm", b"x"],  # defaults for more and index
    [7, "ccm", b"x", False, 0, [["n3", 5, 6]]],  # skips: unicast fragments to step over
    [7, "ccm", b"x", False, 0, [], "a later field"],  # forward compatible: extra fields
])
def test_other_shapes_decode_like_the_codec(fields: list[object]) -> None:
    assert open_datagram(_signed(fields), RING).message == WIRE.from_wire([2, fields])
    assert open_datagram(_signed(fields), RING).message.mseq == 7


@pytest.mark.parametrize("fields", [
    [True, "ccm", b"x", False, 0], [7, 5, b"x", False, 0], [7, "ccm", "x", False, 0],
    [7, "ccm", b"x", 1, 0], [7, "ccm", b"x", False, 0.5], {"mseq": 7}, None,
])
def test_malformed_data_is_rejected_as_garbage(fields: object) -> None:
    with pytest.raises(RemoteProtocolError):
        WIRE.from_wire([2, fields])  # the codec refuses it too
    with pytest.raises(PacketRejected) as caught:
        open_datagram(_signed(fields), RING)
    assert caught.value.reason == "garbage"
