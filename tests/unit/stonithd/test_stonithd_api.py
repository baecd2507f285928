"""stonithd.api wire codec and the history store."""

from __future__ import annotations

import msgpack
import pytest

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
    api.ErrorReply(105, "No such device"), api.QueryCapable("o-1", "n1", "n2", "reboot"),
    api.CapableReply("o-1", "n3", ("d1",)),
    api.ExecuteFence("o-1", "n1", "d1", "n2", "reboot", 20.0, 0.0, True),
    api.DeviceResult("o-1", "n3", "d1", False, "boom"),
    api.HistoryRequest("n1", cleanup=True, broadcast=True), api.HistoryPull("s", "n1", "n2"),
    api.HistoryPush("s", "n2", (api.HistoryEntry("o-1", "n1", "off", "n2", "c"),)),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: api.Message) -> None:
    assert api.decode(api.encode(message)) == message


def test_integer_seconds_become_floats() -> None:
    raw = msgpack.packb({"v": 1, "t": "FenceRequest", "b": {"target": "n1", "timeout": 5}})
    decoded = api.decode(raw)
    assert isinstance(decoded, api.FenceRequest) and decoded.timeout == 5.0


@pytest.mark.parametrize(("payload", "message"), [
    (b"\xc1garbage", "undecodable"),
    (msgpack.packb([1, 2]), "not a stonithd envelope"),
    (msgpack.packb({"v": 2, "t": "HistoryRequest", "b": {}}), "wire version"),
    (msgpack.packb({"v": 1, "t": "Pickle", "b": {}}), "unknown message type"),
    (msgpack.packb({"v": 1, "t": "FenceRequest", "b": {"target": 3}}), "wrong type"),
    (msgpack.packb({"v": 1, "t": "FenceRequest", "b": {"target": "n", "evil": 1}}),
     "unknown fields"),
    (msgpack.packb({"v": 1, "t": "FenceRequest", "b": {}}), "FenceRequest"),
    (msgpack.packb({"v": 1, "t": "DeviceList", "b": {"devices": "abc"}}), "must be a list"),
    (msgpack.packb({"v": 1, "t": "FenceResult", "b": {"op_id": "x", "target": "n",
                                                     "action": "off", "ok": 1, "origin": "n"}}),
     "wrong type"),
])
def test_bad_messages_raise_remote_protocol_error(payload: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        api.decode(payload)


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
