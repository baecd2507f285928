"""DC election: one node's core, fed with membership views, peer messages and timers.

Pacemaker's election (`lib/cluster/election.c`): a node without a DC broadcasts a vote; a
peer that prefers the candidate answers no-vote, a peer that prefers itself votes back; the
candidate becomes DC when every other member has no-voted, or when its election timer runs
out without it having lost. Preference, first difference decides (`beats`): the LOWER CRM
feature set (rolling upgrades keep the DC on the oldest version), then the OLDER controller
(Pacemaker compares its process age; we compare the start time carried in the vote, which
orders nodes the same way at any instant and never changes during a vote, so both sides of a
comparison agree), then the case-insensitively smaller node name.

What we add to Pacemaker's scheme, and why:
- A node that knows a live DC (in its view) does not re-elect on membership changes that
  keep the DC; the DC re-announces itself (`DcClaim`) on every new view, so nodes merging in
  learn it and a second DC (from a healed split) meets the first. Two DCs resolve by the
  same preference order: the lesser one steps down; followers move to the better claimant.
  So flapping non-DC nodes cause no election at all.
- A sitting DC answers a vote with its claim instead of re-running the election (it only
  gives way to a lower feature set): re-electing under a DC whose claims were still in
  flight let stale claims of DCs that had just stepped down win (found by the property
  test).
- A controller that starts tells its first view so (`ControllerStarted`); a vote or that
  message from the DC's node with other credentials means the DC's controller restarted
  while its node stayed in the view: the DC is gone (Pacemaker learns it from the
  controllers' process group). From any other member it is answered by the DC with its
  claim, so the new controller follows the DC at once, and by a candidate with its vote
  again (the first one reached the node before its controller ran).
- The candidate waits only for the no-votes of members whose controller runs
  (`controllers_changed`, fed from `crmd.presence`), as Pacemaker counts the controllers'
  process group: a member without a controller does not hold the election for its timeout.
- No `dc_deadtime` wait when no DC can exist: a node whose view holds other members and
  has heard every one of them announce its start (`ControllerStarted`) since its own start
  votes at once. The wait exists for a sitting DC to claim; a controller that just started
  is not a DC, and a sitting DC would not announce a start. A node alone in its view, or
  with a member it has not heard start (which may be the DC, or have no controller),
  still waits. All nodes booting together elect in one round trip instead of 2 s.
- Membership and messages race: ccm installs a view on each node a few milliseconds apart,
  so a member's first message (the DC's claim on the new view) can arrive before our view
  admits it. Corosync's CPG delivers the view before any message of a new member (virtual
  synchrony); we get the same order by keeping messages from senders outside our view until
  our next view, replaying those it admits and dropping the rest. Dropping them left a node
  following a DC that had stepped down while they were apart (found by the property test).
- Dampening: a node starts at most one election per `holdoff` seconds; a request inside the
  window is deferred to its end (a timer), so a flapping DC cannot cause an election storm.

Bound: after the last membership change, a partition has exactly one DC within
`dc_deadtime + holdoff + 2 * election_timeout` plus message delays.

Invariants: pure (time comes in events, no randomness needed); `dc` is None or a member of
the current view; `is_dc` only after a win or an uncontested claim.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crmd.messages import ControllerStarted, Credentials, DcClaim, NoVote, PeerMessage, Vote
from messaging.effects import ArmTimer, CancelTimer, Effect, Log, Node, Publish, Send, TimerFired

TOPIC = "election"
TIMEOUT_TIMER = "election:timeout"
DC_WAIT_TIMER = "election:dc-wait"
HOLDOFF_TIMER = "election:holdoff"


@dataclass(frozen=True, slots=True)
class ElectionTiming:
    election_timeout: float = 2.0  # a candidate nobody objected to wins after this
    dc_deadtime: float = 2.0  # how long a node without DC waits for a claim before voting
    holdoff: float = 1.0  # at most one election started per holdoff seconds (dampening)


@dataclass(frozen=True, slots=True)
class ViewChanged:
    """The membership layer installed a view (`members` includes this node)."""

    members: tuple[str, ...]
    now: float


@dataclass(frozen=True, slots=True)
class DcChanged:
    """Published whenever this node's idea of the DC changes (None: no DC, electing)."""

    dc: str | None
    now: float


Event = ViewChanged | PeerMessage | TimerFired


def _version(feature_set: str) -> tuple[int, ...]:
    parts = []
    for part in feature_set.split("."):
        parts.append(int(part) if part.isdigit() else 0)
    return tuple(parts)


def _rank(credentials: Credentials) -> tuple[object, ...]:
    return (_version(credentials.feature_set), credentials.started,
            credentials.name.casefold(), credentials.name)


def beats(first: Credentials, second: Credentials) -> bool:
    """True when `first` is the better DC (lower feature set, older, smaller name)."""
    return _rank(first) < _rank(second)


class Election:
    """One node's election core. Call `start(now)` once, then `handle(event)`."""

    def __init__(self, credentials: Credentials, timing: ElectionTiming | None = None) -> None:
        self.credentials = credentials
        self.name = credentials.name
        self.timing = timing or ElectionTiming()
        self.members: frozenset[str] = frozenset({self.name})
        self.dc: str | None = None
        self.dc_credentials: Credentials | None = None
        self.round = 0
        self.candidate = False
        self.no_votes: set[str] = set()
        self.yielded_to: str | None = None
        self.yielded_credentials: Credentials | None = None
        self.last_start: float | None = None
        self.elections_started = 0
        self.announced = False
        # members whose controller runs (None: every member); only these must no-vote
        self.controllers: frozenset[str] | None = None
        self.started_peers: set[str] = set()  # members heard starting since our start
        # members whose controller died while it was our DC (`take_lost_dcs`)
        self.lost_dcs: set[str] = set()
        # messages from senders outside our view, kept until our next view (`_on_view`)
        self.held: list[PeerMessage] = []

    @property
    def is_dc(self) -> bool:
        return self.dc == self.name

    def start(self, now: float) -> list[Effect]:
        """Wait `dc_deadtime` for an existing DC to claim, then vote."""
        return [ArmTimer(DC_WAIT_TIMER, now + self.timing.dc_deadtime)]

    def handle(self, event: Event) -> list[Effect]:
        if isinstance(event, ViewChanged):
            return self._on_view(frozenset(event.members) | {self.name}, event.now)
        if isinstance(event, TimerFired):
            return self._on_timer(event)
        message, source, now = event.message, event.source, event.now
        if source == self.name or self._held_for_next_view(event):
            return []
        if isinstance(message, Vote):
            return self._on_vote(source, message, now)
        if isinstance(message, NoVote):
            return self._on_no_vote(source, message, now)
        if isinstance(message, DcClaim):
            return self._on_claim(source, message.credentials, now)
        if isinstance(message, ControllerStarted) and source == self.dc \
                and message.credentials != self.dc_credentials:
            return self.call_election(now)  # our DC's controller restarted: it is gone
        if isinstance(message, ControllerStarted) and self.is_dc:
            # a controller started on a member: tell it who the DC is now, as Pacemaker's
            # DC offers a join to a peer whose controller came online, instead of letting
            # it wait dc_deadtime for a claim
            return [Send(Node(source), DcClaim(self.credentials))]
        if isinstance(message, ControllerStarted) and self.candidate \
                and source not in self.no_votes:
            # our vote reached that node before its controller ran: vote again rather
            # than wait out the election timeout for its answer
            return [Send(Node(source), Vote(self.round, self.credentials))]
        if isinstance(message, ControllerStarted):
            self.started_peers.add(source)
            return self._vote_if_nobody_can_be_dc(now)
        return []

    def _held_for_next_view(self, event: PeerMessage) -> bool:
        """Only members of our view take part; a sender our next view admits installed
        that view first: keep its election message for that view (see `_on_view`)."""
        if event.source in self.members:
            return False
        if isinstance(event.message, (Vote, NoVote, DcClaim, ControllerStarted)):
            self.held.append(event)
        return True

    def controllers_changed(self, alive: frozenset[str], now: float) -> list[Effect]:
        """The set of members whose controller runs changed: a candidate waiting only
        for the no-vote of a controller that is gone wins now (Pacemaker counts the
        controllers' process group, `crm_active_peers`, not the membership)."""
        self.controllers = alive
        return self._check_won(now)

    def _vote_if_nobody_can_be_dc(self, now: float) -> list[Effect]:
        """Vote now, without waiting `dc_deadtime`, when every other member of the view
        announced its start since ours (see the module docstring)."""
        others = self.members - {self.name}
        if not others or not others <= self.started_peers or self.dc is not None \
                or self.candidate or self.yielded_to is not None:
            return []
        return self._start_election(now)

    def call_election(self, now: float) -> list[Effect]:
        """Forget the DC and elect: its controller went away (silent, or respawned)."""
        if self.dc is not None and not self.is_dc:
            self.lost_dcs.add(self.dc)
        effects = self._set_dc(None, None, now)
        return effects + self._start_election(now)

    # --- membership ---------------------------------------------------------------------

    def take_lost_dcs(self) -> set[str]:
        """The members whose controller died while it was our DC, forgotten once taken:
        the DC that wins answers that loss (Pacemaker's peers see such a controller leave
        the process group before its respawned successor joins it)."""
        lost, self.lost_dcs = self.lost_dcs & self.members, set()
        return lost

    def _on_view(self, members: frozenset[str], now: float) -> list[Effect]:
        held, self.held = self.held, []
        effects = self._install_view(members, now)
        for event in held:  # in arrival order, as if the view had come first
            if event.source in self.members:
                effects += self.handle(replace(event, now=now))
        return effects

    def _install_view(self, members: frozenset[str], now: float) -> list[Effect]:
        self.members = members
        self.started_peers &= members  # one that left announces again when it returns
        if not self.announced:
            self.announced = True
            return self._broadcast(ControllerStarted(self.credentials)) + self._install_view(
                members, now)
        if self.dc is not None and self.dc not in members:
            return self._set_dc(None, None, now) + self._start_election(now)
        if self.is_dc:
            return self._broadcast(DcClaim(self.credentials))
        if self.dc is not None:
            return []
        if self.candidate:
            newcomers = members - self.no_votes - {self.name}
            vote = Vote(self.round, self.credentials)
            effects = [Send(Node(peer), vote) for peer in sorted(newcomers)]
            return effects + self._check_won(now)
        if self.yielded_to is not None and self.yielded_to not in members:
            return self._start_election(now)
        return self._vote_if_nobody_can_be_dc(now)

    # --- messages -----------------------------------------------------------------------

    def _on_vote(self, source: str, vote: Vote, now: float) -> list[Effect]:
        effects: list[Effect] = []
        if source == self.dc and not self.is_dc:
            # our DC votes: its controller restarted (new credentials) or it met another
            # DC and called an election; either way it is no longer our DC
            if vote.credentials != self.dc_credentials:
                self.lost_dcs.add(source)
            effects = self._set_dc(None, None, now)
        return effects + self._count_vote(source, vote, now)

    def _count_vote(self, source: str, vote: Vote, now: float) -> list[Effect]:
        if self.is_dc:
            if _version(vote.credentials.feature_set) < _version(self.credentials.feature_set):
                # an older version must lead (rolling upgrades): give way
                return self._set_dc(None, None, now) + self._yield(source, vote, now)
            return [Send(Node(source), DcClaim(self.credentials))]
        if self.dc is not None:
            return []  # our DC answers the voter with its claim
        if beats(vote.credentials, self.credentials):
            return self._yield(source, vote, now)
        if self.yielded_credentials is not None and self.yielded_to in self.members \
                and beats(self.yielded_credentials, vote.credentials):
            return []  # the node we yielded to beats this voter too
        if self.candidate:
            return [Send(Node(source), Vote(self.round, self.credentials))]
        return self._start_election(now)

    def _yield(self, source: str, vote: Vote, now: float) -> list[Effect]:
        self.candidate = False
        self.yielded_to = source
        self.yielded_credentials = vote.credentials
        wait = self.timing.election_timeout + self.timing.dc_deadtime
        return [Send(Node(source), NoVote(vote.round, source)), CancelTimer(TIMEOUT_TIMER),
                ArmTimer(DC_WAIT_TIMER, now + wait)]

    def _on_no_vote(self, source: str, no_vote: NoVote, now: float) -> list[Effect]:
        if not self.candidate or no_vote.round != self.round or no_vote.candidate != self.name:
            return []
        self.no_votes.add(source)
        return self._check_won(now)

    def _on_claim(self, source: str, claim: Credentials, now: float) -> list[Effect]:
        if source == self.dc:
            self.dc_credentials = claim
            return []
        if self.is_dc:
            if beats(self.credentials, claim):
                return [Send(Node(source), DcClaim(self.credentials))]
            # Pacemaker's "another DC detected": elect, so that the nodes that followed
            # us hear of it (merged partitions whose views arrive in different orders
            # may have dropped the other DC's claim)
            return self._set_dc(None, None, now) + self._start_election(now)
        if self.dc is None or self.dc_credentials is None or beats(claim, self.dc_credentials):
            return self._accept(source, claim, now)
        return []

    # --- transitions --------------------------------------------------------------------

    def _start_election(self, now: float) -> list[Effect]:
        if self.last_start is not None and now < self.last_start + self.timing.holdoff:
            self.yielded_to = None
            self.yielded_credentials = None
            return [ArmTimer(HOLDOFF_TIMER, self.last_start + self.timing.holdoff)]
        self.round += 1
        self.elections_started += 1
        self.candidate = True
        self.no_votes = set()
        self.yielded_to = None
        self.yielded_credentials = None
        self.last_start = now
        effects: list[Effect] = [
            Log("election_started", fields=(("round", self.round), ("node", self.name))),
            CancelTimer(DC_WAIT_TIMER),
            ArmTimer(TIMEOUT_TIMER, now + self.timing.election_timeout)]
        effects += self._broadcast(Vote(self.round, self.credentials))
        return effects + self._check_won(now)

    def _check_won(self, now: float) -> list[Effect]:
        voters = self.members if self.controllers is None else self.members & self.controllers
        if not self.candidate or not (voters - {self.name}) <= self.no_votes:
            return []
        return self._win(now)

    def _win(self, now: float) -> list[Effect]:
        self.candidate = False
        effects = self._set_dc(self.name, self.credentials, now)
        effects += [CancelTimer(TIMEOUT_TIMER), CancelTimer(DC_WAIT_TIMER),
                    CancelTimer(HOLDOFF_TIMER)]
        return effects + self._broadcast(DcClaim(self.credentials))

    def _accept(self, source: str, claim: Credentials, now: float) -> list[Effect]:
        self.lost_dcs.clear()  # that DC answers the loss
        self.candidate = False
        self.yielded_to = None
        self.yielded_credentials = None
        effects = self._set_dc(source, claim, now)
        return [*effects, CancelTimer(TIMEOUT_TIMER), CancelTimer(DC_WAIT_TIMER),
                CancelTimer(HOLDOFF_TIMER)]

    def _set_dc(self, dc: str | None, credentials: Credentials | None,
                now: float) -> list[Effect]:
        changed = dc != self.dc
        self.dc = dc
        self.dc_credentials = credentials
        if not changed:
            return []
        return [Log("dc_changed", fields=(("dc", dc), ("node", self.name))),
                Publish(TOPIC, DcChanged(dc, now))]

    def _broadcast(self, message: object) -> list[Effect]:
        return [Send(Node(peer), message) for peer in sorted(self.members - {self.name})]

    def _on_timer(self, event: TimerFired) -> list[Effect]:
        if event.key == TIMEOUT_TIMER and self.candidate:
            return self._win(event.now)
        if event.key in (DC_WAIT_TIMER, HOLDOFF_TIMER) and self.dc is None \
                and not self.candidate:
            return self._start_election(event.now)
        return []
