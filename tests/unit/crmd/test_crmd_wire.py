"""Peer messages survive the wire unchanged; garbage is refused with RemoteProtocolError."""

from __future__ import annotations

import msgpack
import pytest

from crmd.control import ControllerStatus
from crmd.messages import (
    ActionResult,
    ControllerAlive,
    ControllerStarted,
    Credentials,
    DcClaim,
    ExecuteClusterAction,
    ExecuteResourceAction,
    JoinAckNack,
    JoinAnnounce,
    JoinConfirm,
    JoinOffer,
    JoinRequest,
    LrmdLost,
    NoVote,
    PeerMessage,
    ShutdownRequested,
    StatusAnswer,
    StatusQuery,
    Vote,
)
from crmd.wire import PEER_MESSAGES, WIRE_VERSION, decode, encode
from messaging.errors import RemoteProtocolError
from pengine.api import GraphAction, GraphResource

CREDS = Credentials("alpha", "3.16.2", 1700000000.5)
ACTION = GraphAction(id=7, kind="rsc_op", operation="start", operation_key="r_start_0",
                     on_node="beta", on_node_uuid="2",
                     resource=GraphResource("r", "r:0", "ocf", "heartbeat", "Dummy"),
                     attributes=(("CRM_meta_timeout", "20000"), ("ip", "10.0.0.1")))
SAMPLES = [
    Vote(3, CREDS), NoVote(3, "alpha"), DcClaim(CREDS), ControllerStarted(CREDS),
    JoinAnnounce("beta"), JoinOffer(2, "alpha", "3.16.2"), JoinRequest(2, "beta", (0, 5, 9),
                                                                       "3.16.2"),
    JoinAckNack(2, True), JoinConfirm(2, "beta", '<node_state id="2"/>'),
    ExecuteResourceAction("beta", "7:1:0:" + "1".ljust(36), ACTION),
    ExecuteClusterAction("beta", "8:1:0:" + "1".ljust(36), ACTION),
    ActionResult("7:1:0:1", "beta", 0, 0, 12.5, 0, "", 1700000001.0, "r", "start"),
    ShutdownRequested("beta", 3.0, 1700000002.0),
    ControllerAlive(CREDS), StatusQuery(4), LrmdLost("beta"),
    StatusAnswer(4, ControllerStatus("beta", "S_NOT_DC", "alpha", ("alpha", "beta"), True, "",
                                     0, (0, 5, 9), 1700000000.5)),
]


def test_every_peer_message_type_has_a_sample() -> None:
    assert {type(m) for m in SAMPLES} == set(PEER_MESSAGES)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: object) -> None:
    assert decode(encode(message)) == message


def test_events_do_not_travel() -> None:
    with pytest.raises(TypeError):
        encode(PeerMessage("alpha", Vote(1, CREDS), 0.0))


@pytest.mark.parametrize("data", [
    b"\xc1", msgpack.packb([WIRE_VERSION + 1, ["Vote", [1, ["a", "3", 1.0]]]]),
    msgpack.packb([WIRE_VERSION, ["Nope", []]]),
    msgpack.packb([WIRE_VERSION, ["Vote", ["one", ["a", "3", 1.0]]]]),
    msgpack.packb([WIRE_VERSION, ["JoinRequest", [1, "b", [0, 1], "3.16.2"]]]),
])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(data)
