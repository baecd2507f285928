"""stonithd.api messages in the one IPC envelope, peer frames, and the history store."""

from __future__ import annotations

import msgpack
import pytest

from messaging.envelope import Kind, decode, encode
from messaging.errors import RemoteProtocolError
from stonithd import api
from stonithd.history import MAX_ENTRIES, TRIM_TO, History

SAMPLES = [
    api.FenceRequest("n1", "off", 30.0, 5.0, -1.0, "me"),
    api.ConfirmRequest("n2"), api.ListDevicesRequest("n1", 3), api.ListRegisteredRequest(),
    api.HistoryRequest("*"), api.DeviceActionRequest("d1", "list", 9.5),
    api.FenceResult("o-1", "n1", "reboot", True, "n2", "c", "n3", "d1", "", 0, 17.5),
    api.DeviceList(("a", "b")),
    api.HistoryReply((api.HistoryEntry("o-1", "n1", "off", "n2", "c"),
                      api.HistoryEntry("o-2", "n1", "on", "n2", "c", "n3", "done", 4.0))),
    api.DeviceActionResult("d1", "list", True, "", "", ("p1", "p2")),
    api.QueryCapable("o-1", "n1", "n2", "reboot"),
    api.CapableReply("o-1", "n3", ("d1",)),
    api.ExecuteFence("o-1", "n1", "d1", "n2", "reboot", 20.0, 0.0, True),
    api.DeviceResult("o-1", "n3", "d1", False, "boom"),
    api.HistoryRequest("n1", cleanup=True, broadcast=True), api.HistoryPull("s", "n1", "n2"),
    api.HistoryPush("s", "n2", (api.HistoryEntry("o-1", "n1", "off", "n2", "c"),)),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: api.Message) -> None:
    assert decode(api.API, encode(api.API, Kind.REQUEST, 1, message)).message == message


def _frame(tag: str, body: list[object], version: int = 1) -> bytes:
    return msgpack.packb([version, "request", 1, tag, body])  # type: ignore[no-any-return]


def test_integer_seconds_become_floats_and_newer_fields_are_ignored() -> None:
    decoded = decode(api.API, _frame("FenceRequest", ["n1", "off", 5, 0, 0, "me", "newer"]))
    assert decoded.message == api.FenceRequest("n1", "off", 5.0, 0.0, 0.0, "me")
    assert isinstance(decoded.message.timeout, float)


@pytest.mark.parametrize(("payload", "message"), [
    (b"\xc1garbage", "undecodable"),
    (msgpack.packb([1, 2]), "not an IPC envelope"),
    (msgpack.packb({"v": 1, "t": "HistoryRequest", "b": {}}), "not an IPC envelope"),
    (_frame("HistoryRequest", [], version=2), "version 2 unsupported"),
    (_frame("Pickle", []), "unknown message type"),
    (_frame("FenceRequest", [3]), "expected str"),
    (_frame("FenceRequest", []), "lacks field 'target'"),
    (_frame("DeviceList", ["abc"]), "expected list"),
    (_frame("FenceResult", ["x", "n", "off", 1, "n"]), "expected bool"),
])
def test_bad_messages_raise_remote_protocol_error(payload: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        decode(api.API, payload)


def test_peer_frames_carry_only_peer_messages() -> None:
    query = api.QueryCapable("o-1", "n1", "n2", "reboot")
    assert api.open_peer_frame(api.peer_frame(query)) == query
    with pytest.raises(RemoteProtocolError, match="not a fencer peer message"):
        api.open_peer_frame(api.peer_frame(api.FenceRequest("n1")))
    with pytest.raises(RemoteProtocolError):
        api.open_peer_frame(encode(api.API, Kind.REQUEST, 1, query))


def test_history_replaces_by_id_orders_newest_first_and_trims() -> None:
    history = History()
    history.record(api.HistoryEntry("a", "n1", "off", "o", "c"))
    history.record(api.HistoryEntry("b", "n2", "off", "o", "c", "x", api.OpState.DONE, 5.0))
    history.record(api.HistoryEntry("a", "n1", "off", "o", "c", "x", api.OpState.FAILED, 6.0))
    assert [e.op_id for e in history.for_target("*")] == ["a", "b"]
    assert history.for_target("n1")[0].state == api.OpState.FAILED
    assert history.last_success("n2") is not None and history.last_success("n1") is None
    for i in range(MAX_ENTRIES - 2):  # 2 + 498 = 500: still everything kept
        history.record(api.HistoryEntry(f"x{i}", "n3", "off", "o", "c"))
    assert len(history) == MAX_ENTRIES and history.get("a") is not None
    history.record(api.HistoryEntry("last", "n3", "off", "o", "c"))
    assert len(history) == TRIM_TO
    assert history.get("a") is None and history.get("last") is not None
