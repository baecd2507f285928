"""CIB replication, pure: one master applies every write in order, replicas follow by diffs.

Roles: at each view the master is `choose_master`'s (the lowest node id of the ccm view); every
other member is a replica. The DC's cib then takes the role, as in Pacemaker where the DC's cib
holds the master copy: each cib learns the DC from its own crmd (`DcNamed`) and tells the master
(`DcClaim`, and in its `Announce`); once the DC names itself and no member names another
(`dc_of`) the master sends `Handover` (with a sequence number within the view, its version and
digest) to every member, behind its last diff. Only the master hands over, and it stops being
master first; while the claims disagree or no DC names itself the role stays. The new master
applies writes at once when its copy is the one the handover names (else, or when its copy is
fresh, it syncs the view as a new master does); a forward to a former one is resent
(cib.replication_handover).

A cib respawned while its node stays in the view starts `fresh` (its disk copy has no status) and
follows the view's rule; a member that saw handovers answers it with the latest `Handover`, the
master answers an `Announce` outside a sync that differs from its copy with its whole CIB (as
Pacemaker's cib asks for a sync at start), but for an announce `known` to it (an answer to its
`AskAnnounce` after its sync took that member's announce, or a live member's at a handover: what
it lacks is on its way); a respawned master's first `AskAnnounce` says `fresh`: writes forwarded
to it before get 102.

Invariants:
- Writes are applied only on the master, one at a time, in the order they reach it (a replica
  forwards its clients' writes). The master's effects for a change, in order: `PersistCib` (its
  journal), one `Diff` to every node at once (`ALL_NODES`, which the shell sends only behind
  that journal write), then the acknowledgement of a local write (`Acknowledge`): exit 0 means
  the change is in the master's journal and its diff was sent to every replica (what that
  guarantees: the `cib` package's docstring), as Pacemaker's cib answers once the master
  applied the change and broadcast it. The diff names its write: a forwarded write's origin
  answers its client once it applied that diff (cib.replication_follower); the master sends
  it a `WriteResult` only for a write that failed or changed nothing. Replicas confirm
  nothing: one that misses a diff notices the version gap (or the master's announcement a
  while after each change) and takes the whole CIB.
- A replica applies a diff only from the current master, when the patch starts at its exact
  version and the result has the master's digest; else it asks for the whole CIB
  (`FetchCib`), ignoring diffs until the `FullCib` arrives, which it takes only when its
  parsed tree has the sender's digest (cib.replication_full).
- On every view change the new master collects each member's (version, term, digest), takes the
  best copy (highest version tuple; equal versions go to the copy changed in the later view, then
  to a live copy over a fresh one (a respawned master must not push its status-less copy), then to
  the master itself, then to the lowest node id) and pushes it whole to every member whose copy
  differs. The term matters when a master persisted a write and died before sending it: the
  survivors' next write reaches the same version in a later view, and must win when the old master
  comes back (that one was acknowledged). Writes reaching the master meanwhile wait, in order. It
  asks every member to announce at once, one silent at the sync timeout again (`AskAnnounce`, up to
  `SYNC_ASKS` times), before deciding without it (on an older copy: acknowledged writes lost).
- A write unanswered at a view change gets 102 (outcome unknown: retry); writes made while no
  master is known wait for one. Messages from an earlier view are dropped; those from a later one
  (ccm hands a view to members one by one) wait until this node installs it.
- A member reported fenced (`PeerFenced`) leaves this view's members: cib.replication_follower.
"""

from __future__ import annotations

from cib.model import Version, last_written_text, version_of
from cib.ops import Validator, perform
from cib.replication_follower import OriginAnswers, follow_diff, missed_diff, on_fenced
from cib.replication_full import full_copy, on_full
from cib.replication_handover import (
    maybe_hand_over,
    missed_handovers,
    on_handover,
    on_set_dc,
    refuse_forward,
)
from cib.replication_messages import (
    CIB_PROTOCOL,
    Acknowledge,
    Announce,
    AskAnnounce,
    ClientWrite,
    DcClaim,
    DcNamed,
    Diff,
    DiffBatch,
    FetchCib,
    Forward,
    FullCib,
    Handover,
    PeerFenced,
    PeerMessage,
    PersistCib,
    ViewChanged,
    WireRequest,
    WriteResult,
    unknown_outcome,
)
from cib.replication_state import SpareTree, Sync, choose_master, digest_of, drop_member
from cib.xmlio import Element, element_text
from messaging.effects import ALL_NODES, ArmTimer, CancelTimer, Effect, Log, Node, Send, TimerFired
from messaging.errors import HAError

SYNC_TIMEOUT = 2.0
SYNC_ASKS = 5  # how often a new master asks a silent member to announce before going on
FETCH_TIMEOUT = 2.0
PING_DELAY = 1.0

Event = ViewChanged | ClientWrite | PeerMessage | TimerFired | DcNamed | PeerFenced
CibEffect = Effect | PersistCib | Acknowledge


class ReplicaCore:
    """The cib of one node: master or replica depending on the view."""

    def __init__(self, node: str, cib: Element, validate: Validator, term: int = 0,
                 fresh: bool = False) -> None:
        self.node, self.term, self.validate = node, term, validate
        self._cib: Element = cib
        self._digest: str | None = None  # of `_cib`, once computed or known (`changed`)
        self.spare, self.events = SpareTree(), 0  # the master's next write's tree; events seen
        self.fresh = fresh  # loaded from disk, not synced since
        self.view, self.resyncing = -1, False
        self.members: dict[str, int] = {}
        self.master: str | None = None
        self.sync: Sync | None = None
        self.pending: dict[str, WireRequest] = {}  # forwarded, unanswered
        self.answers = OriginAnswers()  # pending writes whose diff this replica missed
        self.waiting: list[tuple[str, WireRequest]] = []
        self.wall: float | None = None  # the last wall clock an event brought
        self.dc: str | None = None  # the DC our crmd names
        self.seq = 0  # handovers seen in this view
        self.claims: dict[str, str | None] = {}  # the master's record of members' DCs
        self.accounted: set[str] = set()  # members whose announce this master's sync took
        self.early: list[tuple[int, str, object]] = []  # (view, sender, message), view ahead
        self.followed: tuple[int, int, str, Version] | None = None  # (view, seq, master,
        # version) the last diff applied here reached: cib.replication_full's stale copies

    @property
    def cib(self) -> Element:
        """This node's copy (changed in place by a replica's diffs: `changed`)."""
        return self._cib

    @cib.setter
    def cib(self, tree: Element) -> None:
        self._cib, self._digest = tree, None
        self.spare.drop()  # it followed the copy replaced

    def changed(self, digest: str | None = None) -> None:
        """The copy changed (in place, or replaced), and `digest` is its digest when the
        caller has it (the master computed it for its diff, a replica checked the master's):
        the versioned digest is computed at most once per change, never by identity (a tree
        changed in place is the same object with another digest)."""
        self._digest = digest
        self.spare.drop()

    def digest(self) -> str:
        """The versioned digest of this copy (`digest_of`), once per change: the master's
        diff, its announcements and its answers to announcements all ask for it (each a
        walk of the whole CIB, tens of ms at 2 MB)."""
        if self._digest is None:
            self._digest = digest_of(self._cib)
        return self._digest

    @property
    def version(self) -> Version:
        return version_of(self.cib, absent=0)

    def _state(self) -> tuple[Version, int, str]:
        return self.version, self.term, self.digest()

    def _persist(self, patches: tuple[str, ...] = (), deferred: bool = False,
                 digest: str = "") -> PersistCib:
        return PersistCib(self.cib, self.version, self.term, patches, deferred, digest)

    def handle(self, event: Event) -> list[CibEffect]:
        """Feed one event; returns the effects to carry out, in order."""
        self.events += 1
        if getattr(event, "wall", None) is not None:
            self.wall = event.wall  # type: ignore[union-attr]
        if isinstance(event, ViewChanged):
            return self._on_view(event)
        if isinstance(event, ClientWrite):
            return self._on_client(event.request_id, event.request, event.now)
        if isinstance(event, TimerFired):
            return self._on_timer(event)
        if isinstance(event, DcNamed):
            return on_set_dc(self, event)
        if isinstance(event, PeerFenced):
            return on_fenced(self, event)
        view = getattr(event.message, "view", None)
        if isinstance(view, int) and view > self.view:
            self.early.append((view, event.sender, event.message))  # ours comes later
            return []
        if view != self.view or event.sender not in self.members:
            return []
        return self._on_message(event.sender, event.message, event.now)

    def _on_view(self, event: ViewChanged) -> list[CibEffect]:
        effects: list[CibEffect] = [CancelTimer("sync"), CancelTimer("fetch")]
        queued = self.sync.queue if self.sync is not None else []
        effects += unknown_outcome(self.pending, "the master changed before answering")
        effects += unknown_outcome([r for o, r, _ in queued if o == self.node], "the view changed")
        self.pending.clear()
        self.answers.clear()
        self.view = event.view
        self.members = {name: ident for ident, name in event.members}
        self.seq = 0
        effects += self._take_master(choose_master(event.members), event.now)
        return effects + self._retry_waiting(event.now) + self._replay_early(event.now)

    def _replay_early(self, now: float) -> list[CibEffect]:
        """Handle what members of this view sent before we installed it (a Forward dropped
        as another view's was never answered: its client waited for its timeout)."""
        early, self.early = self.early, [held for held in self.early if held[0] > self.view]
        return [effect for view, sender, message in early
                if view == self.view and sender in self.members
                for effect in self._on_message(sender, message, now)]

    def _take_master(self, master: str | None, now: float, handover: bool = False,
                     same: bool = False) -> list[CibEffect]:
        """Follow `master`: sync if it is us, else announce; after a handover that left our
        copy the handing master's (`same`) no sync: the other members applied the same
        diffs before the handover (one that missed one announces a copy that differs and
        gets the whole CIB)."""
        self.master = master
        self.resyncing = False
        self.sync = None
        self.claims, self.accounted = {}, set()
        log = Log("cib_master", fields=(("master", master), ("view", self.view),
                                        ("handovers", self.seq)))
        if self.master == self.node:
            self.claims = {self.node: self.dc}
            if handover and same and not self.fresh:  # else: a respawned cib replayed a
                self.accounted = set(self.members)  # handover, or this copy missed a diff
                return [log]
            self.sync = Sync({self.node: self._state()}, fresh={self.node} if self.fresh else set())
            # A member that installed the view before us announced while we still dropped
            # its message as another view's: ask everyone now, not at the sync timeout.
            ask = [Send(Node(member), AskAnnounce(self.view, self.fresh))
                   for member in sorted(self.members) if member != self.node]
            return [log, *ask, ArmTimer("sync", now + SYNC_TIMEOUT), *self._maybe_decide(now)]
        if self.master is not None:
            known = handover and same and not self.fresh  # the new master's copy: no sync
            return [log, Send(Node(self.master), self._announce(known))]
        return [log]

    def _announce(self, known: bool = False) -> Announce:
        return Announce(self.view, self.version, self.digest(), self.term, self.dc,
                        self.fresh, CIB_PROTOCOL, known)

    def _retry_waiting(self, now: float) -> list[CibEffect]:
        effects: list[CibEffect] = []
        waiting, self.waiting = self.waiting, []
        for request_id, request in waiting:
            effects += self._on_client(request_id, request, now)
        return effects

    def _maybe_decide(self, now: float) -> list[CibEffect]:
        assert self.sync is not None
        if self.sync.fetching_from is not None or set(self.members) - set(self.sync.announced):
            return []
        return self._decide(now)

    def _decide(self, now: float) -> list[CibEffect]:
        assert self.sync is not None
        announced, fresh = self.sync.announced, self.sync.fresh
        best = max(announced, key=lambda name: (  # a live copy beats a restarted one's
            announced[name][0], announced[name][1], name not in fresh,
            name == self.node, -self.members.get(name, 0)))
        effects: list[CibEffect] = [CancelTimer("sync")]
        if best == self.node:
            return effects + self._complete_sync(now)
        self.sync.fetching_from = best
        return [*effects, Send(Node(best), FetchCib(self.view)),
                ArmTimer("fetch", now + FETCH_TIMEOUT)]

    def _complete_sync(self, now: float) -> list[CibEffect]:
        assert self.sync is not None
        sync, self.sync, self.fresh = self.sync, None, False
        self.accounted = set(sync.announced)
        mine = self._state()
        behind = [member for member in sorted(self.members, key=self.members.__getitem__)
                  if member != self.node and sync.announced.get(member) != mine]
        full = full_copy(self) if behind else None  # printed only when someone needs it
        effects: list[CibEffect] = [Send(Node(member), full) for member in behind if full]
        for origin, request_id, request in sync.queue:
            effects += self._apply(origin, request_id, request, now)
        return effects + maybe_hand_over(self, now)

    def _on_timer(self, event: TimerFired) -> list[CibEffect]:
        if event.key == "ping":
            self.spare.drop()  # writes paused: no second whole CIB held meanwhile
        if event.key == "ping" and self.master == self.node and self.sync is None:
            return [Send(ALL_NODES, self._announce())]  # once, as its diffs
        if self.sync is None:
            return []
        if event.key == "sync" and self.sync.fetching_from is None:
            silent = sorted(set(self.members) - set(self.sync.announced))
            if silent and self.sync.asked < SYNC_ASKS:
                self.sync.asked += 1
                return [*(Send(Node(member), AskAnnounce(self.view)) for member in silent),
                        ArmTimer("sync", event.now + SYNC_TIMEOUT)]
            return self._decide(event.now)
        if event.key == "fetch" and self.sync.fetching_from is not None:
            self.sync.announced.pop(self.sync.fetching_from, None)
            self.sync.fetching_from = None
            return self._decide(event.now)
        return []

    def _on_client(self, request_id: str, request: WireRequest, now: float) -> list[CibEffect]:
        if self.master is None:
            self.waiting.append((request_id, request))
            return []
        if self.master != self.node:
            self.pending[request_id] = request
            return [Send(Node(self.master), Forward(self.view, request_id, request))]
        if self.sync is not None:
            self.sync.queue.append((self.node, request_id, request))
            return []
        return self._apply(self.node, request_id, request, now)

    def _apply(self, origin: str, request_id: str, request: WireRequest,
               now: float) -> list[CibEffect]:
        spare = self.spare.take(self.version, self.events)  # changed by the write, or lost
        try:
            written = None if self.wall is None else last_written_text(self.wall)
            outcome = perform(self.cib, request.request(), self.validate, written,
                              request.author, spare)
        except HAError as error:
            return [self._result(origin, request_id, int(error.exit_code), str(error))]
        if outcome.patch is None:
            return [self._result(origin, request_id, 0, "OK")]
        previous = self.cib
        self.cib, self.term = outcome.cib, self.view
        patch = element_text(outcome.patch, pretty=False)
        self.spare.keep(previous, patch, self.events)
        if len(self.members) < 2:  # no replica: a whole save, synced before the answer
            return [self._persist((patch,)), self._result(origin, request_id, 0, "OK")]
        return self._send_change(origin, request_id, patch, now)

    def _send_change(self, origin: str, request_id: str, patch: str,
                     now: float) -> list[CibEffect]:
        """Journal one change and send its diff once to every node (the shell sends a
        master's frames only behind its disk writes, so the diff leaves once the change is
        in the journal); answer a local write, while a forwarded one is answered by its
        origin from the diff itself (cib.replication_follower)."""
        digest = self.digest()
        diff = Diff(self.view, patch, digest, self.version, (origin,), (request_id,))
        effects: list[CibEffect] = [self._persist((patch,), digest=digest),
                                    Send(ALL_NODES, diff), ArmTimer("ping", now + PING_DELAY)]
        if origin == self.node:
            effects.append(Acknowledge(request_id, 0, "OK", self.version))
        return effects

    def _result(self, origin: str, request_id: str, code: int, message: str,
                version: Version | None = None) -> CibEffect:
        version = version or self.version
        if origin == self.node:
            return Acknowledge(request_id, code, message, version)
        return Send(Node(origin), WriteResult(self.view, request_id, code, message, version))

    def _on_message(self, sender: str, message: object, now: float) -> list[CibEffect]:
        if isinstance(message, Forward):
            return self._on_forward(sender, message, now)
        if isinstance(message, Handover):
            return on_handover(self, message, now)
        if isinstance(message, DcClaim) and self.master == self.node:
            self.claims[sender] = message.dc
            return maybe_hand_over(self, now)
        if isinstance(message, WriteResult) and message.request_id in self.pending:
            request = self.pending.pop(message.request_id)
            self.answers.forget(message.request_id)
            if message.refused:  # sent to a master that had handed over: to the new one
                return self._on_client(message.request_id, request, now)
            return [Acknowledge(message.request_id, message.exit_code, message.message,
                                message.version)]
        if isinstance(message, Announce):
            return self._on_announce(sender, message, now)
        if isinstance(message, AskAnnounce):
            return self._on_ask(sender, message.fresh)
        if isinstance(message, FetchCib):
            return [Log("cib_full_asked", fields=(("peer", sender), ("view", self.view))),
                    Send(Node(sender), full_copy(self))]
        if isinstance(message, FullCib):
            return on_full(self, sender, message, now)
        if isinstance(message, Diff | DiffBatch) and sender == self.master:
            return missed_diff(self, message) if self.resyncing else follow_diff(self, message)
        return []

    def _on_forward(self, sender: str, message: Forward, now: float) -> list[CibEffect]:
        if self.master != self.node:
            return [refuse_forward(self, sender, message.request_id)]
        if self.sync is not None:
            self.sync.queue.append((sender, message.request_id, message.request))
            return []
        return self._apply(sender, message.request_id, message.request, now)

    def _on_announce(self, sender: str, message: Announce, now: float) -> list[CibEffect]:
        if self.master == self.node:
            if message.protocol < CIB_PROTOCOL:
                return self._refuse_older(sender, message.protocol, now)
            self.claims[sender] = message.dc
            state = (message.version, message.term, message.digest)
            if self.sync is None:  # a respawned cib: its first sync brings the status
                # A member whose copy this master accounted for (its sync took the member's
                # own announce; or it took the role by a handover, after every member
                # confirmed the last write) announces it again, older than the diffs sent
                # since: what it lacks is on its way (a whole copy for each such announce
                # cost 2 MB apiece at a join, and rolled back the diffs taken since).
                again = message.known and sender in self.accounted
                full = [Send(Node(sender), full_copy(self))] \
                    if state != self._state() and not again else []
                return full + maybe_hand_over(self, now)
            self.sync.announced[sender] = state
            self.sync.fresh |= {sender} if message.fresh else set()
            return self._maybe_decide(now)
        if sender != self.master or message.fresh:  # misdirected, or our master respawned
            return missed_handovers(self, sender)
        if not self.resyncing and (message.version, message.term, message.digest) != self._state():
            self.resyncing = True
            return [Send(Node(sender), FetchCib(self.view))]
        return []

    def _refuse_older(self, sender: str, protocol: int, now: float) -> list[CibEffect]:
        """A member announcing an older CIB protocol would wait for confirmations this
        master never sends (and, as master, make the others wait for its own): as
        Pacemaker's DC refuses the join of a node whose feature set is incompatible with
        its own, it leaves this view's replicas (its messages ignored, a sync no longer
        waits for it, the role is never handed to it) and is refused again in each later
        view until it is upgraded. It is not told: it could not read a refusal (Pacemaker
        sends no nack to a node too old to understand one either)."""
        drop_member(sender, self.members)
        self.claims.pop(sender, None)
        effects: list[CibEffect] = [Log("cib_peer_refused", level="error", fields=(
            ("peer", sender), ("protocol", protocol), ("ours", CIB_PROTOCOL),
            ("view", self.view),
            ("reason", f"node {sender} speaks CIB protocol {protocol}, incompatible with "
                       f"ours ({CIB_PROTOCOL}): it stays out of the view until upgraded")))]
        if self.sync is not None:
            return effects + self._maybe_decide(now)
        return effects

    def _on_ask(self, sender: str, fresh: bool) -> list[CibEffect]:
        if sender != self.master:
            return missed_handovers(self, sender)
        lost, self.pending = (self.pending, {}) if fresh else ({}, self.pending)
        if fresh:  # a respawned master's copy may lack the diffs it sent before (its sync)
            self.followed = None
        return [*unknown_outcome(lost, "the master's cib restarted before answering"),
                Send(Node(sender), self._announce(known=True))]
