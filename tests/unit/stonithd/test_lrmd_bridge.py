"""stonith-class operations from the lrmd map to fencer device actions and back to OCF results
(Pacemaker's executor/fencer split: the fencer owns the device, the executor only forwards)."""

from __future__ import annotations

from messaging.envelope import Kind, decode, encode
from messaging.errors import ErrorReply, NotFoundError
from messaging.handoff import HANDOFF, StonithExecRequest
from messaging.types import OcfRc, OpStatus
from stonithd.api import API, DeviceActionRequest, DeviceActionResult
from stonithd.lrmd_bridge import translate_reply, translate_request


def _request(action: str) -> StonithExecRequest:
    return StonithExecRequest(7, "fence-n1", "fence_hacluster_dummy", action,
                              {"pcmk_host_list": "n1"}, 20000)


def test_start_and_monitor_become_a_device_monitor() -> None:
    for action in ("start", "monitor"):
        translated = translate_request(_request(action))
        assert translated == DeviceActionRequest("fence-n1", "monitor", 20.0)


def test_stop_unregisters_the_device_and_succeeds() -> None:
    assert translate_request(_request("stop")) == DeviceActionRequest("fence-n1", "stop", 20.0)
    done = translate_reply(_request("stop"), DeviceActionResult("fence-n1", "stop", True))
    assert (done.rc, done.status, done.call_id) == (0, OpStatus.DONE, 7)


def test_unsupported_action_is_unimplemented() -> None:
    result = translate_request(_request("promote"))
    assert not isinstance(result, DeviceActionRequest)
    assert result.rc == OcfRc.ERR_UNIMPLEMENTED and result.status == OpStatus.NOT_SUPPORTED


def test_device_answer_maps_to_rc() -> None:
    ok = translate_reply(_request("monitor"), DeviceActionResult("fence-n1", "monitor", True))
    assert ok.rc == OcfRc.SUCCESS
    failed = translate_reply(_request("start"),
                             DeviceActionResult("fence-n1", "monitor", False, "agent said no"))
    assert failed.rc == OcfRc.ERR_GENERIC and failed.exit_reason == "agent said no"


def test_unknown_device_is_not_running_for_monitor_and_not_configured_for_start() -> None:
    missing = ErrorReply.of(NotFoundError("No such device: fence-n1"))
    monitor = translate_reply(_request("monitor"), missing)
    start = translate_reply(_request("start"), missing)
    assert monitor.rc == OcfRc.NOT_RUNNING and monitor.status == OpStatus.DONE
    assert start.rc == OcfRc.ERR_CONFIGURED and start.status == OpStatus.ERROR_HARD


def test_hand_off_travels_between_the_lrmd_and_stonithd_protocols() -> None:
    request = _request("monitor")
    assert decode(API, encode(HANDOFF, Kind.REQUEST, 3, request)).message == request
    result = translate_reply(request, DeviceActionResult("fence-n1", "monitor", True))
    assert decode(HANDOFF, encode(API, Kind.REPLY, 3, result)).message == result
