"""The controller state machine: Pacemaker's FSA states and inputs, and the per-node core
(`Controller`) that ties election, join, scheduling, the transition engine and the recorder.

The states, inputs and Pacemaker's matrix live in `crmd.fsa_matrix`; membership and
election handling (views, lost controllers, the DC changing) in `crmd.fsa_membership`.
Entering a state returns effects, never performs them:

    membership -> ELECTION -> (won) INTEGRATION -> FINALIZE_JOIN -> POLICY_ENGINE
               -> TRANSITION_ENGINE -> IDLE;   (lost) PENDING -> NOT_DC after the join.

Events in: `MembershipView`, `PeerMessage` (election, join, actions and results between
controllers), `TimerFired`, `CibChanged`, `CibSynced`, `SchedulerDone`, `LocalOpResult`
(this node's lrmd), `LrmdReplaced` (`crmd.lrmd_loss`), `FenceCompleted` (stonithd),
`NodeFenced` (any fencing stonithd published: `FencingAttempts.external`),
`ShutdownRequested`, `StatusUpdated` (the DC's CIB diffs, when results travel through the CIB).
Effects out: `Send` (to `Node(name)`), `LrmdRequest` (this node's lrmd), `ArmTimer`,
`CancelTimer`, `Log`, `ModifyCib`/`DeleteCib`/`SyncCib` (section "cib" merges root
attributes), `UpdateAttribute`/`ClearFailures`, `RunScheduler`, `ExecuteFencing`,
`StopController`.
Sends addressed to this node are handled inside `handle` (the DC joins and runs actions on
itself like on any node), so a shell only ever sees Sends to other nodes.

Invariants: pure (time in events); a node is DC only while its election core says so; only
the DC runs the join coordinator and the transition engine; fencing of a lost node comes
from the scheduler's graph, never from here.
"""

from __future__ import annotations

from collections.abc import Mapping

from crmd import fsa_membership as membership
from crmd.election import DcChanged, Election
from crmd.fencing import FencingAttempts
from crmd.fsa_matrix import FsaInput, FsaState, next_state
from crmd.graph import FEATURE_SET, dc_root_xml
from crmd.join import JoinClient, JoinCoordinator
from crmd.lrmd_loss import lrmd_lost, lrmd_replaced
from crmd.messages import (
    AbortTransition,
    ActionResult,
    CibChanged,
    CibSynced,
    ControllerAlive,
    ControllerStarted,
    Credentials,
    CrmdEffect,
    DcClaim,
    ExecuteClusterAction,
    ExecuteFencing,
    ExecuteResourceAction,
    FenceCompleted,
    JoinAckNack,
    JoinAnnounce,
    JoinConfirm,
    JoinOffer,
    JoinRequest,
    LocalOpResult,
    LrmdLost,
    LrmdReplaced,
    MembershipView,
    ModifyCib,
    NodeFenced,
    NoVote,
    PeerMessage,
    RecordActionTimeout,
    RunScheduler,
    SchedulerDone,
    ShutdownRequested,
    StatusUpdated,
    StopController,
    TransitionFinished,
    Vote,
)
from crmd.node_actions import NodeExecutor
from crmd.plan_trigger import PlanTrigger
from crmd.presence import KEEPALIVE_TIMER, ControllerPresence
from crmd.recorder import Recorder, results_in, timeout_record
from crmd.shutdown import expect_down, shutdown_request
from crmd.startup_grace import STARTUP_GRACE_TIMER, StartupGrace
from crmd.timing import ControllerTiming
from crmd.transition import TransitionEngine
from messaging.effects import ArmTimer, CancelTimer, Log, Node, Publish, Send, TimerFired

RECHECK_TIMER = "crmd:recheck"
_ELECTION_MESSAGES = (Vote, NoVote, DcClaim, ControllerStarted, ControllerAlive)
Effect = CrmdEffect


class Controller:
    """One node's controller core. `node_ids` maps every configured node name to its id."""

    def __init__(self, name: str, node_ids: Mapping[str, str], started: float,
                 timing: ControllerTiming | None = None,
                 feature_set: str = FEATURE_SET, *, results_from_cib: bool = False) -> None:
        """`started`: epoch seconds this controller started (its election age).
        Wall time (the scheduler's "now", CIB timestamps) arrives in events: every event
        that carries a `wall` (epoch seconds at its `now`) sets it, later times move it on
        by `now`, so a stepped clock is followed from the next such event.
        `results_from_cib`: nodes do not report results to the DC directly; the DC's shell
        feeds `StatusUpdated` from its CIB's change notifications instead (Pacemaker's way,
        which guarantees the scheduler's next input already holds every result)."""
        self.name = name
        self.node_ids = dict(node_ids)
        self.node_id = self.node_ids.get(name, name)
        self.timing = timing or ControllerTiming()
        self.state = FsaState.STARTING
        credentials = Credentials(name, feature_set, started)
        self.election = Election(credentials, self.timing.election)
        self.presence = ControllerPresence(credentials, self.timing.presence)
        self.client = JoinClient(name, self.node_id, feature_set)
        self.recorder = Recorder(name, self.node_id, feature_set)
        self.executor = NodeExecutor(name, self.node_id, self.recorder,
                                     report_directly=not results_from_cib)
        self.coordinator: JoinCoordinator | None = None
        self.engine = TransitionEngine(self.node_id)
        self.fencing = FencingAttempts(self.timing.stonith_max_attempts)
        self.startup = StartupGrace()  # plans wait for never-seen nodes still booting
        self.members: frozenset[str] = frozenset({name})
        # peers whose controller runs (`crmd.presence`, what Pacemaker learns from the
        # controllers' process group); joins go only to these, the election counts these
        self.controllers: set[str] = self.presence.alive
        self.election.controllers = frozenset(self.controllers)
        # nodes whose controller was lost: their new controller's join waits until the DC's
        # next graph started (Pacemaker's respawned one rejoins after the scheduler's answer)
        self.awaiting_replan: set[str] = set()
        self.deferred_rejoins: set[str] = set()
        self.quorate = False
        self.cib_version = (0, 0, 0)
        self.transition_id = 0
        self.replan = False
        self.trigger = PlanTrigger()
        self._wall_offset = 0.0  # epoch seconds minus `now`, from the latest event's wall

    def retime(self, timing: ControllerTiming) -> None:
        """New cluster options (`crmd.options`, crm_config changed): timers armed from now
        on use them, as Pacemaker's controller re-reads its options on every change."""
        self.timing = timing
        self.election.timing = timing.election
        self.presence.timing = timing.presence
        self.fencing.max_attempts = timing.stonith_max_attempts
        if self.coordinator is not None:
            self.coordinator.timing = timing.join

    @property
    def dc(self) -> str | None:
        return self.election.dc

    @property
    def is_dc(self) -> bool:
        return self.election.is_dc

    def start(self, now: float, wall: float = 0.0) -> list[Effect]:
        self._follow_wall(now, wall)
        self.state, self.startup.started = FsaState.PENDING, now
        return self._route([*self.election.start(now), *self.presence.start(now)], now)

    def handle(self, event: object) -> list[Effect]:
        now = float(getattr(event, "now", 0.0))
        self._follow_wall(now, float(getattr(event, "wall", None) or 0.0))
        return self._route(self._dispatch(event, now), now)

    def _follow_wall(self, now: float, wall: float) -> None:
        if wall:  # 0: the event carries no wall time; the clock may have been stepped since
            self._wall_offset = wall - now

    def _wall(self, now: float) -> float:
        return now + self._wall_offset

    # --- routing ------------------------------------------------------------------------

    def _dispatch(self, event: object, now: float) -> list[Effect]:
        if isinstance(event, MembershipView):
            return membership.on_view(self, event)
        if isinstance(event, PeerMessage):
            return self._on_peer(event)
        if isinstance(event, TimerFired):
            return self._on_timer(event)
        if isinstance(event, LocalOpResult):
            return self.executor.on_result(event, self.dc)
        if isinstance(event, (FenceCompleted, NodeFenced)):
            return self._on_fenced(event, now)
        if isinstance(event, StatusUpdated):
            return [e for r in results_in(event.status_xml, now)
                    for e in self._on_action_result(r, now)]
        if isinstance(event, SchedulerDone):
            return self._on_scheduled(event)
        if isinstance(event, CibSynced) and self.coordinator is not None:
            return self.coordinator.handle(event) + self._join_progress(now)
        if isinstance(event, CibChanged):
            return self._on_cib_changed(event, now)
        if isinstance(event, ShutdownRequested):
            return shutdown_request(event, self.is_dc, self.dc, self._wall(now), now)
        if isinstance(event, LrmdReplaced):
            return lrmd_replaced(self.executor, self.client, self.dc)
        return []

    def _on_cib_changed(self, event: CibChanged, now: float) -> list[Effect]:
        self.cib_version = event.version
        acks = self.coordinator.copy_reached(event.version) if self.coordinator else []
        reason = event.abort_reason or next((why for node, why in event.removals
                                             if not self.engine.takes_down(node)), "")
        return [*acks, *(self._abort(reason, now) if reason else [])]

    def _route(self, effects: list[Effect], now: float) -> list[Effect]:
        """Handle what this node addressed to itself; translate engine and election effects."""
        out: list[Effect] = []
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            if isinstance(effect, Send) and effect.destination == Node(self.name):
                queue += self._on_peer(PeerMessage(self.name, effect.message, now))
            elif isinstance(effect, Publish) and isinstance(effect.event, DcChanged):
                queue += membership.on_dc_changed(self, effect.event)
                out.append(effect)  # the shell tells its cib (the DC's cib is master)
            elif isinstance(effect, (ExecuteResourceAction, ExecuteClusterAction)):
                queue += expect_down(effect, self.coordinator, self.node_ids)
                queue.append(Send(Node(effect.node), effect))
            elif isinstance(effect, RecordActionTimeout):
                out.append(ModifyCib("status", timeout_record(
                    effect.node, self.node_ids.get(effect.node, effect.node), effect.action,
                    effect.transition_key, effect.exit_reason, effect.wall)))
            elif isinstance(effect, TransitionFinished):
                queue += self._on_finished(effect, now)
            elif isinstance(effect, ExecuteFencing) and self.fencing.exhausted(effect.target):
                log, failed = self.fencing.give_up(effect, now)  # fail it here, no stonithd
                queue += [log, *self.engine.handle(failed)]
            elif isinstance(effect, StopController):
                out += [*self._input(FsaInput.STOP, now), effect]
            else:
                out.append(effect)
        return out

    def _input(self, fsa_input: FsaInput, now: float) -> list[Effect]:
        before = self.state
        self.state = next_state(before, fsa_input)
        effects: list[Effect] = [Log("fsa_input", fields=(
            ("input", fsa_input.value), ("from", before.value), ("to", self.state.value)))]
        if self.state is before:
            return effects  # inputs outside the matrix change nothing
        if self.state is not FsaState.IDLE:
            effects.append(CancelTimer(RECHECK_TIMER))
        return effects + self._enter(before, fsa_input, now)

    def _enter(self, before: FsaState, fsa_input: FsaInput, now: float) -> list[Effect]:
        state = self.state
        if state is FsaState.FINALIZE_JOIN and before is not state:
            return self._join_progress(now)
        if state is FsaState.POLICY_ENGINE:
            effects: list[Effect] = []
            if before is FsaState.FINALIZE_JOIN and self.coordinator is not None:
                # a lost controller heard again is gone until its rejoin (awaiting_replan)
                online = self.coordinator.running(self.members) - self.awaiting_replan
                effects += self.coordinator.node_states(self.members, online=online)
                effects += self.fencing.cleanup(self.node_ids, self.coordinator, online)
                # Pacemaker's do_dc_join_final writes the root again (see dc_root_xml)
                effects.append(ModifyCib("cib", dc_root_xml(self.quorate, self.node_id)))
            return effects + self._request_schedule(now)
        if state is FsaState.IDLE:
            return [ArmTimer(RECHECK_TIMER, now + self.timing.recheck_interval)]
        return []

    # --- peers --------------------------------------------------------------------------

    def _on_peer(self, event: PeerMessage) -> list[Effect]:
        source, now = event.source, event.now
        lost = self.presence.restarted_sender(source, event.message) and self.is_dc
        effects = membership.controller_lost(self, source, now) if lost else []  # its old one died
        if self.presence.heard(source, now):
            effects += self.election.controllers_changed(frozenset(self.controllers), now)
        return effects + self._on_peer_message(event)

    def _on_peer_message(self, event: PeerMessage) -> list[Effect]:
        message = event.message
        if isinstance(message, _ELECTION_MESSAGES):  # a start is a join announce too:
            started = isinstance(message, ControllerStarted) and event.source in self.members
            return [*self.election.handle(event),  # the DC's claim, then its offer
                    *(membership.rejoin(self, event.source, event.now, True) if started else [])]
        if isinstance(message, (JoinOffer, JoinAckNack)):
            effects = self.client.handle(event, self.dc, self.cib_version,
                                         self.recorder.lrm_xml())
            if self.client.joined and not self.is_dc and self.state is FsaState.PENDING:
                effects += self._input(FsaInput.NOT_DC, event.now)
            return effects
        if isinstance(message, JoinAnnounce) and event.source in self.members:
            again = None if self.coordinator is None or event.source in self.awaiting_replan \
                else self.coordinator.reoffer(event.source)  # its start was its announce
            return membership.rejoin(self, event.source, event.now) if again is None else again
        if isinstance(message, (JoinRequest, JoinConfirm)) and self.coordinator is not None:
            return self.coordinator.handle(event) + self._join_progress(event.now)
        if isinstance(message, (ExecuteResourceAction, ExecuteClusterAction)):
            return self.executor.execute(message, event.source, self._wall(event.now))
        if isinstance(message, ActionResult):
            return self._on_action_result(message, event.now)
        if isinstance(message, ShutdownRequested) and self.is_dc:
            return shutdown_request(message, True, self.dc, self._wall(event.now), event.now)
        if isinstance(message, LrmdLost) and self.is_dc and event.source in self.members:
            return (lrmd_lost(self.engine, event.source, event.now)
                    + membership.rejoin(self, event.source, event.now))
        return []

    def _on_action_result(self, result: ActionResult, now: float) -> list[Effect]:
        if not self.is_dc:
            return []
        unmatched = self.engine.unmatched
        effects: list[Effect] = [*self.engine.handle(result)]
        if self.engine.finished and self.engine.unmatched > unmatched:
            effects += self._abort(self.engine.abort_reason, now)
        return effects

    def _join_progress(self, now: float) -> list[Effect]:
        coordinator = self.coordinator
        if coordinator is None:
            return []
        if self.state is FsaState.INTEGRATION and coordinator.integrated:
            return self._input(FsaInput.INTEGRATED, now)
        if self.state is FsaState.FINALIZE_JOIN:
            if not self.engine.finished:
                return []  # Pacemaker finalizes only once the running transition is over
            if coordinator.finalized and not coordinator.syncing:
                return coordinator.settle() or self._input(FsaInput.FINALIZED, now)
            return coordinator.finalize(now)
        return []

    # --- policy and transitions ---------------------------------------------------------

    def _request_schedule(self, now: float) -> list[Effect]:
        held, effects = self.startup.holds(now, self.timing.startup_grace,
                                           set(self.node_ids) - self.fencing.seen)
        if held:  # Pacemaker plans nothing before dc-deadtime: a booting node is spared
            return effects
        self.transition_id, self.replan = self.transition_id + 1, False
        return [RunScheduler(self.transition_id, self._wall(now))]

    def _on_scheduled(self, done: SchedulerDone) -> list[Effect]:
        if self.state is not FsaState.POLICY_ENGINE or \
                done.graph.transition_id != self.transition_id:
            return []  # a stale answer: a newer request is out
        if self.replan:
            return self._request_schedule(done.now)
        effects = self._input(FsaInput.PE_SUCCESS, done.now)
        effects += self.engine.start(done.graph, done.now, self._wall(done.now))
        self.awaiting_replan.clear()
        for node in sorted(self.deferred_rejoins):
            self.deferred_rejoins.discard(node)
            effects += membership.rejoin(self, node, done.now)
        return effects

    def _on_finished(self, finished: TransitionFinished, now: float) -> list[Effect]:
        if self.state is FsaState.FINALIZE_JOIN:
            return self._join_progress(now)
        if self.state is not FsaState.TRANSITION_ENGINE:
            return []
        keys = {self.engine.key_of(a) for a in self.engine.graph.actions().values()
                if a.id in finished.failed} if self.engine.graph is not None else set()
        if finished.replan and not (keys and keys <= self.fencing.given_up):
            return self._input(FsaInput.PE_CALC, now)
        return self._input(FsaInput.TE_SUCCESS, now)  # done, or only hopeless fencing left

    def _abort(self, reason: str, now: float) -> list[Effect]:
        """Replan: abort a running graph, re-ask a running scheduler, wake an idle DC."""
        if not self.is_dc:
            return []
        if self.state is FsaState.TRANSITION_ENGINE:
            return [*self.engine.handle(AbortTransition(reason, now))]
        if self.state is FsaState.POLICY_ENGINE:
            self.replan = True
            return []
        if self.state is FsaState.IDLE:
            return self.trigger.pull(reason, now)  # one run for the whole burst
        return []

    def _on_fenced(self, event: FenceCompleted | NodeFenced, now: float) -> list[Effect]:
        """Fencing done: the target is cleanly down; its history and attributes go."""
        if isinstance(event, NodeFenced):  # one the DC did not ask for: replan from it
            effects = self.fencing.external(event, self.name, self.dc, self.node_ids,
                                            self.coordinator)
            return effects + self._abort("External Fencing Operation", now) if effects else []
        effects, result = self.fencing.completed(event, self.node_ids, self.coordinator)
        return [*effects, *self.engine.handle(result)]

    def _on_timer(self, event: TimerFired) -> list[Effect]:
        key = event.key
        if key.startswith("election:"):
            return [*self.election.handle(event)]
        if key.startswith("join:") and self.coordinator is not None:
            return self.coordinator.handle(event) + self._join_progress(event.now)
        if key.startswith("action:"):
            return [*self.engine.handle(event)]
        if key == KEEPALIVE_TIMER:
            effects, silent = self.presence.tick(event.now)
            return effects + [e for node in silent
                              for e in membership.controller_lost(self, node, event.now)]
        if (key == RECHECK_TIMER or self.trigger.fired(key)) and self.state is FsaState.IDLE:
            return self._input(FsaInput.PE_CALC, event.now)
        if key == STARTUP_GRACE_TIMER and self.startup.holding \
                and self.state is FsaState.POLICY_ENGINE:  # plan: fence who never came
            return self._request_schedule(event.now)
        return []
