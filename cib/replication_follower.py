"""A replica following the master's diffs, pure, for cib.replication's ReplicaCore: applying
a diff (or asking for the whole CIB when it does not apply) and the origin's own answer to a
forwarded write.

A write made on a replica (its origin) is forwarded to the master, which applies it, writes
it into its journal and sends its diff once to every node (the shell sends it only behind
that journal write). The diff names the write (`Diff.origins`/`requests`): so once the
origin holds it, the write is in the master's journal and its diff was sent to every
replica, the rule the master acknowledges its own clients' writes by (the `cib` package's
docstring), and the origin answers its client (exit 0) from the diff, two network crossings
after the write left (forward, diff) and with no further message: Pacemaker's cib too
answers a client once the master applied the change and broadcast it. Replicas confirm
nothing (a replica that misses a diff notices the version gap and takes the whole CIB).

An origin that cannot apply the diff naming its write (it missed an earlier one), or that
ignores it while it waits for a whole CIB, answers once it took the master's whole copy
holding that version (`OriginAnswers`): it answers only with its own copy holding the write,
so its client reads what it wrote there.

Invariants: a write is answered here only while the origin still waits for it (it is in the
core's `pending`); the writes awaiting a whole copy count only within one view (`clear` at
every view, where the core answers them 102).
"""

from __future__ import annotations

from cib.model import version_of
from cib.patch import UndoLog, apply_patchset
from cib.replication_messages import Acknowledge, Diff, DiffBatch, FetchCib, PeerFenced
from cib.replication_state import digest_of, drop_member
from cib.xmlio import parse
from messaging.effects import Log, Node, Send
from messaging.errors import HAError
from messaging.types import Version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cib.replication import CibEffect, ReplicaCore


class OriginAnswers:
    """A replica's forwarded writes that a diff it could not apply carried: each waits for
    a whole copy from the master at least at the diff's version."""

    def __init__(self) -> None:
        self.missed: dict[str, Version] = {}

    def clear(self) -> None:
        """A new view: nothing carries over (the core answers the pending writes 102)."""
        self.missed.clear()

    def forget(self, request_id: str) -> None:
        """Answered otherwise (the master's `WriteResult`)."""
        self.missed.pop(request_id, None)

    def wait_for_copy(self, request_id: str, version: Version) -> None:
        """The master's copy holds `request_id` from `version` on; this replica lacks it."""
        self.missed[request_id] = version

    def held_by(self, version: Version) -> list[tuple[str, Version]]:
        """The writes a copy at `version` holds, in request order, forgotten here."""
        done = [(rid, at) for rid, at in self.missed.items() if at <= version]
        for request_id, _ in done:
            del self.missed[request_id]
        return done


def follow_diff(core: ReplicaCore, message: Diff | DiffBatch) -> list[CibEffect]:
    """A replica applies the master's diff: it must start at this copy's exact version and
    end at the master's digest, else the replica asks for the whole CIB (and ignores diffs
    until it arrives). Once applied, its copy is written (deferred) and the writes of its own the
    diff carries are answered. Its `PersistCib` carries the master's digest (this copy's,
    checked above), so the shell can journal the patches as the master does.

    The patches change the copy in place (a copy of the whole tree per diff was most of a
    replica's CPU per write at 2 MB), each change recorded in an undo log: a diff refused
    anywhere, by a patch or by the digest of the result, is rolled back whole, leaving the
    copy exactly as it was."""
    patches = (message.patch,) if isinstance(message, Diff) else message.patches
    undo = UndoLog()
    result = core.cib
    versions: list[Version] = []
    try:
        for patch in patches:
            # a format-1 patch (old feature sets) comes back on a copy: `result` follows it
            result = apply_patchset(result, parse(patch), undo=undo)
            versions.append(version_of(result, absent=0))
        applied = digest_of(result) == message.digest
    except HAError:
        applied = False
    except BaseException:  # no refusal but a fault: the copy is left as it was all the same
        undo.rollback()
        raise
    master = core.master or ""
    if not applied:
        undo.rollback()
        core.resyncing = True
        return [*missed_diff(core, message), Send(Node(master), FetchCib(core.view))]
    core.cib, core.term, core.fresh = result, message.view, False
    core.changed(message.digest)  # the result's, just checked
    core.followed = (core.view, core.seq, master, core.version)
    answers: list[CibEffect] = [
        Acknowledge(request_id, 0, "OK", version)
        for origin, request_id, version in zip(message.origins, message.requests, versions,
                                               strict=False)
        if origin == core.node and core.pending.pop(request_id, None) is not None]
    return [core._persist(patches, deferred=True, digest=message.digest), *answers]


def missed_diff(core: ReplicaCore, message: Diff | DiffBatch) -> list[CibEffect]:
    """A diff this replica does not apply (it waits for the whole CIB): its own writes in it
    are answered once a whole copy holding them is taken (`answer_from_copy`)."""
    for origin, request_id in zip(message.origins, message.requests, strict=False):
        if origin == core.node and request_id in core.pending:
            core.answers.wait_for_copy(request_id, message.version)
    return []


def answer_from_copy(core: ReplicaCore) -> list[CibEffect]:
    """This replica took the master's whole copy: answer its writes the copy holds."""
    return [Acknowledge(request_id, 0, "OK", version)
            for request_id, version in core.answers.held_by(core.version)
            if core.pending.pop(request_id, None) is not None]


def on_fenced(core: ReplicaCore, event: PeerFenced) -> list[CibEffect]:
    """stonithd reported a member fenced: its cib died with it, so it is no longer a member
    in this view (Pacemaker's cib never waits for a fenced peer): its messages are ignored
    and a sync stops waiting for its announce; the node's next cib comes in a later ccm
    view and is synced whole. The master itself is not dropped: its replicas wait for that
    view (a new master is chosen only there)."""
    if event.node in (core.node, core.master) or not drop_member(event.node, core.members):
        return []
    effects: list[CibEffect] = [
        Log("cib_replica_fenced", fields=(("node", event.node), ("view", core.view)))]
    if core.master == core.node and core.sync is not None:
        return effects + core._maybe_decide(event.now)
    return effects
