"""stonithd's public surface: the messages it accepts and emits, its protocol, a client.

Every message is a frozen dataclass registered (by class name) in `API`, a
`messaging.envelope` protocol, so it travels in the one IPC envelope, validated field by
field (unknown trailing fields are ignored, as everywhere). Three families:

* client requests (`FenceRequest`, `ConfirmRequest`, `ListDevicesRequest`,
  `ListRegisteredRequest`, `HistoryRequest`, `DeviceActionRequest`) and their replies
  (`FenceResult`, `DeviceList`, `HistoryReply`, `DeviceActionResult`); a refused request
  is an error reply (`messaging.errors.ErrorReply`), raised by the client;
* fencer-to-fencer messages (`QueryCapable`, `CapableReply`, `ExecuteFence`, `DeviceResult`,
  `HistoryPull`/`HistoryPush`, `FencerHello`, and `FenceResult` again, broadcast so every
  node keeps the same history), carried as event frames (`peer_frame`) in a heartbeat
  payload or, with --peer, in a `PeerDelivery` request;
* `FenceResult` is also published on the event socket under topic `fence`.

The request socket also serves the lrmd's `messaging.handoff.StonithExecRequest`.
Other packages import only this module.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from messaging.config import default_state_dir
from messaging.envelope import Kind, decode, encode, protocol
from messaging.errors import PeerUnreachable, RemoteProtocolError
from messaging.handoff import STONITHD_SOCKET, StonithExecRequest, StonithExecResult

FENCE_TOPIC = "fence"
FENCE_ACTIONS = ("reboot", "off", "on")
DEVICE_ACTIONS = ("list", "monitor", "status")
UNREGISTER = "stop"  # the lrmd stopped the device's resource here: no longer verified
EVENTS_SOCKET = "stonithd-events.sock"
ENDPOINT_ENV = "HACLUSTER_STONITHD"


class OpState:
    """History entry states (strings on the wire)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FenceRequest:
    """Fence `target` (reboot, off or on) on behalf of `client`."""

    target: str
    action: str = "reboot"
    timeout: float = 120.0
    tolerance: float = 0.0
    delay: float = 0.0  # extra seconds before fencing; -1 disables device delays
    client: str = "stonith_admin"


@dataclass(frozen=True, slots=True)
class ConfirmRequest:
    """A human confirms that `target` is safely down (manual fencing acknowledgement)."""

    target: str
    client: str = "stonith_admin"


@dataclass(frozen=True, slots=True)
class ListDevicesRequest:
    """Which devices, on any node, can fence `target`."""

    target: str
    timeout: float = 120.0


@dataclass(frozen=True, slots=True)
class ListRegisteredRequest:
    """Which devices this node's fencer can run."""


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """Fencing history for `target` ('*' for every node); `cleanup` first forgets the
    completed operations for it (pending ones stay)."""

    target: str = "*"
    cleanup: bool = False
    broadcast: bool = False  # first merge in every reachable fencer's history


@dataclass(frozen=True, slots=True)
class DeviceActionRequest:
    """Run a non-fencing action (list, monitor, status) of one local device."""

    device: str
    action: str = "monitor"
    timeout: float = 120.0


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One fencing operation as every fencer remembers it."""

    op_id: str
    target: str
    action: str
    origin: str
    client: str
    executioner: str = ""
    state: str = OpState.PENDING
    completed: float = 0.0  # wall-clock seconds; 0 while pending
    reason: str = ""
    device: str = ""


@dataclass(frozen=True, slots=True)
class FenceResult:
    """How a fencing operation ended (also its broadcast to all fencers)."""

    op_id: str
    target: str
    action: str
    ok: bool
    origin: str
    client: str = ""
    executioner: str = ""
    device: str = ""
    reason: str = ""
    exit_code: int = 0
    completed: float = 0.0


@dataclass(frozen=True, slots=True)
class DeviceList:
    devices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryReply:
    entries: tuple[HistoryEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceActionResult:
    device: str
    action: str
    ok: bool
    reason: str = ""
    output: str = ""
    ports: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueryCapable:
    """Origin to every fencer: which of your devices can fence `target`?"""

    op_id: str
    origin: str
    target: str
    action: str


@dataclass(frozen=True, slots=True)
class CapableReply:
    """A fencer's answer to `QueryCapable`: its devices that can fence the target, and of
    those the `verified` ones: a list, monitor or status of the device succeeded on that
    fencer (Pacemaker's "verified" flag: in a cluster, where the device's resource runs)."""

    op_id: str
    node: str
    devices: tuple[str, ...] = ()
    verified: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExecuteFence:
    """Origin to the chosen executor: run `device` against `target`."""

    op_id: str
    origin: str
    device: str
    target: str
    action: str
    timeout: float
    delay: float = 0.0  # requested extra delay; -1 disables device delays
    first: bool = True  # device delays apply only to the first device of an operation
    expires: float = 0.0  # origin's wall clock after which the request must not run (0: never)


@dataclass(frozen=True, slots=True)
class HistoryPull:
    """Origin to every fencer: send me your history for `target` ('*' = all)."""

    sync_id: str
    origin: str
    target: str = "*"


@dataclass(frozen=True, slots=True)
class HistoryPush:
    sync_id: str
    node: str
    entries: tuple[HistoryEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceResult:
    op_id: str
    node: str
    device: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FencerHello:
    """A fencer announcing itself to the others (heartbeat transport); `answer`: reply
    with your own hello (sent by a fencer that starts or sees new members)."""

    node: str
    answer: bool = True


@dataclass(frozen=True, slots=True)
class PeerDelivery:
    """A fencer-to-fencer message over zmq (--peer): `message` is the event frame of one
    peer message; `sender` names the fencer it comes from. Answered with `Delivered`."""

    sender: str
    message: bytes


@dataclass(frozen=True, slots=True)
class Delivered:
    """Reply to PeerDelivery: the message was handed to the fencer."""


Message = (FenceRequest | ConfirmRequest | ListDevicesRequest | ListRegisteredRequest
           | HistoryRequest | DeviceActionRequest | HistoryEntry | FenceResult | DeviceList
           | HistoryReply | DeviceActionResult | QueryCapable | CapableReply
           | ExecuteFence | DeviceResult | HistoryPull | HistoryPush | FencerHello
           | PeerDelivery | Delivered)
PEER_MESSAGES = (QueryCapable, CapableReply, ExecuteFence, DeviceResult, HistoryPull,
                 HistoryPush, FenceResult, FencerHello)

API = protocol("stonithd")
for _cls in typing.get_args(Message):
    API.register(_cls.__name__)(_cls)
# the lrmd hand-off arrives on the same socket, with the tags of messaging.handoff
API.register("stonith_exec_request")(StonithExecRequest)
API.register("stonith_exec_result")(StonithExecResult)


def peer_frame(message: Message) -> bytes:
    """The bytes of a fencer-to-fencer message (an event frame of `API`)."""
    return encode(API, Kind.EVENT, 0, message)


def open_peer_frame(data: bytes) -> Message:
    """Parse `peer_frame` bytes; RemoteProtocolError unless it is a peer message."""
    envelope = decode(API, data)
    if envelope.kind is not Kind.EVENT or not isinstance(envelope.message, PEER_MESSAGES):
        raise RemoteProtocolError(f"not a fencer peer message: {type(envelope.message).__name__}")
    message: Message = envelope.message
    return message


def endpoint_in(state_dir: str | Path) -> str:
    """The request endpoint of the fencer whose sockets are in `state_dir`."""
    return f"ipc://{Path(state_dir) / STONITHD_SOCKET}"


def events_endpoint_in(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / EVENTS_SOCKET}"


def default_endpoint() -> str:
    """The local fencer's request endpoint: $HACLUSTER_STONITHD, else the socket in the
    node's state directory (`messaging.config.default_state_dir`)."""
    return os.environ.get(ENDPOINT_ENV) or endpoint_in(default_state_dir())


_ACTION_WORDS = {"reboot": "reboot", "off": "turning off", "on": "unfencing"}
_STATE_WORDS = {OpState.DONE: "successful", OpState.FAILED: "failed",
                OpState.PENDING: "pending"}


def later_success(index: int, newest_first: Sequence[HistoryEntry]) -> str | None:
    """Who succeeded later at what `newest_first[index]` (a failure) tried: a successful
    entry listed before it, same target (any case) and action, completed after it; its
    executioner preferred when the same node, else the first one found ("some node" when
    it names none). Pacemaker's `stonith__later_succeeded`."""
    failed, other = newest_first[index], None
    for newer in newest_first[:index]:
        if newer.state != OpState.DONE or newer.action != failed.action \
                or newer.target.casefold() != failed.target.casefold() \
                or newer.completed <= failed.completed:
            continue
        if not failed.executioner \
                or failed.executioner.casefold() == (newer.executioner or "").casefold():
            return newer.executioner or None
        if other is None:
            other = newer.executioner or "some node"
    return other


def describe_event(entry: HistoryEntry, full_history: bool = True,
                   later_succeeded: str | None = None) -> str:
    """Pacemaker's one-line description of a fencing operation (stonith_admin --history,
    crm_mon's fencing sections): "reboot of n3 by n1 for client@origin successful at
    <UTC time>"; without `full_history` (crm_mon reduced to the latest of each kind) the
    state reads "last failed" / "last successful"; a failure that a later attempt made
    good ends "(a later attempt from NODE succeeded)" (`later_success`)."""
    import time

    text = f"{_ACTION_WORDS.get(entry.action, entry.action)} of {entry.target}"
    if entry.state != OpState.PENDING and entry.executioner:
        text += f" by {entry.executioner}"
    text += f" for {entry.client}@{entry.origin}" + ("" if full_history else " last")
    text += f" {_STATE_WORDS.get(entry.state, entry.state)}"
    if entry.state == OpState.FAILED and entry.reason:
        text += f" ({entry.reason})"
    if entry.state != OpState.PENDING:
        text += f" at {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(entry.completed))}"
    if entry.state == OpState.FAILED and later_succeeded:
        text += f" (a later attempt from {later_succeeded} succeeded)"
    return text


def installed_fence_agents() -> list[str]:
    """The fence agents (fence_* executables) this node can run, sorted (stonith_admin
    --list-installed, crm_resource --list-agents stonith)."""
    from stonithd.runner import default_agent_dirs

    names: set[str] = set()
    for directory in default_agent_dirs():
        path = Path(directory)
        if path.is_dir():
            names |= {p.name for p in path.glob("fence_*")
                      if p.is_file() and os.access(p, os.X_OK)}
    return sorted(names)


def fence_agent_metadata(agent: str, timeout: float = 30.0) -> str:
    """A fence agent's meta-data XML, run here (NotFoundError: no such agent; FencingError:
    it ran but gave none)."""
    from messaging.errors import FencingError
    from stonithd.runner import default_agent_dirs, find_agent, run_agent_sync

    output = run_agent_sync(find_agent(agent, default_agent_dirs()), [("action", "metadata")],
                            timeout)
    if output.rc != 0 or not output.stdout.strip():
        raise FencingError(f"Can't get fence agent meta-data: {output.error or output.stderr}")
    return output.stdout


class StonithClient:
    """A blocking client of the local fencer (`messaging.client.Client`); an error reply
    is raised as the HAError it names (NotFoundError: no such device, ...)."""

    def __init__(self, endpoint: str | None = None) -> None:
        from messaging.client import Client  # keep `import stonithd.api` light

        self.endpoint = endpoint or default_endpoint()
        if self.endpoint.startswith("ipc://") and not os.path.exists(self.endpoint[6:]):
            raise PeerUnreachable(f"Could not connect to fencer: no socket at {self.endpoint}")
        self._client = Client(self.endpoint, API)

    def call(self, message: Message, timeout: float) -> Message:
        """Send one request and wait up to `timeout` seconds for its reply.

        Raises:
            PeerTimeout: no reply in time.  HAError: the fencer refused the request.
        """
        reply: Message = self._client.request(message, timeout)
        return reply

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> StonithClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The pure core and its glue, for simulators (lab.sim) that drive it like the service does.
# Resolved lazily: stonithd.core imports this module for the messages.
_CORE_EXPORTS = {
    "AgentFinished": "stonithd.executor", "ClientRequest": "stonithd.events",
    "ConfigChanged": "stonithd.events", "Fencer": "stonithd.core",
    "FencingConfig": "stonithd.devices", "Outcome": "stonithd.results",
    "PeerMessage": "stonithd.events", "PeerSet": "stonithd.membership",
    "PeersChanged": "stonithd.events", "RunAgent": "stonithd.executor",
    "load_config": "stonithd.devices",
}


def __getattr__(name: str) -> typing.Any:
    module = _CORE_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
