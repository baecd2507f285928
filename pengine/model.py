"""Public, frozen value types of the policy engine (the other packages code against these).

Invariants: every type here is a slotted messaging.record.Record (a value: equality, hashing
and replace() as a frozen dataclass; nothing assigns a field after __init__) holding only
immutable values (str, int, bool, tuples of those or of other such types); nothing here does
I/O. Records rather than dataclasses: crm_simulate pays for every dataclass at start-up.
Node names are Pacemaker unames; resource ids are the XML ids (clone instances `id:N`).
"""

from __future__ import annotations

from messaging.record import Record
from messaging.types import Role

Pairs = tuple[tuple[str, str], ...]


class Action(Record):
    """One scheduled action (a synapse candidate of the transition graph).

    key: Pacemaker's key, e.g. "rsc1_start_0", "stonith-node1-reboot", "do_shutdown-node1",
    or a pseudo action such as "grp_running_0". optional: not required in this transition.
    runnable: can be executed (False = "blocked"). reason: the summary's "due to" text.
    node_down: scheduled for a node that is offline or unclean, so left out of the graph
    even when required and runnable (Pacemaker's should_add_action_to_graph).
    """

    __slots__ = ("agent", "attributes", "graph_key", "id", "interval_ms", "key", "label",
                 "name", "node", "node_down", "node_id", "optional", "print_always",
                 "priority", "pseudo", "reason", "resource", "runnable", "task")

    def __init__(self, id: int, key: str, task: str, resource: str | None, node: str | None,
                 node_id: str | None, interval_ms: int, pseudo: bool, optional: bool,
                 runnable: bool, attributes: Pairs = (), reason: str | None = None,
                 agent: str | None = None, name: str | None = None,
                 label: str | None = None, priority: int = 0,
                 print_always: bool = False, graph_key: str | None = None,
                 node_down: bool = False) -> None:
        self.id = id
        self.key = key
        self.task = task
        self.resource = resource
        self.node = node
        self.node_id = node_id
        self.interval_ms = interval_ms
        self.pseudo = pseudo
        self.optional = optional
        self.runnable = runnable
        self.attributes = attributes
        self.reason = reason
        self.agent = agent  # "ocf:heartbeat:Dummy" style, None for pseudo/cluster actions
        self.name = name  # the graph's <primitive id> when it is not the key's resource
        self.label = label  # what crm_simulate prints for it when that is not `name`
        self.priority = priority  # its synapse's priority (the controller's abort threshold)
        self.node_down = node_down
        # in the graph even while optional, so without a summary line (pe_action_print_always:
        # the start standing for a pending one)
        self.print_always = print_always
        # the graph's operation_key when it is not `key` (an instance found under another
        # history id is keyed by that name; `key` stays the internal_operation_key)
        self.graph_key = graph_key

    @property
    def operation_key(self) -> str:
        """The key the graph (and crm_simulate's output) names this action by."""
        return self.graph_key or self.key

    @property
    def in_graph(self) -> bool:
        """True when Pacemaker would put this action into the transition graph."""
        return self.runnable and (not self.optional or self.print_always) \
            and not self.node_down


class NodeStatus(Record):
    """A cluster node as unpacked from <nodes> and its <node_state>.

    kind: "member" (cluster node), "remote" or "ping". online/unclean/pending etc. follow
    Pacemaker's determine_online_status; attributes holds instance + transient attributes.
    """

    __slots__ = ("attributes", "health", "id", "is_dc", "kind", "maintenance", "name", "online",
                 "pending", "shutdown", "standby", "standby_onfail", "unclean", "unseen")

    def __init__(self, name: str, id: str, online: bool, unclean: bool, standby: bool,
                 maintenance: bool, pending: bool, shutdown: bool, kind: str = "member",
                 attributes: Pairs = (), unseen: bool = False, standby_onfail: bool = False,
                 is_dc: bool = False, health: str | None = None) -> None:
        self.name = name
        self.id = id
        self.online = online
        self.unclean = unclean
        self.standby = standby
        self.maintenance = maintenance
        self.pending = pending
        self.shutdown = shutdown
        self.kind = kind
        self.attributes = attributes
        self.unseen = unseen
        self.standby_onfail = standby_onfail
        self.is_dc = is_dc
        self.health = health  # "RED" / "YELLOW" from #health-* attributes, else None


class ResourceStatus(Record):
    """A resource as shown in "Full List of Resources" (in display order).

    kind: "primitive", "group", "clone", "promotable". role: the current role (for a
    collective, the highest child role). running_on: node names where it is active.
    """

    __slots__ = ("agent", "allowed_on", "blocked", "children", "clone_name", "description",
                 "failed", "failure_ignored", "id", "kind", "locked_to", "maintenance", "managed",
                 "not_installed_on", "orphan", "pending_node", "pending_task", "probe_failure_rc",
                 "role", "running_on", "target_role", "target_role_text", "unique")

    def __init__(self, id: str, kind: str, agent: str, children: tuple[ResourceStatus, ...],
                 role: Role, running_on: tuple[str, ...], managed: bool, failed: bool, orphan: bool,
                 target_role: Role | None, pending_task: str | None = None, blocked: bool = False,
                 failure_ignored: bool = False, maintenance: bool = False,
                 description: str | None = None, unique: bool = False,
                 not_installed_on: tuple[str, ...] = (), locked_to: str | None = None,
                 target_role_text: str | None = None, probe_failure_rc: int | None = None,
                 pending_node: str | None = None,
                 allowed_on: tuple[str, ...] | None = None,
                 clone_name: str | None = None) -> None:
        self.id = id
        self.kind = kind
        self.agent = agent
        self.children = children
        self.role = role
        self.running_on = running_on
        self.managed = managed
        self.failed = failed
        self.orphan = orphan
        self.target_role = target_role
        self.pending_task = pending_task
        self.blocked = blocked
        self.failure_ignored = failure_ignored
        self.maintenance = maintenance
        self.description = description
        self.unique = unique  # globally-unique clone
        self.not_installed_on = not_installed_on  # nodes where a probe found the agent missing
        self.locked_to = locked_to  # shutdown-lock: "Stopped <node> (LOCKED)"
        self.target_role_text = target_role_text  # the target-role meta attribute as written
        # the exit code of a failed probe shown beside a stopped primitive ("(not installed) ")
        self.probe_failure_rc = probe_failure_rc
        # a clone's nodes where crm_mon may list it Stopped; None: every node (a symmetric
        # cluster); else those where an instance has history (Pacemaker's allowed nodes
        # before constraints are read)
        self.allowed_on = allowed_on
        self.pending_node = pending_node  # where pending_task runs
        # a clone instance's history id when it differs from its id (Pacemaker's clone_name:
        # crm_resource finds the instance by it, seed 1190's "d6:1" is instance d6:0)
        self.clone_name = clone_name


class FailedOperation(Record):
    """A failed lrm_rsc_op entry, for "Failed Resource Actions"."""

    __slots__ = ("call_id", "exec_time_ms", "exit_reason", "interval_ms", "last_rc_change", "node",
                 "op_id", "op_key", "queue_time_ms", "rc", "resource", "status", "task")

    def __init__(self, op_id: str, resource: str, node: str, task: str, interval_ms: int, rc: int,
                 status: int, call_id: int, exit_reason: str | None, last_rc_change: int | None,
                 exec_time_ms: int | None = None, queue_time_ms: int | None = None,
                 op_key: str = "") -> None:
        self.op_id = op_id
        self.resource = resource
        self.node = node
        self.task = task
        self.interval_ms = interval_ms
        self.rc = rc
        self.status = status
        self.call_id = call_id
        self.exit_reason = exit_reason  # None: the entry has no exit-reason attribute
        self.last_rc_change = last_rc_change
        self.exec_time_ms = exec_time_ms
        self.queue_time_ms = queue_time_ms
        self.op_key = op_key  # operation_key attribute ("" when the entry has none)


class LocationBan(Record):
    """A location constraint's negative score on one node (crm_mon's <ban>).

    id: the constraint's id, or its rule's id for a rule-based one (as Pacemaker names
    the unpacked location). promoted_only: the location applies to the promoted role only.
    """

    __slots__ = ("id", "node", "promoted_only", "resource", "weight")

    def __init__(self, id: str, resource: str, node: str, weight: int, promoted_only: bool) -> None:
        self.id = id
        self.resource = resource
        self.node = node
        self.weight = weight
        self.promoted_only = promoted_only


class ClusterStatus(Record):
    """The unpacked cluster: what "Current cluster status" prints."""

    __slots__ = ("bans", "dc", "execution_date", "failed_operations", "have_quorum", "nodes",
                 "options", "resources", "stonith_enabled")

    def __init__(self, nodes: tuple[NodeStatus, ...], resources: tuple[ResourceStatus, ...],
                 failed_operations: tuple[FailedOperation, ...], have_quorum: bool, dc: str | None,
                 stonith_enabled: bool, options: Pairs, execution_date: int | None = None,
                 bans: tuple[LocationBan, ...] = ()) -> None:
        self.nodes = nodes
        self.resources = resources
        self.failed_operations = failed_operations
        self.have_quorum = have_quorum
        self.dc = dc
        self.stonith_enabled = stonith_enabled
        self.options = options
        self.execution_date = execution_date  # <cib execution-date>, epoch seconds, if any
        self.bans = bans  # newest constraint first; filled on request only
