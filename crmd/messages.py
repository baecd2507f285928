"""The controller's messages: what crmd cores receive, send to peers and ask their shell to do.

Frozen slotted dataclasses only, no behaviour. Naming follows the house rule: events in the
past tense (`ActionResult`, `CibChanged`), peer messages as Pacemaker names them (vote,
no-vote, join offer/request/ack/confirm), effects imperative (`ExecuteResourceAction`,
`ModifyCib`, `UpdateAttribute`). CIB content travels as XML text. Times: every event carries
`now` (monotonic seconds) and, from the shell, `wall`: the epoch seconds at that `now` (0: not
given), the cores' only source of wall time; on an `ActionResult` `wall` is the result's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crmd.control import ControllerStatus
from lrmd.api import CancelRequest, ExecRequest, OpCompleted
from messaging.effects import Effect
from pengine.api import GraphAction, TransitionGraph

# --- election (peer messages) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a node brings to an election; see `crmd.election.beats` for the order."""

    name: str
    feature_set: str
    started: float  # epoch seconds the controller started: earlier = older = preferred


@dataclass(frozen=True, slots=True)
class Vote:
    """A candidate asks for the DC role in its election round `round`."""

    round: int
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class NoVote:
    """The sender yields to `candidate`'s round `round`."""

    round: int
    candidate: str


@dataclass(frozen=True, slots=True)
class ControllerStarted:
    """Sent once to the first view's members by a controller that just started: a node
    whose DC was the sender's node learns that this DC's controller is gone (Pacemaker
    sees that through the controllers' own process group)."""

    credentials: Credentials


@dataclass(frozen=True, slots=True)
class ControllerAlive:
    """Broadcast every keepalive period: the sender's controller runs (`crmd.presence`,
    our stand-in for Pacemaker's controller process group)."""

    credentials: Credentials


@dataclass(frozen=True, slots=True)
class DcClaim:
    """The sender is DC of its partition (sent on winning and on every membership change)."""

    credentials: Credentials


# --- status between controllers (crmadmin -S of another node) ---------------------------


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """Ask a peer's controller for its state (answered by its daemon, not its core)."""

    query_id: int


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """A controller's state for `StatusQuery` `query_id`."""

    query_id: int
    status: ControllerStatus


# --- join (peer messages) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinAnnounce:
    """A controller that found the DC without being offered a join (it started, or
    restarted while its node stayed in the view) asks the DC for an offer."""

    node: str


@dataclass(frozen=True, slots=True)
class LrmdLost:
    """`node`'s lrmd was replaced by another process (killed and respawned) while its
    controller ran on: the DC fails the node's in-flight actions (they died with the old
    lrmd) and offers the node a fresh join, which re-probes it."""

    node: str


@dataclass(frozen=True, slots=True)
class JoinOffer:
    join_id: int
    dc: str
    feature_set: str


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A node accepts an offer and tells the DC its CIB version (admin_epoch, epoch, updates)."""

    join_id: int
    node: str
    cib_version: tuple[int, int, int]
    feature_set: str


@dataclass(frozen=True, slots=True)
class JoinAckNack:
    join_id: int
    ack: bool


@dataclass(frozen=True, slots=True)
class JoinConfirm:
    """The node's answer to an ack: its ``node_state`` (in_ccm, crmd) holding its ``<lrm>``
    rebuilt from its executor history."""

    join_id: int
    node: str
    node_state_xml: str


# --- transition engine ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A result matched to a graph action by its transition key (resource op, fencing or
    cluster action); `rc` 0 means success for fencing and cluster actions."""

    transition_key: str
    node: str
    rc: int
    status: int  # messaging.types.OpStatus
    now: float
    interval_ms: int = 0
    exit_reason: str = ""
    wall: float = 0.0  # epoch seconds of the result (last-failure is written from it)
    resource: str = ""  # resource and task let the DC count failures of results that
    task: str = ""  # match no action of the running graph (a recurring monitor's change)


@dataclass(frozen=True, slots=True)
class AbortTransition:
    """Something changed (CIB, membership, a result outside the graph): replan."""

    reason: str
    now: float
    priority: int = 1_000_000  # INFINITY


@dataclass(frozen=True, slots=True)
class NodeLeft:
    """`node` left the membership: its in-flight non-fencing actions can never complete."""

    node: str
    now: float


@dataclass(frozen=True, slots=True)
class ExecuteResourceAction:
    """Run a resource action on `node` (its crmd hands it to its lrmd)."""

    node: str
    transition_key: str
    action: GraphAction


@dataclass(frozen=True, slots=True)
class ExecuteFencing:
    transition_key: str
    target: str
    action: str  # reboot / off / on
    timeout_s: float


@dataclass(frozen=True, slots=True)
class ExecuteClusterAction:
    """A controller-level action (do_shutdown, clear_failcount, lrm_delete, ...) on `node`."""

    node: str
    transition_key: str
    action: GraphAction


@dataclass(frozen=True, slots=True)
class RecordActionTimeout:
    """The DC writes the synthesized timeout result of an action that never answered."""

    node: str
    transition_key: str
    action: GraphAction
    exit_reason: str
    wall: float


@dataclass(frozen=True, slots=True)
class TransitionFinished:
    """The graph drained. outcome: complete / stopped (aborted) / terminated (stuck)."""

    transition_id: int
    outcome: str
    replan: bool
    failed: tuple[int, ...] = ()


# --- CIB, attributes, scheduler (effects) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class ModifyCib:
    """Merge `xml` (an element of `section`, e.g. a node_state) into the CIB."""

    section: str
    xml: str


@dataclass(frozen=True, slots=True)
class DeleteCib:
    """Delete what `xpath` selects (e.g. a node's lrm section before it is replaced)."""

    xpath: str


@dataclass(frozen=True, slots=True)
class SyncCib:
    """Join finalisation: answer `CibSynced` once this node's earlier writes are done.
    `source` holds the best copy (the DC if ''); the cib daemons' view sync brings that copy
    to every node, and the DC's join holds its acks until its own copy has that version
    (`crmd.join.JoinCoordinator.copy_reached`)."""

    source: str


@dataclass(frozen=True, slots=True)
class UpdateAttribute:
    """Set a transient node attribute through the attribute manager (`value++` expands)."""

    node: str
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class RunScheduler:
    """Compute transition `transition_id` from the CIB as it is once every effect before
    this one has been applied (`crmd.fsa.run_scheduler` is the pure call), then feed back
    `SchedulerDone`. `wall` is the scheduler's "now" (epoch seconds)."""

    transition_id: int
    wall: float


@dataclass(frozen=True, slots=True)
class CibChanged:
    """The CIB changed: its new version, and whether configuration or transient attributes
    moved or an operation record was deleted (those abort a transition, as Pacemaker's
    te_update_diff does; lrm and node_state additions do not), and which nodes lost
    attributes, history or state (`removals`); `timing_changed` is False only when the
    change provably left every option `crmd.options.controller_timing` reads alone."""

    version: tuple[int, int, int]
    now: float
    config_changed: bool = False
    attributes_changed: bool = False
    history_removed: bool = False
    removals: tuple[tuple[str, str], ...] = ()  # (node id, reason): abort unless down
    wall: float = 0.0
    timing_changed: bool = True  # may a controller timing option (crm_config) have moved

    @property
    def abort_reason(self) -> str:
        """Pacemaker's abort reason for this change (te_update_diff), "" for none; the
        `removals` abort only when no down event of their node is in the graph."""
        if self.config_changed:
            return "Configuration change"
        if self.attributes_changed:
            return "Transient attribute change"
        return "Resource operation removal" if self.history_removed else ""


@dataclass(frozen=True, slots=True)
class StatusUpdated:
    """The DC's CIB received status entries (node_state fragments of a CIB diff); results
    recorded there are matched against the graph, as Pacemaker's DC does."""

    status_xml: str
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class MembershipView:
    """ccm installed a view (`MembershipChanged` plus the time it was received)."""

    members: tuple[str, ...]
    quorate: bool
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class LocalOpResult:
    """The local lrmd finished an operation (first result, or a recurring one that changed)."""

    result: OpCompleted
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class LrmdReplaced:
    """The shell found another process answering as the local lrmd: the old one died, and
    with it every operation it ran (recurring monitors included)."""

    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class FenceCompleted:
    """stonithd's answer to an `ExecuteFencing` (matched by transition key)."""

    transition_key: str
    target: str
    ok: bool
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class NodeFenced:
    """The local stonithd's notification of any fencing that ended (its ``fence`` topic):
    ones this controller asked for (also answered as `FenceCompleted`) and ones asked by
    others (``stonith_admin``, another node's controller). `origin` is the node whose
    client asked, `client` that client's name."""

    target: str
    action: str
    ok: bool
    origin: str
    client: str
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class SchedulerDone:
    graph: TransitionGraph
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """`node` should leave the cluster cleanly: fed to that node's controller by its shell
    (`hacluster node stop`), which forwards it to the DC; the DC sets the node's
    ``shutdown`` attribute so the scheduler moves its resources away and plans
    ``do_shutdown``."""

    node: str
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class StopController:
    """Effect: this node's controller is done (its DC confirmed the shutdown): stop the
    node's daemons."""

    reason: str


@dataclass(frozen=True, slots=True)
class CibSynced:
    ok: bool
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class PeerMessage:
    """A crmd peer message from `source` (election, join, transition)."""

    source: str
    message: object
    now: float
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class LocalCibVersion:
    """The local CIB manager's version tuple (asked for by a join offer)."""

    version: tuple[int, int, int] = field(default=(0, 0, 0))


@dataclass(frozen=True, slots=True)
class ClearFailures:
    """Drop `resource`'s fail-count-* and last-failure-* attributes on `node`."""

    node: str
    resource: str


@dataclass(frozen=True, slots=True)
class LrmdRequest:
    """Effect: hand `request` to this node's own lrmd (never another node's: the DC reaches
    a remote lrmd only through that node's controller, as in Pacemaker)."""

    request: ExecRequest | CancelRequest


CrmdEffect = (Effect | LrmdRequest | ModifyCib | DeleteCib | SyncCib | UpdateAttribute
              | RunScheduler | ExecuteResourceAction | ExecuteFencing | ExecuteClusterAction
              | RecordActionTimeout | TransitionFinished | ClearFailures | StopController)
"""Everything a crmd core may return."""
