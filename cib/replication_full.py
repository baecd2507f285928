"""Whole copies of the CIB between cib daemons, pure, for cib.replication's ReplicaCore: the
copy a member sends (`full_copy`) and the copy it takes (`on_full`).

A join or a resync moves the whole CIB (2 MB in issue 9's benchmark). The sender prints its
tree once for all the members a sync pushes it to, and only when one needs it, and sends
the digest its announcements already computed (`ReplicaCore.digest`; the text is not
kept: it would pin a replaced tree of tens of MB, lxml trees take no weak references).
The receiver parses the text once and checks its tree's digest against the sender's, which
the core then keeps (`ReplicaCore.changed`) for the sync's comparisons and its next
announcements. A
replica that took the master's copy answers the writes of its own that the copy holds and
whose diff it missed (cib.replication_follower); its `PersistCib` is deferred, as a diff's.
A copy
that does not parse, or whose digest differs, is refused: a replica keeps its own copy and
logs it (the next announcement or diff that disagrees asks again; no loop of 2 MB
transfers), the master of a sync goes on without that member's copy, as when the fetch
times out. A `FullCib` of a protocol 0 sender carries no digest: taken unchecked, as that
sender's own daemons took it (cib.replication_messages, mixed versions). A replica also
refuses a copy older than a diff it applied from the same master in the same view and
handover (`cib_full_stale`): that copy left the master before the diff and would roll the
replica back. An older copy is otherwise taken: a new master's sync may push one on purpose
(it decided without this member's copy), and so may a respawned master (its `AskAnnounce`
says `fresh`).
"""

from __future__ import annotations

from cib.replication_follower import answer_from_copy
from cib.replication_messages import CIB_PROTOCOL, FullCib, PersistCib
from cib.replication_state import digest_of
from cib.xmlio import Element, element_text, parse
from messaging.effects import CancelTimer, Log
from messaging.errors import HAError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cib.replication import CibEffect, ReplicaCore


def full_copy(core: ReplicaCore) -> FullCib:
    """This member's whole copy, to send (one message for every member a sync pushes it
    to: cib.service encodes and offers it once)."""
    return FullCib(core.view, element_text(core.cib, pretty=False), core.version, core.term,
                   core.digest(), CIB_PROTOCOL)


def _checked(core: ReplicaCore, sender: str, message: FullCib) -> Element | Log:
    """The copy's tree, or the log of its refusal."""
    try:
        tree = parse(message.cib, source=f"the whole CIB from {sender}")
    except HAError as error:
        return _refused(sender, message, str(error))
    if message.digest and digest_of(tree) != message.digest:
        return _refused(sender, message, f"its digest is {digest_of(tree)}, "
                                         f"the sender's {message.digest}")
    return tree


def _refused(sender: str, message: FullCib, why: str) -> Log:
    return Log("cib_full_refused", level="error", fields=(
        ("sender", sender), ("version", list(message.version)), ("why", why)))


def _stale(core: ReplicaCore, sender: str, message: FullCib) -> bool:
    """Whether the copy is older than a diff this replica applied from the same master in
    the same view and handover: that master's version never goes back (a write never lowers
    it, its sync takes the best copy, its own included), so the copy left before that diff."""
    followed = core.followed
    return (followed is not None and followed[:3] == (core.view, core.seq, sender)
            and message.version < followed[3])


def _adopt(core: ReplicaCore, tree: Element, message: FullCib,
           deferred: bool = False) -> PersistCib:
    core.cib, core.term, core.fresh = tree, message.term, False
    core.changed(message.digest or None)  # checked against the tree in `_checked`
    return core._persist(deferred=deferred)


def on_full(core: ReplicaCore, sender: str, message: FullCib, now: float) -> list[CibEffect]:
    """A whole copy arrived: the one the master of a sync fetched, or the master's resync
    of this replica; anything else is stale and dropped."""
    if core.master == core.node:
        sync = core.sync
        if sync is None or sync.fetching_from != sender:
            return []
        tree = _checked(core, sender, message)
        if isinstance(tree, Log):  # decide without that copy
            sync.announced.pop(sender, None)
            sync.fetching_from = None
            return [CancelTimer("fetch"), tree, *core._decide(now)]
        return [CancelTimer("fetch"), _adopt(core, tree, message), *core._complete_sync(now)]
    if sender != core.master:
        return []
    core.resyncing = False
    if _stale(core, sender, message):
        return [Log("cib_full_stale", level="warning", fields=(
            ("sender", sender), ("version", list(message.version)),
            ("holds", list(core.version))))]
    tree = _checked(core, sender, message)
    if isinstance(tree, Log):
        return [tree]
    return [_adopt(core, tree, message, deferred=True), *answer_from_copy(core)]
