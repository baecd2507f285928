"""zmq IPC between the daemons of one node: endpoints, permissions, the one server.

Every daemon binds ``ipc://`` sockets inside the node's state directory
(`messaging.config.DEFAULT_STATE_DIR` unless ha.cf or --state-dir say otherwise). A bound
socket file gets mode 0660 and group ``haclient`` when that group exists, so only cluster
daemons and administrators can talk to a daemon. Frames are `messaging.envelope` envelopes.

`Server` is the one request server (a zmq ROUTER, so no client can put it in a state where
it cannot answer the next one: Heartbeat's REP sockets wedged on one multi-frame request).
For every request it receives it answers, or drops it and keeps serving:

- more than one body frame, or an oversized, undecodable, wrongly versioned or unknown
  request -> an ``error`` frame (`ErrorReply`, a RemoteProtocolError) with the request id
  when it could be read, else 0; a frame beyond ``max_frame`` makes zmq drop the peer;
- `Ping` -> `Pong` from the server itself;
- anything else -> the daemon's `on_request(message, Client(token))`, which returns a reply
  (sent at once) or None (the core answers later with `Send(Client(token), ...)`, carried
  out by `Server.send`). An HAError it raises becomes an error frame; any other exception
  is logged and answered as an InternalError.

The server remembers who sent each unanswered request: `Server.peer(client)` is the local
client's uid, gid and pid as the kernel gave them to libzmq (SO_PEERCRED on the ipc
socket; None for other transports), so a daemon can grant some requests to some users
only (the cib's writes).

The first message sent to a token is its reply (or error); later ones reach the same
client as ``event`` frames with the request's id (lrmd's OpCompleted after ExecAccepted).
`Publisher` sends ``event`` frames on a PUB socket, one topic frame first.
Foreign exceptions (zmq.ZMQError) are translated here into `TransportError`s.
"""

from __future__ import annotations

import contextlib
import grp
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from messaging.codec import Registry
from messaging.effects import Client
from messaging.envelope import (
    DEFAULT_MAX_FRAME,
    Kind,
    Ping,
    Pong,
    encode,
    open_header,
    parse_header,
)
from messaging.errors import (
    ErrorReply,
    HAError,
    LocalProtocolError,
    PeerTimeout,
    RemoteProtocolError,
    TransportError,
)
from messaging.zmtp import endpoint_path

CLUSTER_GROUP = "haclient"
SOCKET_MODE = 0o660
MAX_UNANSWERED = 10_000  # tokens remembered for a later reply before the oldest is forgotten
RequestHandler = Callable[[Any, Client], Any]

TYPE_CHECKING = False  # typing.TYPE_CHECKING; the servers load asyncio and zmq.asyncio when
if TYPE_CHECKING:       # built, so a blocking client (cibadmin) importing helpers does not
    import zmq.asyncio

    from messaging.fd_reader import FdReader


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """Who is at the other end of a local (ipc) connection."""

    uid: int
    gid: int
    pid: int


def peer_credentials(frame: zmq.Frame) -> PeerCredentials | None:
    """The credentials libzmq attached to a received ipc frame ("Peer-Address" is
    ``host:uid:gid:pid`` there), or None (another transport, or libzmq without them)."""
    try:
        address = frame.get("Peer-Address")
    except (zmq.ZMQError, ValueError, TypeError):
        return None
    parts = str(address).split(":")
    if len(parts) != 4 or not all(part.isdigit() for part in parts[1:]):
        return None
    return PeerCredentials(int(parts[1]), int(parts[2]), int(parts[3]))


def cluster_gid() -> int | None:
    """The gid of group haclient, or None when the group does not exist."""
    try:
        return grp.getgrnam(CLUSTER_GROUP).gr_gid
    except KeyError:
        return None


def ipc_endpoint(state_dir: str | Path, name: str) -> str:
    """The endpoint of socket `name` in a node's state directory."""
    return f"ipc://{Path(state_dir) / name}"


def prepare_state_dir(state_dir: str | Path) -> Path:
    """Create the state directory (0750, group haclient if present) and return it."""
    path = Path(state_dir)
    path.mkdir(parents=True, exist_ok=True, mode=0o750)
    gid = cluster_gid()
    if gid is not None and os.geteuid() == 0:
        os.chown(path, -1, gid)
    return path


def secure_endpoint(endpoint: str) -> None:
    """Give a freshly bound ipc:// socket file mode 0660 and group haclient."""
    path = endpoint_path(endpoint)
    if path is None:
        return
    os.chmod(path, SOCKET_MODE)
    gid = cluster_gid()
    if gid is not None and os.geteuid() == 0:
        os.chown(path, -1, gid)


@contextlib.contextmanager
def translated(endpoint: str) -> Iterator[None]:
    """Turn zmq errors at the I/O edge into our TransportError tree."""
    try:
        yield
    except zmq.Again:
        raise PeerTimeout(f"{endpoint}: no answer in time") from None
    except zmq.ZMQError as error:
        raise TransportError(f"{endpoint}: {error}") from None


def bind(sock: zmq.Socket[Any] | zmq.asyncio.Socket, endpoint: str) -> None:
    """Bind `sock` to `endpoint`, replacing a stale socket file, and secure it."""
    path = endpoint_path(endpoint)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    umask = os.umask(0o117)  # the socket file never exists with wider permissions
    try:
        with translated(endpoint):
            sock.bind(endpoint)
    finally:
        os.umask(umask)
    secure_endpoint(endpoint)


def unlink_endpoint(endpoint: str) -> None:
    path = endpoint_path(endpoint)
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


class Server:
    """The one IPC request server of a daemon (see the module docstring)."""

    def __init__(self, endpoint: str, registry: Registry, on_request: RequestHandler, *,
                 daemon: str, max_frame: int = DEFAULT_MAX_FRAME, log: Any = None,
                 context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.on_request = on_request
        self.daemon = daemon
        self.max_frame = max_frame
        self.log = log
        self.rejected = 0
        import zmq.asyncio

        self._context = context or zmq.asyncio.Context.instance()
        self._socket: zmq.Socket[Any] | None = None
        self._reader: FdReader | None = None
        self._unanswered: OrderedDict[str, None] = OrderedDict()
        self._peers: dict[str, PeerCredentials] = {}  # of unanswered tokens only

    def bind(self) -> None:
        from messaging.fd_reader import FdReader

        # A plain socket read through its descriptor (messaging.fd_reader), in the shared
        # asyncio context: zmq.asyncio's per-message futures were a tenth of a daemon's CPU.
        sock: zmq.Socket[Any] = zmq.Socket(self._context, zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_frame + 1024)  # envelope slack
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)  # a vanished client is not an error
        bind(sock, self.endpoint)
        self._socket = sock
        self._reader = FdReader(sock)

    async def serve(self) -> None:
        """Answer requests until cancelled (binds first if needed)."""
        if self._socket is None:
            self.bind()
        assert self._reader is not None
        while True:
            received = await self._reader.recv_multipart(copy=False)
            if received is None:
                continue
            try:
                self.receive([frame.bytes for frame in received],
                             peer_credentials(received[-1]))
            except Exception as error:  # never let one request stop the server
                self._log("error", "ipc_server_bug", error=repr(error))

    def receive(self, frames: list[bytes], peer: PeerCredentials | None = None) -> None:
        """Handle one multipart message from the ROUTER socket (sent by `peer`)."""
        identity, rest = frames[0], frames[1:]
        delimited = bool(rest) and rest[0] == b""
        body = rest[1:] if delimited else rest
        token = f"{identity.hex()}.0.{int(delimited)}"
        if len(body) != 1:
            self._reject(token, f"expected one frame, got {len(body)}")
            return
        try:
            header = parse_header(body[0], self.max_frame)
        except RemoteProtocolError as error:
            self._reject(token, str(error))
            return
        token = f"{identity.hex()}.{header.request_id}.{int(delimited)}"
        try:
            if header.kind is not Kind.REQUEST and header.kind is not Kind.NOTICE:
                raise RemoteProtocolError(f"a server takes requests, not {header.kind.value}s")
            message = open_header(self.registry, header).message
        except RemoteProtocolError as error:
            if header.kind is Kind.NOTICE:  # nobody waits for an answer
                self._log("warning", "ipc_notice_rejected", reason=str(error))
            else:
                self._reject(token, str(error))
            return
        if header.kind is Kind.NOTICE:
            self._notice(message, Client(token))
            return
        if peer is not None:
            self._peers[token] = peer
        self._dispatch(message, Client(token))

    def peer(self, client: Client) -> PeerCredentials | None:
        """Who sent `client`'s request, while it is unanswered (None when not known)."""
        return self._peers.get(client.token)

    def _dispatch(self, message: Any, client: Client) -> None:
        self._unanswered[client.token] = None
        if len(self._unanswered) > MAX_UNANSWERED:
            forgotten, _ = self._unanswered.popitem(last=False)
            self._peers.pop(forgotten, None)
        if isinstance(message, Ping):
            self.send(client, Pong(self.daemon, os.getpid()))
            return
        try:
            reply = self.on_request(message, client)
        except HAError as error:
            reply = ErrorReply.of(error)
        except Exception as error:  # a bug of ours answers InternalError, and is logged
            self._log("error", "request_failed", request=type(message).__name__,
                      error=repr(error))
            reply = ErrorReply.of(error)
        if reply is not None:
            self.send(client, reply)

    def _notice(self, message: Any, client: Client) -> None:
        """A request whose sender wants no answer: handled as any, its reply dropped; a
        failure is logged here, the only place that learns of it."""
        try:
            self.on_request(message, client)
        except HAError as error:
            self._log("warning", "ipc_notice_failed", request=type(message).__name__,
                      error=str(error))
        except Exception as error:  # a bug of ours
            self._log("error", "request_failed", request=type(message).__name__,
                      error=repr(error))

    def _reject(self, token: str, reason: str) -> None:
        self.rejected += 1
        self._log("warning", "ipc_request_rejected", reason=reason)
        self._unanswered[token] = None
        self.send(Client(token), ErrorReply.of(RemoteProtocolError(reason)))

    def send(self, client: Client, message: Any) -> bool:
        """Reply to `client`'s request, or push an event to it after the reply.

        Returns False when the frame could not be queued (socket closed or full)."""
        identity_hex, request_id, delimited = client.token.split(".")
        if client.token in self._unanswered:
            del self._unanswered[client.token]
            self._peers.pop(client.token, None)
            kind = Kind.ERROR if isinstance(message, ErrorReply) else Kind.REPLY
        else:
            kind = Kind.EVENT
        data = encode(self.registry, kind, int(request_id), message)
        if len(data) > self.max_frame:
            raise LocalProtocolError(f"{type(message).__name__} of {len(data)} bytes exceeds "
                                     f"the {self.max_frame}-byte frame limit")
        frames = [bytes.fromhex(identity_hex), *([b""] if delimited == "1" else []), data]
        if self._socket is None or self._socket.closed:
            return False
        try:
            self._socket.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.ZMQError:
            return False
        finally:
            if self._reader is not None:
                self._reader.sent()
        return True

    def _log(self, level: str, event: str, **fields: Any) -> None:
        if self.log is not None:
            getattr(self.log, level)(event, endpoint=self.endpoint, **fields)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()  # closes the socket too
            self._reader = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
            unlink_endpoint(self.endpoint)


class Publisher:
    """A PUB socket sending `event` frames: ``[topic, envelope]``."""

    def __init__(self, endpoint: str, registry: Registry, *, high_water: int = 1000,
                 max_frame: int = DEFAULT_MAX_FRAME,
                 context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.max_frame = max_frame
        import zmq.asyncio

        # A plain socket: a non-blocking send needs no zmq.asyncio future per event.
        self._socket: zmq.Socket[Any] = zmq.Socket(context or zmq.asyncio.Context.instance(),
                                                   zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDHWM, high_water)
        self._bound = False

    def bind(self) -> None:
        bind(self._socket, self.endpoint)
        self._bound = True

    def publish(self, topic: str, event: Any) -> None:
        """Send `event` to subscribers of `topic`; slow subscribers lose events, never us."""
        data = encode(self.registry, Kind.EVENT, 0, event)
        if len(data) > self.max_frame:
            raise LocalProtocolError(f"{type(event).__name__} of {len(data)} bytes exceeds "
                                     f"the {self.max_frame}-byte frame limit")
        if not self._bound:
            return
        with contextlib.suppress(zmq.ZMQError):
            self._socket.send_multipart([topic.encode(), data], flags=zmq.NOBLOCK)

    def close(self) -> None:
        if not self._socket.closed:
            self._socket.close(linger=0)
            if self._bound:
                unlink_endpoint(self.endpoint)


async def serve_forever(*servers: Server) -> None:
    """Run several servers' loops together until cancelled."""
    import asyncio

    await asyncio.gather(*(server.serve() for server in servers))
