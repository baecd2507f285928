"""The Status fast path in messaging.wire decodes exactly what the generic codec would:
well-formed two-int Status bodies the same, anything else through the codec's checks."""

from __future__ import annotations

import msgpack
import pytest

from messaging.auth import AuthKey, KeyRing
from messaging.wire import PacketRejected, Status, open_datagram

KEY = AuthKey(1, "hmac-sha256", b"s3cret")
RING = KeyRing(1, (KEY,))


def _signed(fields: object, tag: object = 1) -> bytes:
    head = b"hB\x01\x01" + msgpack.packb([tag, "c", "n1", 5, 6, "", fields])
    return head + KEY.digest(head)


def test_well_formed_status_decodes() -> None:
    envelope = open_datagram(_signed([7, 2]), RING)
    assert envelope.message == Status(7, 2)
    assert type(envelope.message.last_mseq) is int


def test_one_field_status_uses_the_default_first_mseq() -> None:
    assert open_datagram(_signed([7]), RING).message == Status(7, 1)


@pytest.mark.parametrize("fields", [[True, 1], [1, 2.5], ["1", 2], {"a": 1}, [], None])
def test_malformed_status_is_rejected_as_garbage(fields: object) -> None:
    with pytest.raises(PacketRejected) as caught:
        open_datagram(_signed(fields), RING)
    assert caught.value.reason == "garbage"


def test_a_bool_tag_is_not_the_status_tag() -> None:
    with pytest.raises(PacketRejected) as caught:
        open_datagram(_signed([7, 2], tag=True), RING)
    assert caught.value.reason == "garbage"


@pytest.mark.parametrize("skips", [[["n3", 4, 6]], [["n3", 4, 6], ["n4", 7, 7]], []])
def test_status_with_skips_decodes_like_the_codec(skips: object) -> None:
    from messaging.wire import WIRE, Skip

    message = open_datagram(_signed([7, 2, skips]), RING).message
    assert message == WIRE.from_wire([1, [7, 2, skips]])
    assert all(type(run) is Skip for run in message.skips)


@pytest.mark.parametrize("skips", [[["n3", 4]], [[3, 4, 6]], [["n3", 4, True]], "n3", [None]])
def test_malformed_skips_are_rejected_as_garbage(skips: object) -> None:
    with pytest.raises(PacketRejected) as caught:
        open_datagram(_signed([7, 2, skips]), RING)
    assert caught.value.reason == "garbage"
