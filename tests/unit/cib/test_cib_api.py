"""cib.api's frames: peer messages and replies keep their CIB versions typed, and anything
else is refused as a protocol error."""

from __future__ import annotations

import pytest

from cib.api import API, CibDiff, CibReply, open_peer_frame, peer_frame
from cib.model import Version
from cib.replication_messages import Diff, WriteResult
from messaging.codec import pack
from messaging.envelope import CIB_MAX_FRAME, IPC_VERSION, Kind, decode, encode
from messaging.errors import RemoteProtocolError


def test_peer_messages_keep_their_version_type() -> None:
    message = WriteResult(4, "n2:7", 0, "OK", Version(0, 12, 3))
    opened = open_peer_frame(peer_frame(message))
    assert opened == message and isinstance(opened.version, Version)  # type: ignore[attr-defined]


def test_a_client_event_is_not_a_peer_message() -> None:
    with pytest.raises(RemoteProtocolError, match="not a cib peer message"):
        open_peer_frame(peer_frame(CibDiff("<diff/>", Version(0, 1, 0))))


def test_a_version_of_the_wrong_length_is_refused() -> None:
    frame = pack([IPC_VERSION, "event", 0, "peer_diff", [3, "<diff/>", "abc", [0, 1]]])
    with pytest.raises(RemoteProtocolError):
        open_peer_frame(frame)
    assert isinstance(open_peer_frame(peer_frame(Diff(3, "<d/>", "abc", Version(0, 1, 0)))),
                      Diff)


def test_reply_round_trip_with_optional_version() -> None:
    for reply in (CibReply(0, "OK", "<cib/>", (), Version(1, 2, 3)),
                  CibReply(105, "gone", reason="No such device or address")):
        data = encode(API, Kind.REPLY, 9, reply)
        assert decode(API, data, CIB_MAX_FRAME).message == reply
