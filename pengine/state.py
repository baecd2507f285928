"""The unpacked cluster handed from the unpack stage to the scheduling stages.

Invariants: `Unpacked` and everything reachable from it is treated as read-only once
unpack() returns; later stages copy what they change. `RscState` describes one
primitive's history-derived state (role, where it runs, failures, history bans).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from messaging.types import Role
from pengine.unpack_nodes import NodeWork
from pengine.unpack_options import Options
from pengine.unpack_resources import RscConfig
from pengine.xmlin import Element


@dataclass
class RscState:
    """History-derived state of one primitive (filled by unpack_history)."""

    role: Role = Role.STOPPED
    next_role: Role | None = None
    running_on: list[str] = field(default_factory=list)
    failed: bool = False
    stop_needed: bool = False
    blocked: bool = False
    managed: bool = True
    failure_ignored: bool = False
    start_pending: bool = False
    pending_task: str | None = None
    pending_node: str | None = None  # where pending_task runs (crm_mon names that node)
    locations: list[tuple[str | None, int, str]] = field(default_factory=list)
    known_on: set[str] = field(default_factory=set)
    history: dict[str, list[Element]] = field(default_factory=dict)
    agent_on: dict[str, str] = field(default_factory=dict)
    failed_stop_on: set[str] = field(default_factory=set)
    recover_on: list[str] = field(default_factory=list)  # nodes whose failure means stop+start
    # A partial live migration (migrate_to done, migrate_from not): (source, target).
    partial_migration: tuple[str, str] | None = None
    # Sources of finished migrations whose stop never ran there: each still gets a stop.
    dangling_sources: list[str] = field(default_factory=list)
    # Every unpacked migrate_to, oldest first per node: (source node, entry, succeeded).
    migrate_to_results: list[tuple[str, Element, bool]] = field(default_factory=list)
    block_failure: bool = False
    history_name: str | None = None  # the lrm_resource id this instance was matched from
    # node -> position of the lrm_resource that made it active there, in that node's list
    unpacked_at: dict[str, int] = field(default_factory=dict)
    locked_to: str | None = None  # shutdown-lock: the node the resource must stay on

    @property
    def current_node(self) -> str | None:
        """pe__current_node: a partial migration's source, else the first node it runs on."""
        if self.partial_migration is not None and self.partial_migration[0] in self.running_on:
            return self.partial_migration[0]
        return self.running_on[0] if self.running_on else None


@dataclass(frozen=True)
class Unpacked:
    """Result of the unpack stage."""

    now: datetime.datetime
    options: Options
    nodes: tuple[NodeWork, ...]
    resources: tuple[RscConfig, ...]
    states: Mapping[str, RscState]
    fence_requests: tuple[tuple[str, str], ...]
    failed_ops: tuple[Element, ...]
    have_fencing_device: bool
    requires: Mapping[str, str]
    root: Element = field(repr=False, compare=False)

    # Lookups by name are the hot path of every later stage (hundreds of thousands of calls
    # at 2000 resources); the indexes are built once, first occurrence winning like a scan.
    @cached_property
    def _nodes_by_name(self) -> dict[str, NodeWork]:
        index: dict[str, NodeWork] = {}
        for candidate in self.nodes:
            index.setdefault(candidate.name, candidate)
        return index

    @cached_property
    def _resources_by_id(self) -> dict[str, RscConfig]:
        index: dict[str, RscConfig] = {}
        for candidate in self.resources:
            index.setdefault(candidate.id, candidate)
        return index

    def node(self, name: str) -> NodeWork | None:
        return self._nodes_by_name.get(name)

    def rsc(self, rid: str) -> RscConfig:
        return self._resources_by_id[rid]

    def has_rsc(self, rid: str) -> bool:
        return rid in self._resources_by_id

    def primitives_under(self, rid: str) -> list[str]:
        """rid itself if a primitive, else the primitives below it, depth first."""
        rsc = self.rsc(rid)
        if rsc.kind == "primitive":
            return [rid]
        return [p for child in rsc.children for p in self.primitives_under(child)]

    @cached_property
    def _anonymous_orphans(self) -> dict[str, list[str]]:
        """Anonymous clone id -> its orphan primitives (Pacemaker adds each orphan instance
        to the clone's children: find_anonymous_clone -> create_child_clone)."""
        from pengine.unpack_resources import template_members

        bases = {base: r.id for r in self.resources if r.kind == "clone" and not r.unique
                 for base in template_members(r)}
        out: dict[str, list[str]] = {}
        for r in self.resources:
            if r.orphan and r.kind == "primitive" and r.id.split(":", 1)[0] in bases:
                out.setdefault(bases[r.id.split(":", 1)[0]], []).append(r.id)
        return out

    def instance_primitives(self, rid: str) -> list[str]:
        """primitives_under, plus a clone's orphan instances (its children in Pacemaker)."""
        return self.primitives_under(rid) + self._anonymous_orphans.get(rid, [])

    def current_node(self, rid: str) -> str | None:
        """pe__current_node: the first running node; for requires != fencing the first
        clean online one (a resource there is not really lost); a partial migration's source
        while the migration may still complete."""
        st = self.states[rid]
        running = st.running_on
        if not running:
            return None
        if st.partial_migration is not None and st.partial_migration[0] in running:
            # pe__count_active_node: the source when it still runs, else the first node.
            return st.partial_migration[0]
        if st.partial_migration is not None:
            return running[0]
        if self.requires.get(rid) != "fencing":
            for name in running:
                node = self.node(name)
                if node is not None and node.online and not node.unclean:
                    return name
        return running[0]

    @property
    def primitives(self) -> tuple[RscConfig, ...]:
        return tuple(r for r in self.resources if r.kind == "primitive")
