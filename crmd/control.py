"""crmd's control socket: what `crmadmin -D/-S` and `hacluster crm status` ask a controller.

Socket ``ipc://<state_dir>/crmd.ctl`` (`messaging.ipc.Server`, `messaging.envelope` frames):
`StatusRequest` -> `ControllerStatus` (this node's FSA state, the DC it knows, its
membership and the DC's transition state; with `node` naming another node, that node's
controller is asked over the crmd peer channel and its answer relayed, as Pacemaker's
crmadmin -S reaches any node's controller through the cluster), `StopRequest` ->
`ControllerStatus` after the controller was asked to shut this node down cleanly
(Pacemaker's shutdown request: the DC moves the node's resources away, then stops it), plus
the built-in Ping.

Field order of every dataclass is part of the wire contract: only append fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messaging.envelope import protocol
from messaging.errors import PeerUnreachable, RemoteProtocolError

API = protocol("crmd")
CONTROL_SOCKET = "crmd.ctl"


def ctl_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / CONTROL_SOCKET}"


@API.register("status_request")
@dataclass(frozen=True, slots=True)
class StatusRequest:
    """Ask one controller how it is: this one, or the controller of `node`."""

    node: str = ""


@API.register("stop_request")
@dataclass(frozen=True, slots=True)
class StopRequest:
    """Ask this node's controller for a clean shutdown of the node."""


@API.register("controller_status")
@dataclass(frozen=True, slots=True)
class ControllerStatus:
    """One controller's answer. `transition` is the DC's engine: "idle" when no graph
    runs, "running" while one does ("" on other nodes); `transition_id` counts scheduler
    runs of this DC."""

    node: str
    state: str
    dc: str
    members: tuple[str, ...]
    quorate: bool
    transition: str
    transition_id: int
    cib_version: tuple[int, int, int]
    started: float

    @property
    def is_dc(self) -> bool:
        return self.dc == self.node

    @property
    def idle_dc(self) -> bool:
        """This node is the DC and has nothing left to do (Pacemaker's S_IDLE)."""
        return self.is_dc and self.state == "S_IDLE"

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "state": self.state, "dc": self.dc or None,
                "members": list(self.members), "quorate": self.quorate,
                "transition": self.transition, "transition_id": self.transition_id,
                "cib_version": list(self.cib_version), "started": self.started}


def query_status(state_dir: str | Path, timeout: float = 2.0, node: str = ""
                 ) -> ControllerStatus:
    """Ask the controller whose socket is in `state_dir` (with `node`: ask it to ask
    `node`'s controller).

    Raises:
        PeerUnreachable: no controller runs there.  PeerTimeout: it (or `node`'s) did not
        answer.
    """
    return _ask(state_dir, StatusRequest(node), timeout)


def request_stop(state_dir: str | Path, timeout: float = 2.0) -> ControllerStatus:
    """Ask the controller in `state_dir` to shut its node down cleanly."""
    return _ask(state_dir, StopRequest(), timeout)


def _ask(state_dir: str | Path, message: object, timeout: float) -> ControllerStatus:
    from messaging.client import Client

    if not (Path(state_dir) / CONTROL_SOCKET).exists():
        raise PeerUnreachable(f"crmd is not running (no {CONTROL_SOCKET} in {state_dir})")
    with Client(ctl_address(state_dir), API, timeout=timeout) as client:
        reply = client.request(message)
    if not isinstance(reply, ControllerStatus):
        raise RemoteProtocolError(f"crmd answered with {type(reply).__name__}")
    return reply


__all__ = ["API", "CONTROL_SOCKET", "ControllerStatus", "StatusRequest", "StopRequest",
           "ctl_address", "query_status", "request_stop"]
