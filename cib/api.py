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
`cib.attrd_api`) are re-exported here: cib.api is the package's one public surface. The
protocol's names live in `cib.api_wire`, loaded at the first use of one of them (with it the
msgpack codec), so a tool on a CIB file imports this module without the codec.

Peer messages between cib daemons (heartbeat channel `PEER_CHANNEL`) are event frames of
the same protocol (`peer_frame`). A frame larger than `BULK_THRESHOLD` (a whole CIB, a
large diff) travels instead as a `messaging.bulk.Offer` over heartbeat and is fetched over
the direct signed path (`messaging.bulk`); the receiver handles the fetched frame exactly
as if heartbeat had carried it, in the sender's order. Field order of every message is part
of the wire contract: only append fields.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cib.request import Op, Request, WireRequest
from messaging.errors import HAError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (tools' start-up)
if TYPE_CHECKING:
    from typing import Any

    from cib.api_wire import API as API
    from cib.api_wire import CTL_SOCKET as CTL_SOCKET
    from cib.api_wire import DIFF_TOPIC as DIFF_TOPIC
    from cib.api_wire import PUB_SOCKET as PUB_SOCKET
    from cib.api_wire import CibClient as CibClient
    from cib.api_wire import CibDiff as CibDiff
    from cib.api_wire import CibReply as CibReply
    from cib.api_wire import PeerWasFenced as PeerWasFenced
    from cib.api_wire import Query as Query
    from cib.api_wire import SetDc as SetDc
    from cib.api_wire import Write as Write
    from cib.api_wire import ctl_address as ctl_address
    from cib.api_wire import follow_cib as follow_cib
    from cib.api_wire import open_peer_frame as open_peer_frame
    from cib.api_wire import peer_frame as peer_frame
    from cib.api_wire import peer_messages as peer_messages
    from cib.api_wire import pub_address as pub_address
    from cib.api_wire import query_of as query_of
    from cib.api_wire import request_of as request_of
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

    from cib.ops_write import write as written_by

    if copy:
        cib = copying.deepcopy(cib)
    for write in writes:
        request = write.request()
        try:
            written = written_by(cib, request)
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


# Resolved lazily: the wire protocol (cib.api_wire: messages, frames, CibClient), which loads
# the msgpack codec a tool on a CIB file never uses (~8 M instructions of crm_mon's start);
# the pure replication core and its glue, for the whole-cluster simulator (lab.sim), which
# drives it as cib.service does: tools must not pay for the core, the schemas or lxml's
# patchset code.
_CORE_EXPORTS = {
    **dict.fromkeys(("API", "CTL_SOCKET", "DIFF_TOPIC", "PUB_SOCKET", "CibClient", "CibDiff",
                     "CibReply", "PeerWasFenced", "Query", "SetDc", "Write", "ctl_address",
                     "follow_cib", "open_peer_frame", "peer_frame", "peer_messages",
                     "pub_address", "query_of", "request_of"), "cib.api_wire"),
    "AttrdClient": "cib.attrd_api", "AsyncAttrdClient": "cib.attrd_api",
    "Acknowledge": "cib.replication_messages", "ClientWrite": "cib.replication_messages",
    "PeerMessage": "cib.replication_messages", "PersistCib": "cib.replication_messages",
    "ViewChanged": "cib.replication_messages", "DcNamed": "cib.replication_messages",
    "PeerFenced": "cib.replication_messages", "FENCED_BY": "cib.replication_messages",
    "ReplicaCore": "cib.replication",
    "schema_validator": "cib.ops", "view_members": "cib.service",
    "published_patches": "cib.service",
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
