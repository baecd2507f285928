"""What the controller reads off pengine's frozen transition graph, and transition keys.

The graph itself is pengine's `TransitionGraph` (pengine.api): synapses in Pacemaker's
order, each with one `GraphAction` described as Pacemaker's graph XML describes it. Two
sources produce it: `graph_of` (the in-process scheduler result) and `graph_from_xml`
(Pacemaker's ``<transition_graph>`` text, as ``crm_simulate -G`` writes it and the scheduler
corpus stores it as ``.exp``). This module only adds the controller's reading of it: how an
action is carried out (`action_kind`), its timeout, expected rc and instance parameters,
the header durations in milliseconds, and Pacemaker's transition keys; and the version
constants the controller announces (feature set, dc-version, cluster-infrastructure).

Invariants: pure functions over frozen values; nothing here builds or parses a graph.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmd.messages import RunScheduler, SchedulerDone
from pengine import api as pengine

if TYPE_CHECKING:
    from lxml import etree

    from pengine.api import GraphAction, Transition, TransitionGraph

FEATURE_SET = "3.16.2"  # the CRM feature set this controller speaks (Pacemaker 2.1.5)
# What the DC writes into crm_config when it wins, as Pacemaker's controller writes
# dc-version ("2.1.5-<build>": version-build) and cluster-infrastructure ("corosync") in
# cib-bootstrap-options: crm_mon shows them as "Stack:" and "Current DC: ... (version ...)".
# "heartbeat" would be the natural stack name, but Pacemaker's schemas (options-3.0.rng)
# refuse it (with openais and cman) as a retired stack, so the stack is named "hacluster".
DC_VERSION = "0.1.0-hacluster"
CLUSTER_INFRASTRUCTURE = "hacluster"
DC_OPTIONS_XML = (
    '<cluster_property_set id="cib-bootstrap-options">'
    f'<nvpair id="cib-bootstrap-options-dc-version" name="dc-version" value="{DC_VERSION}"/>'
    '<nvpair id="cib-bootstrap-options-cluster-infrastructure" name="cluster-infrastructure"'
    f' value="{CLUSTER_INFRASTRUCTURE}"/></cluster_property_set>')
FAKE_DC_UUID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
_DEFAULT_DELAY_MS = 60_000  # cluster-delay and stonith-timeout default (60s)


def dc_root_xml(quorate: bool, dc_uuid: str) -> str:
    """The CIB root attributes only the DC writes (Pacemaker's `crm_update_quorum`): at
    takeover, on every view, and again at the end of every join round, as Pacemaker's
    `do_dc_join_final` does, so that a dc-uuid written by a node that was DC briefly (a
    partition's DC before the merge, its write reaching the cib master after ours) does
    not stay in the CIB once the DC is idle."""
    return f'<cib have-quorum="{1 if quorate else 0}" dc-uuid="{dc_uuid}"/>'


class ActionKind(enum.Enum):
    """How the engine carries an action out."""

    PSEUDO = "pseudo"  # completes locally, at once
    RESOURCE = "resource"  # an executor operation on the action's node
    FENCE = "fence"  # a request to the fencer
    CLUSTER = "cluster"  # a controller-level action (shutdown, clear_failcount, ...)


def graph_of(transition: Transition, transition_id: int | None = None) -> TransitionGraph:
    """The graph of a scheduler result, numbered `transition_id` (default: the result's)."""
    graph = pengine.transition_graph(transition)
    if transition_id is None or transition_id == graph.transition_id:
        return graph
    return graph.replace(transition_id=transition_id)


def graph_from_xml(text: str | bytes, source: str = "<graph>") -> TransitionGraph:
    """Pacemaker's ``<transition_graph>`` XML (ValidationError naming `source` if it is not)."""
    return pengine.read_transition_graph(text, source)


def action_kind(action: GraphAction) -> ActionKind:
    """Pacemaker sends fencing as a crm_event named stonith; other crm_events are the
    controller's own (do_shutdown, clear_failcount, lrm_delete, ...)."""
    if action.kind == "pseudo_event":
        return ActionKind.PSEUDO
    if action.kind == "rsc_op":
        return ActionKind.RESOURCE
    return ActionKind.FENCE if action.operation == "stonith" else ActionKind.CLUSTER


def meta(action: GraphAction) -> dict[str, str]:
    return dict(action.attributes)


def _int(text: str | None) -> int:
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


def timeout_ms(action: GraphAction) -> int:
    """CRM_meta_timeout plus start-delay (0 when absent or invalid)."""
    values = meta(action)
    return _int(values.get("CRM_meta_timeout")) + _int(values.get("CRM_meta_start_delay"))


def interval_ms(action: GraphAction) -> int:
    return _int(meta(action).get("CRM_meta_interval"))


def target_rc(action: GraphAction) -> int:
    return _int(meta(action).get("CRM_meta_op_target_rc"))


def no_wait(action: GraphAction) -> bool:
    return meta(action).get("CRM_meta_op_no_wait") == "true"


def can_fail(action: GraphAction) -> bool:
    return meta(action).get("CRM_meta_can_fail") == "true"


def fence_action(action: GraphAction) -> str:
    """reboot / off / on for a fencing action."""
    return meta(action).get("CRM_meta_stonith_action") or action.operation_key.rsplit("-", 1)[-1]


def params(action: GraphAction) -> dict[str, str]:
    """Instance parameters (everything that is not CRM_meta_* or crm_feature_set)."""
    return {k: v for k, v in action.attributes
            if not k.startswith("CRM_meta_") and k != "crm_feature_set"}


def resource_id(action: GraphAction) -> str | None:
    """The resource instance (long-id, e.g. a clone instance "db:1"), None for no resource."""
    rsc = action.resource
    return None if rsc is None else (rsc.long_id or rsc.id)


def resource_name(action: GraphAction) -> str:
    """The name the executor knows the resource by: the operation key's resource part
    (for clone instances that is the name their history is recorded under)."""
    suffix = f"_{action.operation}_{interval_ms(action)}"
    if action.operation_key.endswith(suffix):
        return action.operation_key[: -len(suffix)]
    return resource_id(action) or ""


def agent(action: GraphAction) -> str | None:
    """class[:provider]:type of the action's resource agent."""
    rsc = action.resource
    if rsc is None:
        return None
    return ":".join(p for p in (rsc.rsc_class, rsc.provider, rsc.type) if p) or None


def cluster_delay_ms(graph: TransitionGraph) -> int:
    return pengine.duration_ms(graph.cluster_delay or None, _DEFAULT_DELAY_MS)


def stonith_timeout_ms(graph: TransitionGraph) -> int:
    return pengine.duration_ms(graph.stonith_timeout or None, cluster_delay_ms(graph))


def transition_key(action_id: int, transition_id: int, target_rc: int, dc_uuid: str) -> str:
    """Pacemaker's transition key: action first, the DC's UUID padded to 36 characters."""
    return f"{action_id}:{transition_id}:{target_rc}:{dc_uuid:<36}"


@dataclass(frozen=True, slots=True)
class TransitionKey:
    action_id: int
    transition_id: int
    target_rc: int
    dc_uuid: str


def parse_transition_key(key: str) -> TransitionKey | None:
    """Decode a transition key; None when it is not one."""
    parts = key.split(":", 3)
    if len(parts) != 4:
        return None
    try:
        return TransitionKey(int(parts[0]), int(parts[1]), int(parts[2]), parts[3].rstrip())
    except ValueError:
        return None


def run_scheduler(cib_xml: str | bytes | etree._Element, request: RunScheduler, now: float
                  ) -> SchedulerDone:
    """The pure scheduler call a shell makes for a `RunScheduler` effect (a parsed CIB is
    the caller's to give away: the scheduler may change it). The answer carries no wall
    time of its own (`request.wall` is the time the graph was computed for, not the time
    it arrives): the shell stamps it when it feeds it back."""
    when = datetime.datetime.fromtimestamp(int(request.wall), tz=datetime.UTC)
    transition = pengine.schedule(cib_xml, when, transition_id=request.transition_id)
    return SchedulerDone(graph_of(transition, request.transition_id), now)
