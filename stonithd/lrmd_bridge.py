"""How stonith-class resource operations handed over by the lrmd become fencer work.

In Pacemaker the executor does not run fence agents for `stonith:` primitives: it asks the
fencer, which owns the device. Here the lrmd sends `messaging.handoff.StonithExecRequest`
to stonithd's request socket and expects a `StonithExecResult` back. This module is the
pure translation both ways:

* start and monitor (any interval) -> a `DeviceActionRequest(monitor)` on the device named
  by the resource id: the device must be configured in the CIB and its agent must answer;
* stop -> a `DeviceActionRequest(stop)`: the fencer forgets that the device was verified
  on this node (Pacemaker's executor unregisters the device, `stonith_device_remove`
  clears `verified`; the CIB registration stays), so another fencer where the resource
  now runs is preferred as executor; it answers at once, even for an unknown device;
* anything else -> rc 3 (unimplemented), as Pacemaker's fencer answers.

A device missing from the CIB answers a monitor with rc 7 (not running) and a start with
rc 6 (not configured), so the scheduler sees a definite state, never a hang.
"""

from __future__ import annotations

from messaging.errors import ErrorReply
from messaging.handoff import StonithExecRequest, StonithExecResult
from messaging.types import OcfRc, OpStatus
from stonithd.api import UNREGISTER, DeviceActionRequest, DeviceActionResult

MONITOR_LIKE = frozenset({"start", "monitor"})


def translate_request(request: StonithExecRequest) -> DeviceActionRequest | StonithExecResult:
    """The fencer request for an lrmd hand-off, or the immediate result when none is needed."""
    if request.action in MONITOR_LIKE:
        return DeviceActionRequest(request.resource, "monitor", request.timeout_ms / 1000.0)
    if request.action == UNREGISTER:
        return DeviceActionRequest(request.resource, UNREGISTER, request.timeout_ms / 1000.0)
    return _completed(request, OcfRc.ERR_UNIMPLEMENTED, OpStatus.NOT_SUPPORTED,
                      f"stonith resources do not support {request.action!r}")


def translate_reply(request: StonithExecRequest,
                    reply: DeviceActionResult | ErrorReply) -> StonithExecResult:
    """The lrmd's result for the fencer's answer to a translated request."""
    if isinstance(reply, DeviceActionResult):
        if reply.ok:
            return _completed(request, OcfRc.SUCCESS, OpStatus.DONE)
        return _completed(request, OcfRc.ERR_GENERIC, OpStatus.ERROR, reply.reason)
    missing = request.action == "monitor"
    rc = OcfRc.NOT_RUNNING if missing else OcfRc.ERR_CONFIGURED
    status = OpStatus.DONE if missing else OpStatus.ERROR_HARD
    return _completed(request, rc, status, reply.message)


def _completed(request: StonithExecRequest, rc: OcfRc, status: OpStatus,
               reason: str = "") -> StonithExecResult:
    return StonithExecResult(request.call_id, int(rc), int(status), reason)
