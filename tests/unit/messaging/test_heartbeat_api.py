"""The heartbeat IPC contract round-trips through msgpack and rejects malformed messages."""

from __future__ import annotations

import msgpack
import pytest

from messaging.errors import RemoteProtocolError
from messaging.heartbeat.api import (
    IPC,
    Ack,
    Counters,
    LinkState,
    MessageReceived,
    NodeInfo,
    NodeState,
    NodeStatusChanged,
    NodeTable,
    QueryNodes,
    SendMessage,
    ctl_endpoint,
    pub_endpoint,
)


def test_events_round_trip() -> None:
    events = [
        NodeStatusChanged("n2", NodeState.LATE, {"eth0": LinkState.UP, "eth1": LinkState.DEAD},
                          7, 12.5),
        MessageReceived("n1", "ccm", b"\x00\xffpayload", 3, False),
        NodeTable("n1", "c1", (NodeInfo("n1", NodeState.UP, {}, 3, 1.0),
                               NodeInfo("n2", NodeState.DEAD, {"eth0": LinkState.DEAD}, 0, None)),
                  {"rx": 5}, 9.0),
        SendMessage("*", "ccm", b"x"), QueryNodes(), Counters({"tx": 1}), Ack(),
    ]
    for event in events:
        back = IPC.decode(IPC.encode(event))
        assert back == event
        assert type(back) is type(event)
    table = events[2]
    assert isinstance(table, NodeTable)
    assert table.status_of("n2") is NodeState.DEAD
    assert table.status_of("n9") is None


def test_endpoints_live_in_state_dir() -> None:
    assert pub_endpoint("/var/lib/hac") == "ipc:///var/lib/hac/heartbeat.pub"
    assert ctl_endpoint("/var/lib/hac") == "ipc:///var/lib/hac/heartbeat.ctl"


@pytest.mark.parametrize(
    "raw",
    [
        msgpack.packb(["nope", []]),
        msgpack.packb(["node_status_changed", ["n2", "sleepy", {}, 1, 1.0]]),
        msgpack.packb(["node_status_changed", ["n2", "up", {}, "1", 1.0]]),
        msgpack.packb(["node_status_changed", ["n2", "up", {}, True, 1.0]]),
        msgpack.packb(["send_message", ["*", "ccm"]]),
        msgpack.packb(["message_received", ["a", "b", "not-bytes"]]),
        msgpack.packb([1]),
        b"\xc1\xc1garbage",
        b"",
    ],
)
def test_malformed_messages_are_remote_protocol_errors(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        IPC.decode(raw)


def test_public_surface_is_pinned() -> None:
    import dataclasses

    from messaging.heartbeat import api
    from messaging.record import Record

    assert {name for name in api.__all__ if not hasattr(api, name)} == set()
    # Field order is wire contract: changing it breaks running daemons of other versions.
    fields = {cls.__name__: list(cls.__fields__) if issubclass(cls, Record)
              else [f.name for f in dataclasses.fields(cls)]
              for cls in api.IPC.classes().values()}
    assert fields == {
        "NodeStatusChanged": ["node", "status", "links", "generation", "now"],
        "MessageReceived": ["src", "channel", "payload", "generation", "broadcast"],
        "NodeTable": ["local", "cluster", "nodes", "counters", "now"],
        "SendMessage": ["dst", "channel", "payload"],
        "QueryNodes": [], "QueryCounters": [], "Counters": ["counters"], "Ack": ["ok"],
        "Ping": [], "Pong": ["daemon", "pid"], "ErrorReply": ["error", "exit_code", "message",
                                                               "reports"],
    }
