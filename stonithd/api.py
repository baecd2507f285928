"""stonithd's public surface: the messages it accepts and emits, their wire form, a client.

Three families of frozen messages travel as msgpack envelopes
`{"v": WIRE_VERSION, "t": <type tag>, "b": {field: value}}`:

* client requests (`FenceRequest`, `ConfirmRequest`, `ListDevicesRequest`,
  `ListRegisteredRequest`, `HistoryRequest`, `DeviceActionRequest`) and their replies
  (`FenceResult`, `DeviceList`, `HistoryReply`, `DeviceActionResult`, `ErrorReply`);
* fencer-to-fencer messages (`QueryCapable`, `CapableReply`, `ExecuteFence`, `DeviceResult`,
  `HistoryPull`/`HistoryPush`, and `FenceResult` again, broadcast so every node keeps the
  same history);
* `FenceResult` is also published on the event socket under topic `fence`.

`decode` rejects unknown tags, wrong versions and wrongly typed fields with
`RemoteProtocolError`; nothing is ever unpickled. Other packages import only this module.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass
from typing import Any

import msgpack

from messaging.errors import (
    ExitCode,
    HAError,
    PeerTimeout,
    RemoteProtocolError,
    TransportError,
)

WIRE_VERSION = 1
FENCE_TOPIC = "fence"
FENCE_ACTIONS = ("reboot", "off", "on")
DEVICE_ACTIONS = ("list", "monitor", "status")
DEFAULT_ENDPOINT = "ipc:///run/hacluster/stonithd.sock"
LAUNCHER_ENDPOINT = "ipc:///var/lib/hacluster/stonithd.sock"  # ha.cf's default state_dir
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
class ErrorReply:
    """The request could not even start; `exit_code` is a messaging.errors.ExitCode value."""

    exit_code: int
    message: str


@dataclass(frozen=True, slots=True)
class QueryCapable:
    """Origin to every fencer: which of your devices can fence `target`?"""

    op_id: str
    origin: str
    target: str
    action: str


@dataclass(frozen=True, slots=True)
class CapableReply:
    op_id: str
    node: str
    devices: tuple[str, ...] = ()


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


Message = (FenceRequest | ConfirmRequest | ListDevicesRequest | ListRegisteredRequest
           | HistoryRequest | DeviceActionRequest | HistoryEntry | FenceResult | DeviceList
           | HistoryReply | DeviceActionResult | ErrorReply | QueryCapable | CapableReply
           | ExecuteFence | DeviceResult | HistoryPull | HistoryPush | FencerHello)
_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Message)}


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _to_wire(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_to_wire(v) for v in value]
    return value


def _check(name: str, hint: Any, value: Any) -> Any:
    """Convert a wire value to the annotated type or raise RemoteProtocolError."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise RemoteProtocolError(f"field {name!r} must be a list")
        return tuple(_check(name, item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_body(hint, value)
    if origin in (types.UnionType, typing.Union):
        hint = typing.get_args(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise RemoteProtocolError(f"field {name!r} has the wrong type {type(value).__name__}")
    return value


def _from_body(cls: type[Any], body: Any) -> Any:
    if not isinstance(body, dict):
        raise RemoteProtocolError(f"{cls.__name__} body is not a map")
    hints = _hints(cls)
    unknown = set(body) - set(hints)
    if unknown:
        raise RemoteProtocolError(f"{cls.__name__} has unknown fields {sorted(unknown)}")
    try:
        return cls(**{k: _check(k, hints[k], v) for k, v in body.items()})
    except TypeError as error:
        raise RemoteProtocolError(f"{cls.__name__}: {error}") from None


def encode(message: Message) -> bytes:
    """The msgpack envelope for `message`."""
    data: bytes = msgpack.packb({"v": WIRE_VERSION, "t": type(message).__name__,
                                 "b": _to_wire(message)}, use_bin_type=True)
    return data


def decode(data: bytes) -> Message:
    """Parse an envelope; anything unexpected raises RemoteProtocolError."""
    try:
        envelope = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException) as error:
        raise RemoteProtocolError(f"undecodable message: {error}") from None
    if not isinstance(envelope, dict) or envelope.get("v") != WIRE_VERSION:
        raise RemoteProtocolError("message is not a stonithd envelope of wire version 1")
    cls = _TYPES.get(str(envelope.get("t")))
    if cls is None:
        raise RemoteProtocolError(f"unknown message type {envelope.get('t')!r}")
    result: Message = _from_body(cls, envelope.get("b"))
    return result


def default_endpoint() -> str:
    """The local fencer's request endpoint: $HACLUSTER_STONITHD, else the standard socket,
    else the socket in the launcher's default state directory when only that one exists."""
    explicit = os.environ.get(ENDPOINT_ENV)
    if explicit:
        return explicit
    for endpoint in (DEFAULT_ENDPOINT, LAUNCHER_ENDPOINT):
        if os.path.exists(endpoint.removeprefix("ipc://")):
            return endpoint
    return DEFAULT_ENDPOINT


class FencerError(HAError):
    """The fencer answered with an ErrorReply."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.message)
        self.exit_code = ExitCode(reply.exit_code)


class StonithClient:
    """A blocking client of the local fencer (one DEALER socket)."""

    def __init__(self, endpoint: str | None = None) -> None:
        import zmq  # a client-only dependency: keep `import stonithd.api` light

        self.endpoint = endpoint or default_endpoint()
        if self.endpoint.startswith("ipc://") and not os.path.exists(self.endpoint[6:]):
            raise TransportError(f"Could not connect to fencer: no socket at {self.endpoint}")
        context: Any = zmq.Context.instance()
        self._socket: Any = context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(self.endpoint)

    def call(self, message: Message, timeout: float) -> Message:
        """Send one request and wait up to `timeout` seconds for its reply.

        Raises:
            PeerTimeout: no reply in time.  FencerError: the fencer refused the request.
        """
        self._socket.send_multipart([b"", encode(message)])
        if not self._socket.poll(int(timeout * 1000)):
            raise PeerTimeout(f"no reply from the fencer at {self.endpoint} within {timeout:g}s")
        frames = self._socket.recv_multipart()
        reply = decode(frames[-1])
        if isinstance(reply, ErrorReply):
            raise FencerError(reply)
        return reply

    def close(self) -> None:
        self._socket.close(0)

    def __enter__(self) -> StonithClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The pure core and its glue, for simulators (lab.sim) that drive it like the service does.
# Resolved lazily: stonithd.core imports this module for the messages.
_CORE_EXPORTS = {
    "AgentFinished": "stonithd.executor", "ClientRequest": "stonithd.core",
    "ConfigChanged": "stonithd.core", "Fencer": "stonithd.core",
    "FencingConfig": "stonithd.devices", "Outcome": "stonithd.results",
    "PeerMessage": "stonithd.core", "PeerSet": "stonithd.membership",
    "PeersChanged": "stonithd.core", "Reply": "stonithd.executor",
    "RunAgent": "stonithd.executor", "load_config": "stonithd.devices",
}

if typing.TYPE_CHECKING:
    pass


def __getattr__(name: str) -> Any:
    module = _CORE_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
