"""A replica following the master's diffs, pure, for cib.replication's ReplicaCore: applying
a diff (or asking for the whole CIB when it does not apply), confirming it, and the origin's
own answer to a forwarded write.

A write made on a replica (its origin) is forwarded to the master, which applies it, writes
its batch into its journal, sends the batch's diff to every replica and acknowledges the
write once every replica confirmed it (`Applied`): the master's `WriteResult` then crosses
the network a fourth time. The origin is itself a replica and can see the same commit point
one crossing earlier: the diff names the writes it carries (`Diff.origins`/`requests`), a
replica confirms a batch to the master and to every other member whose write it carries,
and the master tells those origins once the batch is in its journal (`Journaled`, sent by
cib.service after the disk write; the diff itself leaves at once, so the origin applies it
while the master writes). So the origin answers its client (exit 0) once it applied the
diff carrying its write, the master that sent it journaled that version, and every other
replica of the view confirmed it: the rule the master acknowledges by, seen from the
origin. The master sends no `WriteResult` for a write whose origin's first confirmation
covering it came from a diff (`Applied.by_diff`): that origin applied the diff carrying it
and answers it. An origin that took a whole CIB instead is answered by the master's
`WriteResult`; a replica that took a whole CIB confirms it to every member, so an origin
waiting for its confirmation hears it.

Invariants: a write is answered here only while the origin still waits for it (it is in the
core's `pending`); the confirmations count only within one view (`clear` at every view); the
members whose confirmation a write needs, and the master whose journal mark it needs, are
fixed when its diff is applied (a handover later in the view changes neither); a journal
mark counts only from that master's `Journaled`, never from its `Applied` as a replica.
"""

from __future__ import annotations

from cib.model import version_of
from cib.patch import apply_patchset
from cib.replication_messages import (
    Acknowledge,
    Applied,
    Diff,
    DiffBatch,
    FetchCib,
    Journaled,
    PeerFenced,
)
from cib.replication_state import forget_fenced
from cib.xmlio import Element, parse
from messaging.effects import Log, Node, Send
from messaging.errors import HAError
from messaging.types import Version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cib.replication import CibEffect, ReplicaCore


class OriginAnswers:
    """A replica's forwarded writes it applied from the master's diff, each waiting for the
    other replicas' confirmations, and the versions those confirmed so far in this view."""

    def __init__(self) -> None:
        self.riding: dict[str, tuple[Version, frozenset[str], str]] = {}
        self.confirmed: dict[str, Version] = {}
        self.journaled: dict[str, Version] = {}

    def clear(self) -> None:
        """A new view: nothing carries over (the core answers the pending writes 102)."""
        self.riding.clear()
        self.confirmed.clear()
        self.journaled.clear()

    def ride(self, request_id: str, version: Version, needed: frozenset[str],
             master: str) -> None:
        """This node applied its write `request_id`, reaching `version`; `needed` must
        confirm at least that version, and `master` journal it, before it is committed."""
        self.riding[request_id] = (version, needed, master)

    def master_journaled(self, master: str, version: Version) -> None:
        """`master` wrote its copy up to `version` into its journal (its `Journaled`)."""
        known = self.journaled.get(master)
        self.journaled[master] = version if known is None else max(known, version)

    def confirm(self, member: str, version: Version) -> None:
        """`member` holds the master's copy up to `version` (its `Applied`)."""
        known = self.confirmed.get(member)
        self.confirmed[member] = version if known is None else max(known, version)

    def forget(self, request_id: str) -> None:
        """Answered otherwise (the master's `WriteResult`)."""
        self.riding.pop(request_id, None)

    def fenced(self, member: str) -> None:
        """`member` was fenced: its confirmation is needed no more (cib.replication)."""
        self.riding = {request_id: (version, needed - {member}, master)
                       for request_id, (version, needed, master) in self.riding.items()}

    def committed(self) -> list[tuple[str, Version]]:
        """The writes every needed member confirmed, in request order, forgotten here."""
        done = [(request_id, version)
                for request_id, (version, needed, master) in self.riding.items()
                if all(_at_least(self.confirmed, member, version) for member in needed)
                and _at_least(self.journaled, master, version)]
        for request_id, _ in done:
            del self.riding[request_id]
        return done



def _at_least(versions: dict[str, Version], member: str, version: Version) -> bool:
    known = versions.get(member)
    return known is not None and known >= version


def follow_diff(core: ReplicaCore, message: Diff | DiffBatch) -> list[CibEffect]:
    """A replica applies the master's diff: it must start at this copy's exact version and
    end at the master's digest, else the replica asks for the whole CIB (and ignores diffs
    until it arrives). Applied, it confirms it (to the master, and to the other origins of
    the writes it carries) before its copy is written (deferred), and answers its own
    writes that are now committed. Its `PersistCib` carries the master's digest (this copy's,
    checked above), so the shell can journal the patches as the master does."""
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
    core.followed = (core.view, core.seq, master, core.version)
    needed = frozenset(core.members) - {core.node, master}
    rides = False
    for origin, request_id, version in zip(message.origins, message.requests, versions,
                                           strict=False):
        if origin == core.node and request_id in core.pending:
            core.answers.ride(request_id, version, needed, master)
            rides = True
    # by_diff tells the master this origin answers what the diff named of its writes; a
    # diff naming none (cib.replication's `_answered_by_origin`) leaves that to the master
    applied = Applied(core.view, core.version, by_diff=rides)
    told = sorted(needed & set(message.origins))  # they answer their clients from it
    return [Send(Node(master), applied), *(Send(Node(other), applied) for other in told),
            core._persist(patches, deferred=True, digest=message.digest),
            *answer_committed(core)]


def answer_committed(core: ReplicaCore) -> list[CibEffect]:
    """Answer the pending writes this node applied and every other replica confirmed."""
    return [Acknowledge(request_id, 0, "OK", version)
            for request_id, version in core.answers.committed()
            if core.pending.pop(request_id, None) is not None]


def note_confirmation(core: ReplicaCore, sender: str,
                      message: Applied | Journaled) -> list[CibEffect]:
    """A replica's `Applied` or a master's `Journaled` reached this node: answer the writes
    of its own that are now committed."""
    if isinstance(message, Journaled):
        core.answers.master_journaled(sender, message.version)
    else:
        core.answers.confirm(sender, message.version)
    return answer_committed(core)


def on_fenced(core: ReplicaCore, event: PeerFenced) -> list[CibEffect]:
    """stonithd reported a member fenced: its cib died with it, so it is no longer a member
    whose copy counts in this view (Pacemaker's cib never waits for a fenced peer). The
    master acknowledges what every remaining replica confirmed, an origin answers what the
    others confirmed, a sync stops waiting for its announce; the node's next cib comes in a
    later ccm view and is synced whole. The master itself is not dropped: its replicas
    wait for that view (a new master is chosen only there)."""
    if event.node in (core.node, core.master) or not forget_fenced(
            event.node, core.members, core.unconfirmed):
        return []
    core.answers.fenced(event.node)
    effects: list[CibEffect] = [
        Log("cib_replica_fenced", fields=(("node", event.node), ("view", core.view))),
        *answer_committed(core)]
    if core.master != core.node:
        return effects
    if core.sync is not None:
        return effects + core._maybe_decide(event.now)
    return effects + core._release(event.now)
