"""A replica following the master's diffs, pure, for cib.replication's ReplicaCore: applying
a diff (or asking for the whole CIB when it does not apply), confirming it, and the origin's
own answer to a forwarded write.

A write made on a replica (its origin) is forwarded to the master, which applies it, writes
its batch into its journal, sends the batch's diff to every replica and acknowledges the
write once every replica confirmed it (`Applied`): the master's `WriteResult` then crosses
the network a fourth time. The origin is itself a replica and can see the same commit point
one crossing earlier: the diff names the writes it carries (`Diff.origins`/`requests`), a
replica confirms a batch to the master and to every other member whose write it carries, and
the master sends the diff to an origin only once the batch is in its journal (cib.service).
So the origin answers its client (exit 0) once it applied the diff carrying its write and
every other replica of the view (not itself, not the master that sent the diff) confirmed a
version at least the write's: the rule the master acknowledges by, seen from the origin. The
master's `WriteResult` answers whatever the origin could not (it resynced instead of applying
the diff); the first answer wins. The master sends no `WriteResult` for a write whose origin's first
confirmation covering it came from a diff (`Applied.by_diff`): that origin applied the diff
carrying it and answers it; a replica that took a whole CIB instead confirms it to every
member, so an origin waiting for its confirmation hears it.

Invariants: a write is answered here only while the origin still waits for it (it is in the
core's `pending`); the confirmations count only within one view (`clear` at every view); the
members whose confirmation a write needs are fixed when its diff is applied (a handover
later in the view does not change who held it).
"""

from __future__ import annotations

from cib.model import version_of
from cib.patch import apply_patchset
from cib.replication_messages import Acknowledge, Applied, Diff, DiffBatch, FetchCib
from cib.xmlio import Element, parse
from messaging.effects import Node, Send
from messaging.errors import HAError
from messaging.types import Version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cib.replication import CibEffect, ReplicaCore


class OriginAnswers:
    """A replica's forwarded writes it applied from the master's diff, each waiting for the
    other replicas' confirmations, and the versions those confirmed so far in this view."""

    def __init__(self) -> None:
        self.riding: dict[str, tuple[Version, frozenset[str]]] = {}
        self.confirmed: dict[str, Version] = {}

    def clear(self) -> None:
        """A new view: nothing carries over (the core answers the pending writes 102)."""
        self.riding.clear()
        self.confirmed.clear()

    def ride(self, request_id: str, version: Version, needed: frozenset[str]) -> None:
        """This node applied its write `request_id`, reaching `version`; `needed` must
        confirm at least that version before the write is committed."""
        self.riding[request_id] = (version, needed)

    def confirm(self, member: str, version: Version) -> None:
        """`member` holds the master's copy up to `version` (its `Applied`)."""
        known = self.confirmed.get(member)
        self.confirmed[member] = version if known is None else max(known, version)

    def forget(self, request_id: str) -> None:
        """Answered otherwise (the master's `WriteResult`)."""
        self.riding.pop(request_id, None)

    def committed(self) -> list[tuple[str, Version]]:
        """The writes every needed member confirmed, in request order, forgotten here."""
        done = [(request_id, version) for request_id, (version, needed) in self.riding.items()
                if all(self._holds(member, version) for member in needed)]
        for request_id, _ in done:
            del self.riding[request_id]
        return done

    def _holds(self, member: str, version: Version) -> bool:
        confirmed = self.confirmed.get(member)
        return confirmed is not None and confirmed >= version


def follow_diff(core: ReplicaCore, message: Diff | DiffBatch) -> list[CibEffect]:
    """A replica applies the master's diff: it must start at this copy's exact version and
    end at the master's digest, else the replica asks for the whole CIB (and ignores diffs
    until it arrives). Applied, it confirms it (to the master, and to the other origins of
    the writes it carries) before its copy is written (deferred), and answers its own
    writes that are now committed."""
    patches = (message.patch,) if isinstance(message, Diff) else message.patches
    result: Element | None = core.cib
    versions: list[Version] = []
    try:
        for patch in patches:
            result = apply_patchset(core.cib if result is None else result, parse(patch))
            versions.append(version_of(result, absent=0))
    except HAError:
        result = None
    master = core.master or ""
    if result is None or core.digest(result) != message.digest:
        core.resyncing = True
        return [Send(Node(master), FetchCib(core.view))]
    core.cib, core.term, core.fresh = result, message.view, False
    needed = frozenset(core.members) - {core.node, master}
    for origin, request_id, version in zip(message.origins, message.requests, versions,
                                           strict=False):
        if origin == core.node and request_id in core.pending:
            core.answers.ride(request_id, version, needed)
    applied = Applied(core.view, core.version, by_diff=True)
    told = sorted(needed & set(message.origins))  # they answer their clients from it
    return [Send(Node(master), applied), *(Send(Node(other), applied) for other in told),
            core._persist(patches, deferred=True), *answer_committed(core)]


def answer_committed(core: ReplicaCore) -> list[CibEffect]:
    """Answer the pending writes this node applied and every other replica confirmed."""
    return [Acknowledge(request_id, 0, "OK", version)
            for request_id, version in core.answers.committed()
            if core.pending.pop(request_id, None) is not None]
