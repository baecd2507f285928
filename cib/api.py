"""The cib daemon's IPC protocol and `CibClient`, the one way other packages reach the cib.

The read side (`Query`, `CibReply`, `CibDiff`, the sockets, `follow_cib`) is the contract in
`messaging.cib_contract`, shared with daemons that may not import cib; this module adds
`Write` and the peer messages to the same registry and re-exports it.

Sockets (one node, inside its state directory; `messaging.envelope` frames, frames up to
`CIB_MAX_FRAME` because whole CIBs travel):

- ``ipc://<state_dir>/cib.ctl`` (`messaging.ipc.Server`): `Query` and `Write` -> `CibReply`
  (exit code, message, printed output, version), plus the built-in Ping; `SetDc` (crmd
  naming the DC) and `PeerWasFenced` (crmd relaying a fencing), writers only -> `CibReply`
  exit 0. A query is answered
  from this node's replica; a write goes to the master (`cib.replication`) and is answered
  once every replica of the view holds it and it is written into the master's journal
  (the guarantee is in the `cib` package's docstring).
- ``ipc://<state_dir>/cib.pub`` (`messaging.ipc.Publisher`, topic `DIFF_TOPIC`): one
  `CibDiff` (Pacemaker's v2 patchset as XML text, and the version after it) per change this
  node's copy took, in order; a whole-CIB resync is published as a diff from the old copy.

The attribute manager's clients (`AttrdClient`, `AsyncAttrdClient`, contract in
`cib.attrd_api`) are re-exported here: cib.api is the package's one public surface.

Peer messages between cib daemons (heartbeat channel `PEER_CHANNEL`) are event frames of
the same protocol (`peer_frame`). A frame larger than `BULK_THRESHOLD` (a whole CIB, a
large diff) travels instead as a `messaging.bulk.Offer` over heartbeat and is fetched over
the direct signed path (`messaging.bulk`); the receiver handles the fetched frame exactly
as if heartbeat had carried it, in the sender's order. Field order of every message is part
of the wire contract: only append fields.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence

from cib.request import Op, Request, WireRequest
from messaging.cib_contract import (
    API,
    CTL_SOCKET,
    DIFF_TOPIC,
    PUB_SOCKET,
    CibDiff,
    CibReply,
    Query,
    ctl_address,
    follow_cib,
    pub_address,
)
from messaging.envelope import CIB_MAX_FRAME, Kind, decode, encode
from messaging.errors import HAError, PeerUnreachable, RemoteProtocolError
from messaging.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from typing import Any

    from cib.attrd_api import AsyncAttrdClient as AsyncAttrdClient
    from cib.attrd_api import AttrdClient as AttrdClient
    from cib.backend import Backend as Backend
    from cib.model import FEATURE_SET as FEATURE_SET
    from cib.model import as_started as as_started
    from cib.patch import apply_patchset as apply_patchset
    from cib.patch import version_of as version_of
    from cib.replication_messages import FENCED_BY as FENCED_BY
    from cib.xmlio import Element
    from cib.xmlio import parse as parse

PEER_CHANNEL = "cib"
DEFAULT_TIMEOUT = 30.0
BULK_THRESHOLD = 32 << 10  # heartbeat fragments above a few KB; its stream is for control


@API.register("write")
class Write(Record):
    """A change, as `cib.replication_messages.WireRequest` carries it between nodes;
    `client` is the client's name (cibadmin, crmd...), for update-client."""

    __slots__ = ("client", "request")

    def __init__(self, request: WireRequest, client: str | None = None) -> None:
        self.request, self.client = request, client


@API.register("set_dc")
class SetDc(Record):
    """crmd tells its node's cib which node is DC (None: none known), each time that
    changes; the cib's replication prefers the DC's cib as master (`cib.replication`).
    Answered with a `CibReply` (exit 0) once the cib took note."""

    __slots__ = ("dc",)

    def __init__(self, dc: str | None) -> None:
        self.dc = dc


@API.register("peer_fenced")
class PeerWasFenced(Record):
    """crmd relays its stonithd's result: `node` was powered off or rebooted, so its cib
    replica died with it and stops counting in the view (`cib.replication`; the cib does
    not follow stonithd itself: independent daemons meet through crmd). Answered with a
    `CibReply` (exit 0) once the cib took note."""

    __slots__ = ("node",)

    def __init__(self, node: str) -> None:
        self.node = node


_PEER_NAMES = ("Forward", "WriteResult", "Diff", "Applied", "Announce", "AskAnnounce",
               "FetchCib", "FullCib", "DiffBatch", "DcClaim", "Handover", "Journaled")


@functools.cache
def peer_messages() -> tuple[type, ...]:
    """The cib-to-cib messages (and the bulk path's `Offer`), registered in `API` at the
    first call: a client (cibadmin) never builds these classes, the daemons do before their
    first peer frame."""
    from cib import replication_messages
    from messaging.bulk import Offer

    messages = tuple(getattr(replication_messages, name) for name in _PEER_NAMES)
    for message in messages:
        API.register(f"peer_{message.__name__.lower()}")(message)
    API.register("peer_bulk_offer")(Offer)
    return (*messages, Offer)


def query_of(request: Request) -> Query:
    return Query(request.scope, request.xpath, request.no_children, request.node_path)


def request_of(query: Query) -> Request:
    return Request(Op.QUERY, scope=query.scope, xpath=query.xpath,
                   no_children=query.no_children, node_path=query.node_path)


def peer_frame(message: object) -> bytes:
    """The bytes of a cib-to-cib message (an event frame of `API`)."""
    peer_messages()
    return encode(API, Kind.EVENT, 0, message)


def open_peer_frame(data: bytes) -> object:
    """Parse `peer_frame` bytes; RemoteProtocolError unless it is a peer message (or the
    `Offer` of one to fetch over the bulk path)."""
    known = peer_messages()
    envelope = decode(API, data, CIB_MAX_FRAME)
    if envelope.kind is not Kind.EVENT or not isinstance(envelope.message, known):
        raise RemoteProtocolError(f"not a cib peer message: {type(envelope.message).__name__}")
    message: object = envelope.message
    return message


class CibClient:
    """Typed blocking client of one node's cib daemon."""

    def __init__(self, state_dir: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT,
                 name: str | None = None) -> None:
        from messaging.client import Client  # lazy: cibadmin in file mode never connects

        self.state_dir = os.fspath(state_dir)  # os.path, not pathlib: the tools' start-up
        # Pacemaker's tools sign on with their program name (update-client="cibadmin").
        self.name = name if name is not None else os.path.basename(sys.argv[0]) or None
        if not os.path.exists(os.path.join(self.state_dir, CTL_SOCKET)):
            raise PeerUnreachable(f"the cib daemon is not running (no {CTL_SOCKET} in "
                                  f"{self.state_dir})")
        self._client = Client(ctl_address(self.state_dir), API, timeout=timeout,
                              max_frame=CIB_MAX_FRAME)

    def perform(self, request: Request) -> CibReply:
        """Run one cibadmin operation on the cluster's CIB."""
        message: Query | Write = (query_of(request) if request.op is Op.QUERY
                                  else Write(WireRequest.of(request), self.name))
        return self._reply(message)

    def perform_wire(self, wire: WireRequest, no_children: bool = False,
                     node_path: bool = False) -> CibReply:
        """`perform` for a request already in its wire form (XML as text: no tree built
        here). A query takes its scope and xpath from `wire`."""
        message: Query | Write = (
            Query(wire.scope, wire.xpath, no_children, node_path) if wire.op == Op.QUERY.value
            else Write(wire, self.name))
        return self._reply(message)

    def _reply(self, message: Query | Write) -> CibReply:
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


def with_writes(cib_text: str, writes: Sequence[WireRequest]) -> str:
    """`cib_text` with `writes` applied in order by the cib's own edit operations, without
    version counters, patchsets or schema validation (a client's view of its writes that
    are not acknowledged yet: the crmd DC schedules on it, as Pacemaker's DC reads a CIB its
    own updates reached at once). A write the operations refuse is left out."""
    from cib.xmlio import element_text, parse

    return element_text(with_writes_tree(parse(cib_text), writes, copy=False), pretty=False)


def with_writes_tree(cib: Any, writes: Sequence[WireRequest], *, copy: bool = True) -> Any:
    """`with_writes` on a parsed <cib> element: a copy of it (or, with copy=False, the
    element itself changed) with `writes` applied."""
    import copy as copying

    from lxml import etree

    from cib.ops_write import WRITERS

    if copy:
        cib = copying.deepcopy(cib)
    for write in writes:
        request = write.request()
        try:
            written = WRITERS[request.op](cib, request)
        except HAError:
            continue
        cib = written if isinstance(written, etree._Element) else written.tree
    return cib


def seed_store(state_dir: str | os.PathLike[str], cib_text: bytes) -> None:
    """Install `cib_text` as the live copy of a node's cib store before its daemon starts
    (signed, as the daemon writes it): how a lab or an installer gives a node its first CIB."""
    from pathlib import Path

    from cib.store import CibStore
    from cib.xmlio import parse

    CibStore(Path(state_dir) / "cib").save(parse(cib_text), keep_status=True, term=0)


def tool_backend() -> Backend:
    """The CIB a command-line tool works on, chosen as Pacemaker's tools choose: CIB_file's
    file when set, else this node's cib daemon (PeerUnreachable when it is not running)."""
    from cib.backend import backend_from_environment

    return backend_from_environment()


def change_request(old: Element, new: Element) -> Request | None:
    """The request taking `old` to `new`: a v2 patchset without a version (the backend bumps
    epoch or num_updates itself), or None when they do not differ."""
    from cib.diff import create_patchset

    patch = create_patchset(old, new, with_version=False)
    return None if patch is None else Request(Op.PATCH, data=patch)


def cib_text(root: Element) -> str:
    """A CIB tree printed as Pacemaker prints it."""
    from cib.xmlio import element_text

    return element_text(root)


# The pure replication core and its glue, for the whole-cluster simulator (lab.sim), which
# drives it as cib.service does. Resolved lazily: tools importing this module for the client
# must not pay for the core, the schemas or lxml's patchset code.
_CORE_EXPORTS = {
    "AttrdClient": "cib.attrd_api", "AsyncAttrdClient": "cib.attrd_api",
    "Acknowledge": "cib.replication_messages", "ClientWrite": "cib.replication_messages",
    "PeerMessage": "cib.replication_messages", "PersistCib": "cib.replication_messages",
    "ViewChanged": "cib.replication_messages", "DcNamed": "cib.replication_messages",
    "PeerFenced": "cib.replication_messages", "FENCED_BY": "cib.replication_messages",
    "ReplicaCore": "cib.replication",
    "schema_validator": "cib.ops", "view_members": "cib.service",
    "FEATURE_SET": "cib.model", "as_started": "cib.model",
    "element_text": "cib.xmlio", "parse": "cib.xmlio",
    "create_patchset": "cib.diff",
    "apply_patchset": "cib.patch", "version_of": "cib.patch",
}


def __getattr__(name: str) -> Any:
    module = _CORE_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "API",
    "BULK_THRESHOLD",
    "CTL_SOCKET",
    "DIFF_TOPIC",
    "FEATURE_SET",
    "PEER_CHANNEL",
    "PUB_SOCKET",
    "AsyncAttrdClient",
    "AttrdClient",
    "CibClient",
    "CibDiff",
    "CibReply",
    "PeerWasFenced",
    "Query",
    "SetDc",
    "WireRequest",
    "Write",
    "apply_patchset",
    "as_started",
    "change_request",
    "cib_text",
    "ctl_address",
    "follow_cib",
    "open_peer_frame",
    "peer_frame",
    "peer_messages",
    "pub_address",
    "seed_store",
    "tool_backend",
    "version_of",
    "with_writes",
]
