"""Membership agreement: the pure core that turns per-peer reachability into agreed views.

Input events: `PeerStatusChanged` (from the heartbeat layer: do I hear that node?),
`PeerMessageReceived` (a `ccm.protocol` message from another node's core) and
`TimerFired`. Output effects: `Send` of protocol messages (to a `Node` or `ALL_NODES`),
`ArmTimer`/`CancelTimer` and `Publish(VIEW_TOPIC, ViewInstalled)`. The core never reads a
clock or an RNG of its own: every event carries `now`; jitter comes from the injected
`random.Random`.

How the members of a partition agree:
1. Reachability graph. Every node gossips a versioned report of whom it hears (and relays
   the reports of others, so they cross non-transitive links). Two nodes are linked when
   each reports hearing the other; for its own links a node uses its live heartbeat view.
   One-way and non-transitive failures therefore just remove links.
2. Deterministic target. In the connected component of the graph, nodes are taken in name
   order and greedily grouped into cliques (a node joins the first clique all of whose
   members it is linked to). A node's target membership is its clique; the lowest name of
   the clique is its coordinator. Nodes with the same reports compute the same cliques,
   so every node is in exactly one target and targets of different nodes never overlap.
3. Rounds. The coordinator proposes `view_id = highest id seen + 1` with its target; a
   member acks only if its own target equals the proposed members and the id is newer
   than its installed view, else nacks. Proposals and nacks carry reports, so a round
   also brings both ends' graphs together. All acked -> `Commit`; a member installs only
   the commit of the proposal it last acked. A round nobody refused outlives a few
   proposal timeouts (asked again); failed rounds retry after a jittered delay. Nodes
   joining in a burst are batched into one round (`_join_wait`); losses never wait.
4. Repair. A member whose installed view differs from its target nudges its coordinator;
   a coordinator that hears (by gossip) a member report another view id runs a new round.

Invariants: a node's installed view id only grows; a node installs only views that contain
it and that it acked; a coordinator commits only members that acked the round.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from messaging.effects import (
    ALL_NODES,
    ArmTimer,
    CancelTimer,
    Effect,
    Node,
    Publish,
    Send,
    TimerFired,
)

from .events import NO_VIEW as NO_VIEW
from .events import Event as Event
from .events import PeerMessageReceived as PeerMessageReceived
from .events import PeerStatusChanged as PeerStatusChanged
from .events import View as View
from .events import ViewInstalled as ViewInstalled
from .graph import ambiguous_peers, target_membership
from .protocol import Ack, Commit, Nack, Nudge, Propose, Reach, Report, Reports
from .timing import Timing as Timing  # re-exported: callers import it from here

VIEW_TOPIC = "ccm.view"
BROADCAST = ALL_NODES
TIMER_SETTLE = "ccm.settle"
TIMER_ROUND = "ccm.round"
TIMER_RETRY = "ccm.retry"
TIMER_CHECK = "ccm.check"
TIMER_HOLD = "ccm.hold"
TIMER_GOSSIP = "ccm.gossip"
TIMER_JOIN = "ccm.join"
TIMER_REACH = "ccm.reach"
ROUND_EXTENSIONS = 3  # proposal timeouts a round without refusals stays open for


@dataclass(slots=True)
class _Round:
    number: int
    view_id: int
    members: frozenset[str]
    acks: set[str] = field(default_factory=set)
    nacks: set[str] = field(default_factory=set)
    extensions: int = 0  # proposal timeouts this round outlived (`_round_overdue`)


class Membership:
    """One node's membership core. Call `start(now)` once, then `handle(event)`.

    `incarnation` must grow across restarts of the node (the service passes a start time),
    so reports of the new incarnation supersede the old one's. `last_view_id` is the highest
    view id the node installed before it restarted (kept on disk by the service, like
    Corosync's ring id file), so view ids never go back on any node, even across a restart
    into a partition of its own.
    """

    def __init__(self, name: str, timing: Timing | None = None,
                 rng: random.Random | None = None, incarnation: int = 0,
                 last_view_id: int = 0):
        self.name = name
        self.timing = timing or Timing()
        self._rng = rng or random.Random(0)
        self._incarnation = incarnation
        self._counter = 0
        self._heard: set[str] = set()
        self._reports: dict[str, Report] = {}
        self.view = NO_VIEW
        self.max_view_id = max(0, last_view_id)
        self._settled = False
        self._round: _Round | None = None
        self._round_counter = 0
        self._want_round = False
        self._retry_pending = False
        self._reach_due = False
        self._acked: tuple[str, int, int] | None = None
        self._next_nudge_at = 0.0
        self._ambiguous_since: float | None = None
        self._committed_at = 0.0
        self._committed_versions: dict[str, tuple[int, int]] = {}
        self._target: frozenset[str] | None = None
        self._joiners: frozenset[str] = frozenset()  # members-to-be a join round waits for
        self._joining_since = self._joiner_seen_at = 0.0
        self._joined_at = -1.0  # when the last view that only added members was installed
        self._own_report()

    # ------------------------------------------------------------------ queries
    def heard(self) -> frozenset[str]:
        """Peers the heartbeat layer says are alive."""
        return frozenset(self._heard)

    def target(self) -> frozenset[str]:
        """The membership this node currently wants (its clique, always including itself)."""
        if self._target is None:
            self._target = target_membership(self.name, self._heard, self._reports)
        return self._target

    def coordinator(self) -> str:
        return min(self.target())

    def is_settled_view(self) -> bool:
        """True when the installed view matches target and coordinator (nothing to do)."""
        return (
            self.view.view_id > 0
            and frozenset(self.view.members) == self.target()
            and self.view.coordinator == self.coordinator()
        )

    def reports(self) -> Reports:
        own = self._reports[self.name]
        return (own, *(r for n, r in sorted(self._reports.items()) if n != self.name))

    # ------------------------------------------------------------------ events
    def start(self, now: float, heard: Iterable[str] = ()) -> list[Effect]:
        """`heard`: the peers heartbeat already reports up (a respawned ccm beside a running
        heartbeat). They go into the first Reach: a Reach of a new incarnation hearing no
        one takes the node out of its coordinator's clique until the next one arrives."""
        added = set(heard) - self._heard - {self.name}
        if added:
            self._heard |= added
            self._target = None
            self._own_report()
        return [
            Send(BROADCAST, Reach(self.reports())),
            ArmTimer(TIMER_SETTLE, now + self.timing.settle),
            ArmTimer(TIMER_CHECK, now + self.timing.check_interval),
            ArmTimer(TIMER_GOSSIP, now + self.timing.gossip_interval),
        ]

    def handle(self, event: Event) -> list[Effect]:
        if isinstance(event, PeerStatusChanged):
            return self._on_status(event)
        if isinstance(event, PeerMessageReceived):
            return self._on_message(event)
        return self._on_timer(event)

    def _on_status(self, event: PeerStatusChanged) -> list[Effect]:
        if event.node == self.name or event.up == (event.node in self._heard):
            return []
        if event.up:
            self._heard.add(event.node)
        else:
            self._heard.discard(event.node)
        self._target = None
        self._own_report()
        # The coordinator's own heartbeat sees the same change; a member nudges only if no
        # round came within a proposal timeout (at 16 nodes, 15 nudges at once were most
        # of the datagrams a survivor's heartbeat had to work through after a death).
        self._next_nudge_at = max(self._next_nudge_at, event.now + self.timing.proposal_timeout)
        effects: list[Effect] = []
        if self._retry_pending:  # new facts: no reason to wait out the back-off
            self._retry_pending = False
            effects.append(CancelTimer(TIMER_RETRY))
        effects += self._evaluate(event.now)
        proposed = any(isinstance(e, Send) and isinstance(e.message, Propose) for e in effects)
        if not proposed and (event.up or self.coordinator() == self.name):
            # A Propose carries every report; else tell our reach, with only the reports a
            # peer may not hear itself. A member says nothing of a loss: its coordinator
            # hears the same silence and proposes (a one-way cut: the member nudges after
            # a proposal timeout). Every datagram reaches every node, so 15 messages "to
            # the coordinator" at 16 nodes were 210 receptions ahead of the proposal.
            effects[:0] = self._tell_reach(event.now, event.up)
        return effects

    def _tell_reach(self, now: float, up: bool) -> list[Effect]:
        """Our Reach after a status change. Peers coming up (a boot: the running nodes'
        keepalives arrive within one grid tick) share one sent `reach_delay` later: each
        Reach is a datagram to every peer, decoded by every peer's ccm. A loss is told at
        once (failover waits for it)."""
        if self.timing.reach_delay <= 0 or not up:
            return [Send(BROADCAST, Reach(self._relay_reports()))]
        if self._reach_due:
            return []
        self._reach_due = True
        return [ArmTimer(TIMER_REACH, now + self.timing.reach_delay)]

    def _on_message(self, event: PeerMessageReceived) -> list[Effect]:
        message, src, now = event.message, event.src, event.now
        if src == self.name:
            return []  # our own broadcast coming back
        if isinstance(message, Reach | Propose | Nack | Nudge):
            self._merge(message.reports)
        if isinstance(message, Propose):
            return self._on_propose(src, message, now)
        if isinstance(message, Commit):
            return self._on_commit(message, now)
        if isinstance(message, Ack | Nack):
            return self._on_answer(src, message, now)
        if isinstance(message, Nudge):
            return self._on_nudge(src, message, now)
        return self._on_reach(src, now)

    def _on_timer(self, event: TimerFired) -> list[Effect]:
        now = event.now
        if event.key == TIMER_SETTLE:
            self._settled = True
            return self._evaluate(now)
        if event.key == TIMER_CHECK:
            return [ArmTimer(TIMER_CHECK, now + self.timing.check_interval),
                    *self._evaluate(now)]
        if event.key == TIMER_GOSSIP:  # repairs anything a lost message left stale
            # Our own report and the relays a peer may need: every node gossips its own, so
            # the full set (N reports of N names, to N peers, every second) was only load.
            return [Send(BROADCAST, Reach(self._relay_reports())),
                    ArmTimer(TIMER_GOSSIP, now + self.timing.gossip_interval)]
        if event.key == TIMER_REACH:
            self._reach_due = False
            return [Send(BROADCAST, Reach(self._relay_reports()))]
        if event.key == TIMER_RETRY:
            self._retry_pending = False
            return self._evaluate(now)
        if event.key in (TIMER_HOLD, TIMER_JOIN):
            return self._evaluate(now)
        if event.key == TIMER_ROUND and self._round is not None:
            return self._round_overdue(now)
        return []

    # ------------------------------------------------------------------ reports
    def _own_report(self) -> None:
        self._counter += 1
        self._reports[self.name] = Report(self.name, self._incarnation, self._counter,
                                          self.view.view_id, tuple(sorted(self._heard)))

    def _relay_reports(self) -> Reports:
        """Our own report plus those of peers we hear that some other peer we hear does not
        claim to hear (the relay that carries reports across non-transitive links). The
        periodic gossip still sends everything, so a lost relay is repaired there."""
        needed = []
        for node in sorted(self._heard):
            report = self._reports.get(node)
            if report is not None and any(
                    (other := self._reports.get(peer)) is not None and node not in other.reach
                    for peer in self._heard if peer != node):
                needed.append(report)
        return (self._reports[self.name], *needed)

    def _merge(self, reports: Reports) -> None:
        for report in reports:
            if report.node == self.name:
                continue
            known = self._reports.get(report.node)
            if known is None or report.version > known.version:
                self._reports[report.node] = report
                if known is None or known.reach != report.reach:
                    self._target = None

    def _on_reach(self, src: str, now: float) -> list[Effect]:
        report = self._reports.get(src)
        if (
            report is not None
            and self.coordinator() == self.name
            and src in self.view.members
            and self.is_settled_view()
            and report.view_id < self.view.view_id
            and now >= self._committed_at + self.timing.proposal_timeout
            # Only a report made after the commit says the member missed it (a gossip
            # from before it can arrive late, retransmitted; a member that missed it nudges)
            and report.version > self._committed_versions.get(src, (-1, -1))
        ):
            self._want_round = True  # a member missed our last commit
        return self._evaluate(now)

    # ------------------------------------------------------------ evaluation
    def _evaluate(self, now: float) -> list[Effect]:
        """Decide what to do after anything changed: coordinate, nudge, or nothing."""
        if not self._settled:
            return []
        held = self._hold(now)
        if held is not None:
            return held
        if self.coordinator() != self.name:
            effects = self._abort_round()
            if not self.is_settled_view():
                effects += self._maybe_nudge(now)
            return effects
        if self._round is not None:
            if self._round.members == self.target():
                return []
            return self._abort_round() + self._evaluate(now)
        if (self._want_round or not self.is_settled_view()) and not self._retry_pending:
            return self._join_wait(now) or self._start_round(now)
        return []

    def _join_wait(self, now: float) -> list[Effect]:
        """In a burst of joins (nodes only join, and the last view, under `join_max` ago,
        only added members) wait until no new joiner came for `join_quiet`, at most
        `join_max` after the first, so a booting rack goes through a few views, not one per
        node, as Heartbeat's CCM collects every node that shows up during a joining round:
        each view is work for every node's cib, attrd, controller and fencer. A lone joiner
        and a loss never wait. [] when the round may start now, else the timer to wait for."""
        joiners = self.target() - frozenset(self.view.members)
        if not joiners or not self.target() >= frozenset(self.view.members) \
                or self.timing.join_quiet <= 0:
            self._joiners = frozenset()  # a loss, or nothing to wait for: at once
            return []
        if not self._joiners:
            if self._joined_at < 0 or now >= self._joined_at + self.timing.join_max:
                return []  # not a burst: a lone joiner, or one after a loss
            self._joining_since = now
        if joiners != self._joiners:
            self._joiners, self._joiner_seen_at = joiners, now
        due = min(self._joiner_seen_at + self.timing.join_quiet,
                  self._joining_since + self.timing.join_max)
        return [] if now >= due else [ArmTimer(TIMER_JOIN, due)]

    def _hold(self, now: float) -> list[Effect] | None:
        """Wait a little while a linked peer is outside our target (likely stale reports)."""
        if not ambiguous_peers(self.name, self._heard, self._reports, self.target()):
            self._ambiguous_since = None
            return None
        if self._ambiguous_since is None:
            self._ambiguous_since = now
            return [ArmTimer(TIMER_HOLD, now + self.timing.hold)]
        if now < self._ambiguous_since + self.timing.hold:
            return []
        return None

    def _maybe_nudge(self, now: float) -> list[Effect]:
        if now < self._next_nudge_at:
            return []
        self._next_nudge_at = now + self.timing.check_interval
        nudge = Nudge(self.view.view_id, tuple(sorted(self.target())), self.max_view_id,
                      self.reports())
        return [Send(Node(self.coordinator()), nudge)]

    # ----------------------------------------------------------- coordinator
    def _start_round(self, now: float) -> list[Effect]:
        self._round_counter += 1
        members = self.target()
        self._round = _Round(self._round_counter, self.max_view_id + 1, members)
        self._want_round = False
        if members == {self.name}:
            return self._commit(now)
        proposal = Propose(self.name, self._round.view_id, tuple(sorted(members)),
                           self._round_counter, self.reports())
        # One broadcast instead of a send per member: nodes not named ignore it.
        return [Send(BROADCAST, proposal),
                ArmTimer(TIMER_ROUND, now + self.timing.proposal_timeout)]

    def _abort_round(self) -> list[Effect]:
        if self._round is None:
            return []
        self._round = None
        return [CancelTimer(TIMER_ROUND)]

    def _on_answer(self, src: str, message: Ack | Nack, now: float) -> list[Effect]:
        current = self._round
        if current is None or message.round != current.number or src not in current.members:
            return self._evaluate(now) if isinstance(message, Nack) else []
        if isinstance(message, Nack):
            self.max_view_id = max(self.max_view_id, message.max_view_id)
            current.nacks.add(src)
            current.acks.discard(src)
            if current.members != self.target():  # its reports changed our mind
                return self._abort_round() + self._evaluate(now)
        else:
            current.acks.add(src)
        if len(current.acks) + len(current.nacks) < len(current.members) - 1:
            return []
        return self._finish_round(now)

    def _round_overdue(self, now: float) -> list[Effect]:
        """Answers missing at the proposal timeout: while nobody refused and the target
        holds, the round stays open (asked again; late acks count) for `ROUND_EXTENSIONS`
        timeouts. A new round made every member answer again, late again on a loaded host
        (4-6 rounds, 1.5 s, 16 nodes at 100 ms); a dead member changes the target."""
        current = self._round
        assert current is not None
        if (current.nacks or current.members != self.target()
                or current.extensions >= ROUND_EXTENSIONS):
            return self._finish_round(now)
        current.extensions += 1
        proposal = Propose(self.name, current.view_id, tuple(sorted(current.members)),
                           current.number, self.reports())
        return [Send(BROADCAST, proposal),
                ArmTimer(TIMER_ROUND, now + self.timing.proposal_timeout)]

    def _finish_round(self, now: float) -> list[Effect]:
        current = self._round
        assert current is not None
        effects: list[Effect] = [CancelTimer(TIMER_ROUND)]
        if current.acks == current.members - {self.name}:
            return effects + self._commit(now)
        self._round = None
        self._want_round = True
        self._retry_pending = True
        delay = self.timing.retry_delay * self._rng.uniform(0.5, 1.5)
        return [*effects, ArmTimer(TIMER_RETRY, now + delay)]

    def _commit(self, now: float) -> list[Effect]:
        current = self._round
        assert current is not None
        self._round = None
        self._committed_at = now
        members = tuple(sorted(current.members))
        self._committed_versions = {m: self._reports[m].version for m in members
                                    if m in self._reports}
        commit = Commit(self.name, current.view_id, members, current.number)
        effects: list[Effect] = [Send(BROADCAST, commit)] if len(members) > 1 else []
        return effects + self._install(View(current.view_id, members, self.name), now)

    def _on_nudge(self, src: str, message: Nudge, now: float) -> list[Effect]:
        self.max_view_id = max(self.max_view_id, message.max_view_id)
        if self.coordinator() != self.name or src not in self.target():
            return self._evaluate(now)
        current = self._round
        if current is not None:
            if src in current.nacks:  # it changed its mind since: ask again now
                return self._abort_round() + self._start_round(now)
            return []  # the running round answers it
        if message.max_view_id < self.view.view_id:
            return self._evaluate(now)  # sent before it acked our latest view: stale
        if (now < self._committed_at + self.timing.proposal_timeout
                and frozenset(message.reachable) == frozenset(self.view.members)):
            return self._evaluate(now)  # crossed our commit in flight; gossip repairs a loss
        self._want_round = True
        if self._retry_pending:
            self._retry_pending = False
            return [CancelTimer(TIMER_RETRY), *self._evaluate(now)]
        return self._evaluate(now)

    # ----------------------------------------------------------- participant
    def _on_propose(self, src: str, message: Propose, now: float) -> list[Effect]:
        if self.name not in message.members or src != message.coordinator:
            return []
        if (message.coordinator == self.coordinator() and message.view_id > self.view.view_id
                and frozenset(message.members) == self.target()):  # we agree
            self.max_view_id = max(self.max_view_id, message.view_id)
            self._acked = (message.coordinator, message.view_id, message.round)
            return [Send(Node(src), Ack(message.view_id, message.round))]
        nack = Nack(message.view_id, message.round, tuple(sorted(self.target())),
                    self.max_view_id, self.reports())
        return [Send(Node(src), nack), *self._evaluate(now)]

    def _on_commit(self, message: Commit, now: float) -> list[Effect]:
        if (
            self.name not in message.members
            or self._acked != (message.coordinator, message.view_id, message.round)
            or message.view_id <= self.view.view_id
        ):
            return self._evaluate(now)
        view = View(message.view_id, message.members, message.coordinator)
        return self._install(view, now) + self._evaluate(now)

    def _install(self, view: View, now: float) -> list[Effect]:
        # a view that only added members starts or continues a burst of joins
        self._joined_at = now if set(view.members) > set(self.view.members) else -1.0
        self.view, self._joiners = view, frozenset()
        self.max_view_id = max(self.max_view_id, view.view_id)
        self._acked = None
        self._next_nudge_at = now  # if the target already moved on, say so at once
        self._own_report()
        # No Reach: the coordinator knows we run its view, the others got every report
        # with the proposal (at 16 nodes, 15 Reach queued ahead of the commit elsewhere).
        return [Publish(VIEW_TOPIC, ViewInstalled(view, now))]
