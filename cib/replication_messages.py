"""The messages and effects of CIB replication (frozen; CIB content travels as XML text).

Invariants: every message carries the view number it belongs to, so a message from an older
membership view is recognised and dropped; versions are `cib.model.Version` triples; a
`term` is the view in which the master made the copy's last change (it travels with
announcements, whole CIBs and persisted copies and breaks ties between equal versions).

Mixed versions: fields are only ever appended (a daemon ignores trailing fields it does not
know and gives missing ones their defaults), and `Announce` and `FullCib` carry the sender's
`CIB_PROTOCOL` (0 when absent: a daemon from before the field), so a newer daemon knows what
an older peer sends and adapts (protocol 0's `FullCib` has no digest: it is taken
unchecked) or refuses it once a change cannot be adapted to (a master refuses a member
announcing a protocol older than `CIB_PROTOCOL`: cib.replication).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cib.request import WireRequest as WireRequest  # re-exported: its home is cib.request
from messaging.errors import ExitCode
from messaging.types import Version

TYPE_CHECKING = False  # typing.TYPE_CHECKING: cibadmin sends a WireRequest without lxml
if TYPE_CHECKING:
    from cib.xmlio import Element


# 1: FullCib carries the sender's digest, checked before the copy is taken; 2: the master
# broadcasts one Diff and waits for no replica (no Applied, no Journaled), a Handover names
# its copy. A protocol 0 or 1 daemon in the same view would wait for confirmations never
# sent: the master refuses it (`cib_peer_refused`: it leaves the view's replicas).
CIB_PROTOCOL = 2


# Events fed to the core (besides messaging.effects.TimerFired).

@dataclass(frozen=True, slots=True)
class ViewChanged:
    """ccm's new membership: `members` are (node id, node name); `view` only grows."""

    now: float
    view: int
    members: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class ClientWrite:
    """A local client asks for a write; it is answered by an `Acknowledge` effect."""

    now: float
    request_id: str
    request: WireRequest
    wall: float | None = None  # the wall clock, for cib-last-written (None: not known)


@dataclass(frozen=True, slots=True)
class PeerMessage:
    """A message from the cib of another node."""

    now: float
    sender: str
    message: object
    wall: float | None = None  # the wall clock, for cib-last-written (None: not known)


@dataclass(frozen=True, slots=True)
class DcNamed:
    """The local crmd names the DC (None: no DC known, e.g. during an election): the
    event the cib daemon feeds when crmd sends `cib.api.SetDc`."""

    now: float
    dc: str | None


FENCED_BY = ("off", "reboot")  # the fencing actions after which the target's cib is gone


@dataclass(frozen=True, slots=True)
class PeerFenced:
    """stonithd reports `node` fenced (off or reboot succeeded): its cib died with it. The
    master stops waiting for that replica's confirmations (Pacemaker's cib never waits for
    a fenced peer); the node's next cib joins in a later view and is synced whole."""

    now: float
    node: str


# Messages between nodes.

@dataclass(frozen=True, slots=True)
class Forward:
    """A write sent to the master by the node its client is on."""

    view: int
    request_id: str
    request: WireRequest


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The master's answer to a forwarded write."""

    view: int
    request_id: str
    exit_code: int
    message: str
    version: Version
    refused: bool = False  # not applied: this node had handed the master role over


@dataclass(frozen=True, slots=True)
class Diff:
    """A change made on the master, sent once to every node behind the master's journal
    write: the v2 patchset and the digest of the result. `origins` and `requests` name the
    write (its node and request id; empty from an older master): its origin answers its
    client from this diff (cib.replication_follower)."""

    view: int
    patch: str
    digest: str
    version: Version
    origins: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DiffBatch:
    """Several changes in one message (the v2 patchsets in order and the digest of the
    result): the master's group commit (cib.service: diffs made while the first waits for
    the journal), followed patch by patch as `Diff`s are."""

    view: int
    patches: tuple[str, ...]
    digest: str
    version: Version
    origins: tuple[str, ...] = ()  # each patch's write, as `Diff`'s
    requests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Applied:
    """A protocol 1 replica's confirmation that it holds the master's copy up to `version`
    (from a diff: `by_diff`). Kept so such a frame still opens; ignored, never sent now."""

    view: int
    version: Version
    by_diff: bool = False


@dataclass(frozen=True, slots=True)
class Journaled:
    """A protocol 1 master's mark that its copy up to `version` is in its journal (its diff
    now leaves only behind that write and says so). Kept so such a frame still opens;
    ignored, never sent now."""

    view: int
    version: Version


@dataclass(frozen=True, slots=True)
class Announce:
    """A member's version and digest, sent to the master of a new view."""

    view: int
    version: Version
    digest: str
    term: int = 0
    dc: str | None = None  # the DC this member's crmd names (None: unknown)
    fresh: bool = False  # a copy loaded from disk at start (no status), not synced since
    protocol: int = 0  # the sender's CIB_PROTOCOL (0: from before the field)
    # a copy the master's line accounts for: the answer to an `AskAnnounce` (after the
    # member's own announce) or a live member's announce at a handover; no whole copy for it
    known: bool = False


@dataclass(frozen=True, slots=True)
class DcClaim:
    """A replica tells the master which node its crmd names as DC (None: unknown)."""

    view: int
    dc: str | None


@dataclass(frozen=True, slots=True)
class Handover:
    """The master of the view gives the role to `master` (the DC every member named), behind
    its last diff. `seq` counts handovers within the view: a member follows the highest it
    has seen."""

    view: int
    seq: int
    master: str
    # the handing master's copy (none from an older daemon): the new master takes the role
    # at once only with this copy, which it holds once it applied every diff sent before
    version: Version | None = None
    digest: str = ""


@dataclass(frozen=True, slots=True)
class AskAnnounce:
    """The master of a new view asks a member whose `Announce` it has not received (lost
    because that daemon was still connecting to heartbeat) to send it again. `fresh`: the
    master's cib has just started (respawned): the writes forwarded to it before are lost."""

    view: int
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class FetchCib:
    """The master asks the holder of the best copy for it (or a replica asks for a resync)."""

    view: int


@dataclass(frozen=True, slots=True)
class FullCib:
    """A whole CIB: the master's resync of a replica, or the best copy sent to the master.
    `digest` is the sender's `digest_of` its copy: the receiver takes the copy only when
    its parsed tree has it (empty from a protocol 0 sender: taken unchecked)."""

    view: int
    cib: str
    version: Version
    term: int = 0
    digest: str = ""
    protocol: int = 0  # the sender's CIB_PROTOCOL (0: from before the field)


# Effects specific to the cib (the generic ones are messaging.effects').

@dataclass(frozen=True, slots=True)
class PersistCib:
    """Write the CIB to this node's disk (cib.store): before any later effect runs when
    `deferred` is false (the master's copy, which acknowledgements wait for); a replica's
    copy (`deferred`) may be written a little later, coalesced with the next ones, as
    Pacemaker's replicas write asynchronously. `patches` are the v2 patchsets that led here
    (empty after a whole-CIB resync), for change subscribers. `cib` is the core's tree
    itself, not a copy, and the core changes it in place later (a replica's next diffs,
    in the same event when it replays diffs held for a view; the master's write after the
    next, on the tree it let go of: cib.replication_state.SpareTree), so whoever carries
    the effect out reads or prints it at once (a save: cib.store.DiskCopy), keeps it only
    as the base of the next effect's resync, and never changes it. When carried out it
    may hold a later change of the same event than `version`: versions come from the
    effect, never from the tree. `digest`, when set, lets the shell journal the batch
    (cib.journal) instead of writing the whole CIB (a replica's deferred copy too: the
    digest of the master's diff, which its result matched)."""

    cib: Element
    version: Version
    term: int = 0
    patches: tuple[str, ...] = ()
    deferred: bool = False
    digest: str = ""  # the versioned digest of `cib` when the core has it (a batch, a diff)


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Answer a local client's write: exit code 0 means, once the shell carried out the
    effects before it (the master's `PersistCib` and its diff's `Send`, which heartbeat
    took), that it is in the master's journal and its diff was sent to every replica (the
    `cib` package's docstring); 102 means the view changed first (outcome unknown)."""

    request_id: str
    exit_code: int
    message: str
    version: Version | None


def unknown_outcome(request_ids: Iterable[str], why: str) -> list[Acknowledge]:
    """Answer local clients' writes 102 (not connected: the write may or may not be
    applied, retry), in request id order."""
    return [Acknowledge(rid, ExitCode.DISCONNECT, f"{why}; the write may or may not be "
                        "applied", None) for rid in sorted(request_ids)]
