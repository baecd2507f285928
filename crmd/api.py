"""The public face of crmd: the pure controller cores and the messages they speak.

Other packages (the crmd daemon's shell, lab's whole-cluster simulator, tests) import only
this module. Everything here is pure: cores take events that carry time and return effects.

Peer messages (the `message` of `Send(Node(name), message)` and `PeerMessage`) travel with
`encode`/`decode` (`PEER_MESSAGES` lists them).

Driving one node (`Controller`):
    controller = Controller(name, node_ids, started=epoch_at_start, timing=...)
    effects = controller.start(now)
    effects = controller.handle(event)        # for every event below, in arrival order

Events in: `MembershipView` (from ccm's `MembershipChanged`), `PeerMessage` (any crmd
message from another node's controller), `TimerFired`, `CibChanged`, `CibSynced`,
`SchedulerDone` (answer to `RunScheduler`, see `run_scheduler`), `LocalOpResult` (this
node's lrmd), `LrmdReplaced` (another process answers as this node's lrmd: the old one died),
`FenceCompleted` (stonithd), `NodeFenced` (every fencing stonithd publishes),
`ShutdownRequested`, `StatusUpdated` (DC only,
when results travel through the CIB: `Controller(..., results_from_cib=True)`).

Effects out (perform them in order): `Send(Node(name), message)` to another controller
(a node's own controller may be addressed too: the shell delivers it back as a `PeerMessage`)
or `LrmdRequest(ExecRequest | CancelRequest)` to this node's lrmd; `ArmTimer`/`CancelTimer`;
`Log`; `ModifyCib(section, xml)` (section "status" merges a node_state, "nodes" a node entry,
"cib" sets root attributes such as have-quorum and dc-uuid); `DeleteCib(xpath)`;
`SyncCib(source)` (join: make the partition's CIBs the copy of `source`, '' = this DC's,
then feed `CibSynced`); `UpdateAttribute`/`ClearFailures` (attrd); `RunScheduler` (then
feed `SchedulerDone`); `ExecuteFencing` (stonithd; then feed `FenceCompleted`);
`StopController` (the DC confirmed this node's shutdown: stop its daemons).
"""

from __future__ import annotations

from crmd.election import TOPIC as ELECTION_TOPIC
from crmd.election import DcChanged, Election, ElectionTiming, ViewChanged, beats
from crmd.fsa import RECHECK_TIMER, Controller
from crmd.fsa_matrix import TRANSITIONS, FsaInput, FsaState, next_state
from crmd.graph import (
    FEATURE_SET,
    ActionKind,
    TransitionKey,
    action_kind,
    graph_from_xml,
    graph_of,
    parse_transition_key,
    run_scheduler,
    transition_key,
)
from crmd.join import (
    JoinClient,
    JoinCoordinator,
    JoinPhase,
    JoinTiming,
    feature_set_compatible,
    node_state_xml,
    probe_requests,
)
from crmd.messages import (
    AbortTransition,
    ActionResult,
    CibChanged,
    CibSynced,
    ClearFailures,
    ControllerAlive,
    ControllerStarted,
    Credentials,
    CrmdEffect,
    DcClaim,
    DeleteCib,
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
    LrmdRequest,
    MembershipView,
    ModifyCib,
    NodeFenced,
    NodeLeft,
    NoVote,
    PeerMessage,
    RecordActionTimeout,
    RunScheduler,
    SchedulerDone,
    ShutdownRequested,
    StatusUpdated,
    StopController,
    SyncCib,
    TransitionFinished,
    UpdateAttribute,
    Vote,
)
from crmd.node_actions import NodeExecutor
from crmd.recorder import Recorder, merge_status, results_in, timeout_record
from crmd.timing import ControllerTiming
from crmd.transition import TransitionEngine
from crmd.wire import PEER_MESSAGES, WIRE_VERSION, decode, encode

__all__ = [
    "ELECTION_TOPIC",
    "FEATURE_SET",
    "PEER_MESSAGES",
    "RECHECK_TIMER",
    "TRANSITIONS",
    "WIRE_VERSION",
    "AbortTransition",
    "ActionKind",
    "ActionResult",
    "CibChanged",
    "CibSynced",
    "ClearFailures",
    "Controller",
    "ControllerAlive",
    "ControllerStarted",
    "ControllerTiming",
    "Credentials",
    "CrmdEffect",
    "DcChanged",
    "DcClaim",
    "DeleteCib",
    "Election",
    "ElectionTiming",
    "ExecuteClusterAction",
    "ExecuteFencing",
    "ExecuteResourceAction",
    "FenceCompleted",
    "FsaInput",
    "FsaState",
    "JoinAckNack",
    "JoinAnnounce",
    "JoinClient",
    "JoinConfirm",
    "JoinCoordinator",
    "JoinOffer",
    "JoinPhase",
    "JoinRequest",
    "JoinTiming",
    "LocalOpResult",
    "LrmdLost",
    "LrmdReplaced",
    "LrmdRequest",
    "MembershipView",
    "ModifyCib",
    "NoVote",
    "NodeExecutor",
    "NodeFenced",
    "NodeLeft",
    "PeerMessage",
    "RecordActionTimeout",
    "Recorder",
    "RunScheduler",
    "SchedulerDone",
    "ShutdownRequested",
    "StatusUpdated",
    "StopController",
    "SyncCib",
    "TransitionEngine",
    "TransitionFinished",
    "TransitionKey",
    "UpdateAttribute",
    "ViewChanged",
    "Vote",
    "action_kind",
    "beats",
    "decode",
    "encode",
    "feature_set_compatible",
    "graph_from_xml",
    "graph_of",
    "merge_status",
    "next_state",
    "node_state_xml",
    "parse_transition_key",
    "probe_requests",
    "results_in",
    "run_scheduler",
    "timeout_record",
    "transition_key",
]
