"""Property: every IPC and wire message survives encode/decode unchanged, whatever the
strings, bytes and numbers in it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.auth import AuthKey, KeyRing
from messaging.heartbeat.api import (
    IPC,
    LinkState,
    MessageReceived,
    NodeInfo,
    NodeState,
    NodeStatusChanged,
    NodeTable,
    SendMessage,
)
from messaging.wire import Data, Envelope, Status, open_datagram, seal

names = st.text(min_size=1, max_size=20)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
links = st.dictionaries(names, st.sampled_from(list(LinkState)), max_size=3)
times = st.floats(allow_nan=False, allow_infinity=False)

ipc_messages = st.one_of(
    st.builds(NodeStatusChanged, names, st.sampled_from(list(NodeState)), links, u32, times),
    st.builds(MessageReceived, names, names, st.binary(max_size=200), u32, st.booleans()),
    st.builds(SendMessage, names, names, st.binary(max_size=200)),
    st.builds(NodeTable, names, names,
              st.lists(st.builds(NodeInfo, names, st.sampled_from(list(NodeState)), links,
                                 u32, st.none() | times), max_size=4).map(tuple),
              st.dictionaries(names, u32, max_size=4), times),
)


@settings(max_examples=200, deadline=None)
@given(ipc_messages)
def test_ipc_round_trip(message: object) -> None:
    assert IPC.decode(IPC.encode(message)) == message


KEY = AuthKey(1, "sha1", b"k")


@settings(max_examples=200, deadline=None)
@given(names, names, u32, u32, st.sampled_from(["", "n1"]),
       st.one_of(st.builds(Status, u32, u32),
                 st.builds(Data, u32, names, st.binary(max_size=300), st.booleans())))
def test_wire_round_trip(cluster: str, src: str, generation: int, seq: int, dst: str,
                         message: object) -> None:
    envelope = Envelope(cluster, src, generation, seq, dst, message)
    assert open_datagram(seal(envelope, KEY), KeyRing(1, (KEY,))) == envelope
