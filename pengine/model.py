"""Public, frozen value types of the policy engine (the other packages code against these).

Invariants: every type here is a frozen, slotted dataclass holding only immutable values
(str, int, bool, tuples of those or of other frozen types); nothing here does I/O.
Node names are Pacemaker unames; resource ids are the XML ids (clone instances `id:N`).
"""

from __future__ import annotations

from dataclasses import dataclass

from messaging.types import Role

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Action:
    """One scheduled action (a synapse candidate of the transition graph).

    key: Pacemaker's key, e.g. "rsc1_start_0", "stonith-node1-reboot", "do_shutdown-node1",
    or a pseudo action such as "grp_running_0". optional: not required in this transition.
    runnable: can be executed (False = "blocked"). reason: the summary's "due to" text.
    """

    id: int
    key: str
    task: str
    resource: str | None
    node: str | None
    node_id: str | None
    interval_ms: int
    pseudo: bool
    optional: bool
    runnable: bool
    attributes: Pairs = ()
    reason: str | None = None
    agent: str | None = None  # "ocf:heartbeat:Dummy" style, None for pseudo/cluster actions
    name: str | None = None  # the graph's <primitive id> when it is not the key's resource

    @property
    def in_graph(self) -> bool:
        """True when Pacemaker would put this action into the transition graph."""
        return self.runnable and not self.optional


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A cluster node as unpacked from <nodes> and its <node_state>.

    kind: "member" (cluster node), "remote" or "ping". online/unclean/pending etc. follow
    Pacemaker's determine_online_status; attributes holds instance + transient attributes.
    """

    name: str
    id: str
    online: bool
    unclean: bool
    standby: bool
    maintenance: bool
    pending: bool
    shutdown: bool
    kind: str = "member"
    attributes: Pairs = ()
    unseen: bool = False
    standby_onfail: bool = False
    is_dc: bool = False
    health: str | None = None  # "RED" / "YELLOW" from #health-* attributes, else None


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    """A resource as shown in "Full List of Resources" (in display order).

    kind: "primitive", "group", "clone", "promotable". role: the current role (for a
    collective, the highest child role). running_on: node names where it is active.
    """

    id: str
    kind: str
    agent: str
    children: tuple[ResourceStatus, ...]
    role: Role
    running_on: tuple[str, ...]
    managed: bool
    failed: bool
    orphan: bool
    target_role: Role | None
    pending_task: str | None = None
    blocked: bool = False
    failure_ignored: bool = False
    maintenance: bool = False
    description: str | None = None
    unique: bool = False  # globally-unique clone
    not_installed_on: tuple[str, ...] = ()  # nodes where a probe found the agent missing
    locked_to: str | None = None  # shutdown-lock: "Stopped <node> (LOCKED)"
    target_role_text: str | None = None  # the target-role meta attribute as written
    # the exit code of a failed probe shown beside a stopped primitive ("(not installed) ")
    probe_failure_rc: int | None = None
    pending_node: str | None = None  # where pending_task runs


@dataclass(frozen=True, slots=True)
class FailedOperation:
    """A failed lrm_rsc_op entry, for "Failed Resource Actions"."""

    op_id: str
    resource: str
    node: str
    task: str
    interval_ms: int
    rc: int
    status: int
    call_id: int
    exit_reason: str | None  # None: the entry has no exit-reason attribute
    last_rc_change: int | None
    exec_time_ms: int | None = None
    queue_time_ms: int | None = None
    op_key: str = ""  # operation_key attribute ("" when the entry has none)


@dataclass(frozen=True, slots=True)
class LocationBan:
    """A location constraint's negative score on one node (crm_mon's <ban>).

    id: the constraint's id, or its rule's id for a rule-based one (as Pacemaker names
    the unpacked location). promoted_only: the location applies to the promoted role only.
    """

    id: str
    resource: str
    node: str
    weight: int
    promoted_only: bool


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """The unpacked cluster: what "Current cluster status" prints."""

    nodes: tuple[NodeStatus, ...]
    resources: tuple[ResourceStatus, ...]
    failed_operations: tuple[FailedOperation, ...]
    have_quorum: bool
    dc: str | None
    stonith_enabled: bool
    options: Pairs
    execution_date: int | None = None  # <cib execution-date>, epoch seconds, if any
    bans: tuple[LocationBan, ...] = ()  # newest constraint first; filled on request only
