"""The cib daemon's IPC protocol and `CibClient`, the one way other packages reach the cib.

Sockets (one node, inside its state directory; `messaging.envelope` frames, frames up to
`CIB_MAX_FRAME` because whole CIBs travel):

- ``ipc://<state_dir>/cib.ctl`` (`messaging.ipc.Server`): `Query` and `Write` -> `CibReply`
  (exit code, message, printed output, version), plus the built-in Ping. A query is answered
  from this node's replica; a write goes to the master (`cib.replication`) and is answered
  once it is on the master's disk and every replica of the view confirmed it.
- ``ipc://<state_dir>/cib.pub`` (`messaging.ipc.Publisher`, topic `DIFF_TOPIC`): one
  `CibDiff` (Pacemaker's v2 patchset as XML text, and the version after it) per change this
  node's copy took, in order; a whole-CIB resync is published as a diff from the old copy.

Peer messages between cib daemons (heartbeat channel `PEER_CHANNEL`) are event frames of
the same protocol (`peer_frame`). A frame larger than `BULK_THRESHOLD` (a whole CIB, a
large diff) travels instead as a `messaging.bulk.Offer` over heartbeat and is fetched over
the direct signed path (`messaging.bulk`); the receiver handles the fetched frame exactly
as if heartbeat had carried it, in the sender's order. Field order of every message is part
of the wire contract: only append fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cib.model import Version
from cib.replication_messages import (
    Announce,
    Applied,
    AskAnnounce,
    Diff,
    DiffBatch,
    FetchCib,
    Forward,
    FullCib,
    WireRequest,
    WriteResult,
)
from cib.request import Op, Request
from messaging.bulk import Offer
from messaging.envelope import CIB_MAX_FRAME, Kind, decode, encode, protocol
from messaging.errors import PeerUnreachable, RemoteProtocolError

API = protocol("cib")
CTL_SOCKET = "cib.ctl"
PUB_SOCKET = "cib.pub"
DIFF_TOPIC = "cib.diff"
PEER_CHANNEL = "cib"
DEFAULT_TIMEOUT = 30.0
BULK_THRESHOLD = 32 << 10  # heartbeat fragments above a few KB; its stream is for control


def ctl_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / CTL_SOCKET}"


def pub_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / PUB_SOCKET}"


@API.register("query")
@dataclass(frozen=True, slots=True)
class Query:
    """A read-only request (cibadmin -Q with its -o, -A, -n, -e)."""

    scope: str | None = None
    xpath: str | None = None
    no_children: bool = False
    node_path: bool = False


@API.register("write")
@dataclass(frozen=True, slots=True)
class Write:
    """A change, as `cib.replication_messages.WireRequest` carries it between nodes."""

    request: WireRequest


@API.register("reply")
@dataclass(frozen=True, slots=True)
class CibReply:
    """The answer to Query or Write: Pacemaker's exit code and what cibadmin prints."""

    exit_code: int
    message: str
    output: str | None = None
    paths: tuple[str, ...] = ()
    version: Version | None = None
    reason: str = ""  # Pacemaker's short text of a failure ("Call failed: <reason>")


@API.register("cib_diff")
@dataclass(frozen=True, slots=True)
class CibDiff:
    """A change this node's CIB took: the v2 patchset (XML text) and the version after it."""

    patch: str
    version: Version


PEER_MESSAGES = (Forward, WriteResult, Diff, Applied, Announce, AskAnnounce, FetchCib,
                 FullCib, DiffBatch)
for _message in PEER_MESSAGES:
    API.register(f"peer_{_message.__name__.lower()}")(_message)
API.register("peer_bulk_offer")(Offer)


def query_of(request: Request) -> Query:
    return Query(request.scope, request.xpath, request.no_children, request.node_path)


def request_of(query: Query) -> Request:
    return Request(Op.QUERY, scope=query.scope, xpath=query.xpath,
                   no_children=query.no_children, node_path=query.node_path)


def peer_frame(message: object) -> bytes:
    """The bytes of a cib-to-cib message (an event frame of `API`)."""
    return encode(API, Kind.EVENT, 0, message)


def open_peer_frame(data: bytes) -> object:
    """Parse `peer_frame` bytes; RemoteProtocolError unless it is a peer message (or the
    `Offer` of one to fetch over the bulk path)."""
    envelope = decode(API, data, CIB_MAX_FRAME)
    if envelope.kind is not Kind.EVENT or not isinstance(envelope.message,
                                                         (*PEER_MESSAGES, Offer)):
        raise RemoteProtocolError(f"not a cib peer message: {type(envelope.message).__name__}")
    message: object = envelope.message
    return message


class CibClient:
    """Typed blocking client of one node's cib daemon."""

    def __init__(self, state_dir: str | Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        from messaging.client import Client  # lazy: cibadmin in file mode never connects

        self.state_dir = Path(state_dir)
        if not (self.state_dir / CTL_SOCKET).exists():
            raise PeerUnreachable(f"the cib daemon is not running (no {CTL_SOCKET} in "
                                  f"{self.state_dir})")
        self._client = Client(ctl_address(self.state_dir), API, timeout=timeout,
                              max_frame=CIB_MAX_FRAME)

    def perform(self, request: Request) -> CibReply:
        """Run one cibadmin operation on the cluster's CIB."""
        message: Query | Write = (query_of(request) if request.op is Op.QUERY
                                  else Write(WireRequest.of(request)))
        reply = self._client.request(message)
        if not isinstance(reply, CibReply):
            raise RemoteProtocolError(f"the cib answered with {type(reply).__name__}")
        return reply

    def subscribe(self) -> Any:
        """A `messaging.client.Subscriber` of this node's `CibDiff` events."""
        from messaging.client import Subscriber

        return Subscriber(pub_address(self.state_dir), API, (DIFF_TOPIC,),
                          max_frame=CIB_MAX_FRAME)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CibClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def seed_store(state_dir: str | Path, cib_text: bytes) -> None:
    """Install `cib_text` as the live copy of a node's cib store before its daemon starts
    (signed, as the daemon writes it): how a lab or an installer gives a node its first CIB."""
    from cib.store import CibStore
    from cib.xmlio import parse

    CibStore(Path(state_dir) / "cib").save(parse(cib_text), keep_status=True, term=0)


__all__ = ["API", "BULK_THRESHOLD", "DIFF_TOPIC", "PEER_CHANNEL", "CibClient", "CibDiff",
           "CibReply", "Query", "Write", "ctl_address", "open_peer_frame", "peer_frame",
           "pub_address", "seed_store"]
