"""The wire half of `cib.api`: the cib daemon's IPC messages (`Write`, `SetDc`,
`PeerWasFenced`, the peer messages) registered in `messaging.cib_contract.API`, the peer
frames and `CibClient`.

Reached only through `cib.api`, which loads this module (and with it the msgpack codec) at
the first use of one of its names: a tool working on a CIB file (crm_mon, crm_resource,
crm_attribute, cibadmin with CIB_file) never encodes a frame and does not pay for the
codec's import.
"""

from __future__ import annotations

import functools
import os
import sys

from cib.api import DEFAULT_TIMEOUT
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
from messaging.errors import PeerUnreachable, RemoteProtocolError
from messaging.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from typing import Any


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


__all__ = ["API", "CTL_SOCKET", "DIFF_TOPIC", "PUB_SOCKET", "CibClient", "CibDiff", "CibReply",
           "PeerWasFenced", "Query", "SetDc", "Write", "ctl_address", "follow_cib",
           "open_peer_frame", "peer_frame", "peer_messages", "pub_address", "query_of",
           "request_of"]
