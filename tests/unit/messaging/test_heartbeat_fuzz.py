"""Fuzzing the receive path: arbitrary or mutated datagrams never crash the core and
never get accepted, delivered or counted as a heartbeat."""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.auth import AuthKey, KeyRing
from messaging.heartbeat.api import MessageReceived
from messaging.heartbeat.core import CoreSettings, HeartbeatCore
from messaging.heartbeat.events import PacketReceived, Started
from messaging.heartbeat.liveness import Timing
from messaging.wire import Data, Envelope, seal

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"fuzz-secret"),))
ATTACKER = KeyRing(1, (AuthKey(1, "hmac-sha256", b"guessed"),))
TIMING = Timing(1.0, 3.0, 5.0, 10.0)


def _core() -> HeartbeatCore:
    core = HeartbeatCore(CoreSettings("a", "c", 1, TIMING, ("eth0",), ("a", "b"), KEYS))
    core.handle(Started(0.0))
    return core


def _assert_nothing_accepted(core: HeartbeatCore, packets: list[bytes]) -> None:
    effects = []
    for i, data in enumerate(packets):
        effects += core.handle(PacketReceived("eth0", data, ("10.0.0.2", 694), 1.0 + i))
    assert core.counters["rx.accepted"] == 0
    assert core.counters["rx.packets"] == len(packets)
    rejected = sum(v for k, v in core.counters.items() if k.startswith("rejected."))
    assert rejected == len(packets)
    assert not any(isinstance(getattr(e, "event", None), MessageReceived) for e in effects)
    assert core.liveness.nodes["b"].last_heard() is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5))
def test_random_bytes(packets: list[bytes]) -> None:
    _assert_nothing_accepted(_core(), packets)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=3))
def test_random_bodies_with_valid_header_but_no_key(bodies: list[bytes]) -> None:
    packets = [b"hB\x01\x01" + body for body in bodies]
    _assert_nothing_accepted(_core(), packets)


_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats() | st.text(max_size=10) | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_values, min_size=1, max_size=3))
def test_garbage_msgpack_signed_with_a_wrong_key(values: list[object]) -> None:
    packets = []
    for value in values:
        head = b"hB\x01\x01" + msgpack.packb(value)
        packets.append(head + ATTACKER.signing_key().digest(head))
    _assert_nothing_accepted(_core(), packets)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=255),
       st.booleans())
def test_bit_flips_and_truncations_of_a_valid_packet(position: int, flip: int,
                                                     truncate: bool) -> None:
    good = seal(Envelope("c", "b", 7, 1, "", Data(1, "ccm", b"payload")), KEYS.signing_key())
    position %= len(good)
    if truncate:
        bad = good[:position]
    else:
        mutable = bytearray(good)
        mutable[position] ^= flip
        bad = bytes(mutable)
    _assert_nothing_accepted(_core(), [bad])
    core = _core()  # control: the unmodified packet is accepted
    core.handle(PacketReceived("eth0", good, ("10.0.0.2", 694), 1.0))
    assert core.counters["rx.accepted"] == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(_values, min_size=1, max_size=3))
def test_correctly_signed_garbage_is_rejected_not_crashing(values: list[object]) -> None:
    # Even a peer holding the key (a buggy one) cannot crash us with malformed bodies.
    packets = []
    for value in values:
        head = b"hB\x01\x01" + msgpack.packb([2, "c", "b", 7, 1, "", value])
        packets.append(head + KEYS.signing_key().digest(head))
    core = _core()
    for i, data in enumerate(packets):
        core.handle(PacketReceived("eth0", data, ("10.0.0.2", 694), 1.0 + i))
    assert core.counters["rx.packets"] == len(packets)
    rejected = sum(v for k, v in core.counters.items() if k.startswith("rejected."))
    assert rejected + core.counters["rx.accepted"] == len(packets)
