"""The lrmd -> stonithd hand-off of ``stonith:`` class resource operations.

In Pacemaker the executor does not run fence agents for `stonith:` primitives: it asks the
fencer, which owns the device. The lrmd sends `StonithExecRequest` to stonithd's request
socket (``<state_dir>/stonithd.sock``, `messaging.envelope` frames) and gets a
`StonithExecResult` (an OCF rc and an lrmd OpStatus) or an error reply. The contract lives
here because the daemons are independent packages: neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messaging.envelope import protocol

STONITHD_SOCKET = "stonithd.sock"
DEFAULT_TIMEOUT_MS = 20_000

HANDOFF = protocol("stonith-handoff")


@HANDOFF.register("stonith_exec_request")
@dataclass(frozen=True, slots=True)
class StonithExecRequest:
    """Run `action` (start, stop, monitor) of the stonith resource `resource`."""

    call_id: int
    resource: str
    agent: str
    action: str
    params: dict[str, str] = field(default_factory=dict)
    timeout_ms: int = DEFAULT_TIMEOUT_MS


@HANDOFF.register("stonith_exec_result")
@dataclass(frozen=True, slots=True)
class StonithExecResult:
    """How a handed-over operation ended: an OCF rc and an lrmd OpStatus value."""

    call_id: int
    rc: int
    status: int
    exit_reason: str = ""
    output: str = ""


__all__ = ["HANDOFF", "STONITHD_SOCKET", "StonithExecRequest", "StonithExecResult"]
