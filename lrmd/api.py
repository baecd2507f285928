"""The lrmd's public surface: typed messages, their msgpack wire form and a small client.

Other packages (crmd, the CLI, tests) import only this module. Messages are frozen slotted
dataclasses; each travels as msgpack ``[2, [<class name>, [fields...]]]`` through the shared
typed codec (`messaging.codec`), which checks every field against its type hint. An unknown
tag, a wrong version or a malformed body raises `RemoteProtocolError` and is never
half-decoded. Conversation on the control socket (zmq ROUTER at ``<state_dir>/lrmd.ctl``):

* `ExecRequest` -> `ExecAccepted(call_id)` at once, then (when ``reply=True``) the first
  `OpCompleted` for that call id on the same connection. Every result also goes to the PUB
  socket (``lrmd.pub``, topic ``op``) under the recurring-monitor reporting rule.
* `CancelRequest` -> `Ack`;  `HistoryRequest` -> `HistoryReply`;  `MetadataRequest` ->
  `MetadataReply`;  `ListRequest` -> `ListReply`;  anything wrong -> `ErrorReply`.

`StonithExecRequest` is what the lrmd hands to stonithd for ``stonith:`` class resources.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import zmq

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
    ErrorReply,
    ExecAccepted,
    ExecRequest,
    HistoryReply,
    HistoryRequest,
    ListReply,
    ListRequest,
    MetadataReply,
    MetadataRequest,
    OpCompleted,
    StonithExecRequest,
)
from messaging.codec import Registry, pack, unpack
from messaging.errors import (
    ExitCode,
    HAError,
    LocalProtocolError,
    PeerTimeout,
    PeerUnreachable,
    RemoteProtocolError,
)

WIRE_VERSION = 2  # 2: messaging.codec field lists (1 was name-keyed maps)
CONTROL_SOCKET = "lrmd.ctl"
PUBLISH_SOCKET = "lrmd.pub"
STONITHD_SOCKET = "stonithd.sock"  # stonithd's request socket in the shared state dir
OP_TOPIC = b"op"

__all__ = [
    "CONTROL_SOCKET",
    "DEFAULT_TIMEOUT_MS",
    "OP_TOPIC",
    "PUBLISH_SOCKET",
    "STONITHD_SOCKET",
    "Ack",
    "AgentSpec",
    "CancelRequest",
    "ErrorReply",
    "ExecAccepted",
    "ExecRequest",
    "HistoryReply",
    "HistoryRequest",
    "ListReply",
    "ListRequest",
    "LrmdClient",
    "MetadataReply",
    "MetadataRequest",
    "OpCompleted",
    "StonithExecRequest",
    "decode",
    "encode",
    "execute_direct",
    "installed_agents",
    "lrm_resource_element",
    "lrm_rsc_op_attributes",
    "lrm_rsc_op_element",
    "op_digest",
    "reload_and_secure_attributes",
]


_MESSAGES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ExecRequest,
        ExecAccepted,
        CancelRequest,
        OpCompleted,
        HistoryRequest,
        HistoryReply,
        MetadataRequest,
        MetadataReply,
        ListRequest,
        ListReply,
        Ack,
        ErrorReply,
        StonithExecRequest,
    )
}
_REGISTRY = Registry("lrmd")
for _name, _cls in _MESSAGES.items():
    _REGISTRY.register(_name)(_cls)


def encode(message: Any) -> bytes:
    """The wire bytes of one message: ``[WIRE_VERSION, [type name, fields]]`` in msgpack."""
    try:
        return pack([WIRE_VERSION, _REGISTRY.to_wire(message)])
    except LocalProtocolError as error:
        raise TypeError(f"{type(message).__name__} is not an lrmd message") from error


def decode(data: bytes) -> Any:
    """Decode wire bytes into a message, every field checked against its type.

    Raises:
        RemoteProtocolError: not msgpack, wrong version, unknown type or bad body.
    """
    envelope = unpack(data)
    if not isinstance(envelope, list) or len(envelope) != 2 or envelope[0] != WIRE_VERSION:
        raise RemoteProtocolError("lrmd message without a supported version")
    return _REGISTRY.from_wire(envelope[1])


class LrmdClient:
    """A blocking client of one node's lrmd over its control socket."""

    def __init__(self, state_dir: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        self.path = Path(state_dir) / CONTROL_SOCKET
        self.timeout = timeout
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.IDENTITY, uuid.uuid4().bytes)
        self._socket.connect(f"ipc://{self.path}")

    def close(self) -> None:
        self._socket.close(0)

    def __enter__(self) -> LrmdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_running(self) -> bool:
        """True when a daemon answers a small request within the timeout."""
        if not self.path.exists():
            return False
        try:
            self.request(ListRequest(), timeout=min(self.timeout, 2.0))
        except (PeerTimeout, PeerUnreachable):
            return False
        return True

    def send(self, message: Any) -> None:
        self._socket.send_multipart([b"", encode(message)])

    def receive(self, timeout: float | None = None) -> Any:
        """The next message from the daemon; `ErrorReply` is raised as an error."""
        wait = self.timeout if timeout is None else timeout
        if not self._socket.poll(int(wait * 1000)):
            raise PeerTimeout(f"{self.path}: lrmd did not answer within {wait:.1f} s")
        frames = self._socket.recv_multipart()
        reply = decode(frames[-1])
        if isinstance(reply, ErrorReply):
            raise _error_for(reply)
        return reply

    def request(self, message: Any, timeout: float | None = None) -> Any:
        if not self.path.exists():
            raise PeerUnreachable(f"{self.path}: no lrmd control socket")
        self.send(message)
        return self.receive(timeout)

    def execute(self, request: ExecRequest, *, wait_slack: float = 10.0) -> OpCompleted:
        """Submit `request` and wait for its first result."""
        accepted = self.request(request)
        if not isinstance(accepted, ExecAccepted):
            raise RemoteProtocolError(f"expected ExecAccepted, got {type(accepted).__name__}")
        deadline = time.monotonic() + request.timeout_ms / 1000 + wait_slack
        while True:
            result = self.receive(max(0.0, deadline - time.monotonic()))
            if isinstance(result, OpCompleted) and result.call_id == accepted.call_id:
                return result


def _error_for(reply: ErrorReply) -> Exception:
    error = HAError(reply.message)
    error.exit_code = (
        ExitCode(reply.code) if reply.code in ExitCode._value2member_map_ else (ExitCode.ERROR)
    )
    return error


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
