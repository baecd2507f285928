"""stonith-class operations from the lrmd map to fencer device actions and back to OCF results
(Pacemaker's executor/fencer split: the fencer owns the device, the executor only forwards)."""

from __future__ import annotations

from lrmd.api import StonithExecRequest, decode, encode
from messaging.types import OcfRc, OpStatus
from stonithd.api import DeviceActionRequest, DeviceActionResult, ErrorReply
from stonithd.lrmd_bridge import translate_reply, translate_request


def _request(action: str) -> StonithExecRequest:
    return StonithExecRequest(7, "fence-n1", "fence_hacluster_dummy", action,
                              {"pcmk_host_list": "n1"}, 20000)


def test_start_and_monitor_become_a_device_monitor() -> None:
    for action in ("start", "monitor"):
        translated = translate_request(_request(action))
        assert translated == DeviceActionRequest("fence-n1", "monitor", 20.0)


def test_stop_completes_at_once_successfully() -> None:
    result = translate_request(_request("stop"))
    assert not isinstance(result, DeviceActionRequest)
    assert (result.rc, result.status, result.call_id) == (0, OpStatus.DONE, 7)
    assert result.agent.standard == "stonith" and result.agent.type == "fence_hacluster_dummy"


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
    missing = ErrorReply(105, "No such device: fence-n1")
    monitor = translate_reply(_request("monitor"), missing)
    start = translate_reply(_request("start"), missing)
    assert monitor.rc == OcfRc.NOT_RUNNING and monitor.status == OpStatus.DONE
    assert start.rc == OcfRc.ERR_CONFIGURED and start.status == OpStatus.ERROR_HARD


def test_results_travel_on_the_lrmd_wire() -> None:
    result = translate_reply(_request("monitor"), DeviceActionResult("fence-n1", "monitor", True))
    assert decode(encode(result)) == result
