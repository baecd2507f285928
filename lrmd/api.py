"""The lrmd's public surface: typed messages, its IPC protocol and a small client.

Other packages (crmd, the CLI, tests) import only this module. Messages are frozen slotted
dataclasses registered (by class name) in `API`, a `messaging.envelope` protocol, so they
travel in the one IPC envelope with every field checked against its type hint.
Conversation on the control socket (`messaging.ipc.Server` at ``<state_dir>/lrmd.ctl``):

* `ExecRequest` -> `ExecAccepted(call_id)` at once; then (when ``reply=True``) the first
  `OpCompleted` for that call id is pushed to the same client as an event frame. Every
  result also goes to the PUB socket (``lrmd.pub``, topic ``op``) under the
  recurring-monitor reporting rule.
* `CancelRequest` -> `Ack`;  `HistoryRequest` -> `HistoryReply`;  `MetadataRequest` ->
  `MetadataReply`;  `ListRequest` -> `ListReply`;  Ping -> Pong;  anything wrong -> an
  error reply, raised by the client as the HAError it names.

``stonith:`` class operations are handed to stonithd (`messaging.handoff`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lrmd.history import (
    lrm_resource_element,
    lrm_rsc_op_attributes,
    lrm_rsc_op_element,
    op_digest,
    reload_and_secure_attributes,
)
from lrmd.messages import (
    DEFAULT_TIMEOUT_MS,
    Ack,
    AgentSpec,
    CancelRequest,
    ExecAccepted,
    ExecRequest,
    HistoryReply,
    HistoryRequest,
    ListReply,
    ListRequest,
    MetadataReply,
    MetadataRequest,
    OpCompleted,
)

# The pure core, for simulators (lab.sim) that drive it like the service does.
from lrmd.ops import AgentFinished as CoreAgentFinished
from lrmd.ops import Cancel as CoreCancel
from lrmd.ops import KillProcessGroup, LrmdCore, Submit
from lrmd.ops import RunAgent as CoreRunAgent
from messaging.envelope import protocol
from messaging.errors import PeerTimeout, PeerUnreachable, RemoteProtocolError

CONTROL_SOCKET = "lrmd.ctl"
PUBLISH_SOCKET = "lrmd.pub"
OP_TOPIC = "op"

__all__ = [
    "API",
    "CONTROL_SOCKET",
    "DEFAULT_TIMEOUT_MS",
    "OP_TOPIC",
    "PUBLISH_SOCKET",
    "Ack",
    "AgentSpec",
    "CancelRequest",
    "CoreAgentFinished",
    "CoreCancel",
    "CoreRunAgent",
    "ExecAccepted",
    "ExecRequest",
    "HistoryReply",
    "HistoryRequest",
    "KillProcessGroup",
    "ListReply",
    "ListRequest",
    "LrmdClient",
    "LrmdCore",
    "MetadataReply",
    "MetadataRequest",
    "OpCompleted",
    "Submit",
    "agent_metadata",
    "execute_direct",
    "installed_agents",
    "lrm_resource_element",
    "lrm_rsc_op_attributes",
    "lrm_rsc_op_element",
    "lsb_scripts",
    "ocf_agents",
    "op_digest",
    "reload_and_secure_attributes",
]


API = protocol("lrmd")
for _cls in (ExecRequest, ExecAccepted, CancelRequest, OpCompleted, HistoryRequest,
             HistoryReply, MetadataRequest, MetadataReply, ListRequest, ListReply, Ack):
    API.register(_cls.__name__)(_cls)


class LrmdClient:
    """A blocking client of one node's lrmd over its control socket."""

    def __init__(self, state_dir: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        from messaging.client import Client

        self.path = Path(state_dir) / CONTROL_SOCKET
        self.timeout = timeout
        self._client = Client(f"ipc://{self.path}", API, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LrmdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_running(self) -> bool:
        """True when a daemon answers Ping within the timeout."""
        if not self.path.exists():
            return False
        try:
            self._client.ping(min(self.timeout, 2.0))
        except (PeerTimeout, PeerUnreachable):
            return False
        return True

    def request(self, message: Any, timeout: float | None = None) -> Any:
        """Send one request and return its reply; an error reply is raised."""
        if not self.path.exists():
            raise PeerUnreachable(f"{self.path}: no lrmd control socket")
        return self._client.request(message, timeout)

    def execute(self, request: ExecRequest, *, wait_slack: float = 10.0) -> OpCompleted:
        """Submit `request` and wait for its first result."""
        accepted = self.request(request)
        if not isinstance(accepted, ExecAccepted):
            raise RemoteProtocolError(f"expected ExecAccepted, got {type(accepted).__name__}")
        deadline = time.monotonic() + request.timeout_ms / 1000 + wait_slack
        while True:
            result = self._client.next_event(max(0.0, deadline - time.monotonic()))
            if isinstance(result, OpCompleted) and result.call_id == accepted.call_id:
                return result


def execute_direct(request: ExecRequest, state_dir: str | os.PathLike[str] | None = None
                   ) -> OpCompleted:
    """Run one request with the lrmd's core and runner in this process (no daemon).

    For tools that debug an agent outside the cluster (crm_resource --force-*).
    """
    import asyncio
    import tempfile

    from lrmd.cli import run_direct

    if state_dir is None:
        with tempfile.TemporaryDirectory(prefix="hacluster-force-") as scratch:
            return asyncio.run(run_direct(request, Path(scratch)))
    return asyncio.run(run_direct(request, Path(state_dir)))


def installed_agents() -> list[str]:
    """Every agent this node can run, as class:provider:type / lsb:name (for completion)."""
    from lrmd.agents import list_agents, lsb_dir, ocf_roots

    return sorted(str(spec) for spec in list_agents(ocf_roots(), lsb_dir()))


def ocf_agents() -> dict[str, list[str]]:
    """Installed OCF agents by provider ({provider: [type, ...]}, each sorted as bytes, as
    Pacemaker lists them); a provider found in several OCF roots is taken from the first."""
    from lrmd.agents import list_agents, ocf_roots

    found: dict[str, list[str]] = {}
    for spec in list_agents(ocf_roots(), Path("/nonexistent")):
        found.setdefault(spec.provider, []).append(spec.type)
    return {provider: sorted(found[provider]) for provider in sorted(found)}


def lsb_scripts() -> list[str]:
    """Installed LSB init scripts (lsb:NAME agents), sorted."""
    from lrmd.agents import list_agents, lsb_dir

    return sorted(spec.type for spec in list_agents([], lsb_dir()))


def agent_metadata(agent: AgentSpec) -> str:
    """An ocf or lsb agent's meta-data XML, run here as the lrmd runs it (no daemon needed).

    Raises:
        AgentExecError: the agent is not installed; HAError: its meta-data call failed.
    """
    import asyncio

    from lrmd.runner import SubprocessRunner
    from lrmd.service import metadata

    return asyncio.run(metadata(SubprocessRunner(), agent, {}))
