"""The unpacked cluster handed from the unpack stage to the scheduling stages.

Invariants: `Unpacked` and everything reachable from it is treated as read-only once
unpack() returns; later stages copy what they change. `RscState` describes one
primitive's history-derived state (role, where it runs, failures, history bans).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from messaging.record import Record
from messaging.types import Role
from pengine.unpack_nodes import NodeWork
from pengine.unpack_options import Options
from pengine.unpack_resources import RscConfig
from pengine.xmlin import Element


def recorded_agent(lrm_resource: Element) -> str:
    """The agent a <lrm_resource> history entry records (class:provider:type)."""
    return ":".join(x for x in (lrm_resource.get("class"), lrm_resource.get("provider"),
                                lrm_resource.get("type")) if x)


def history_entry(node: str, op: Element) -> tuple[str, str, str]:
    """One history entry of a node: (node, entry id, call-id)."""
    return node, op.get("id") or "", op.get("call-id") or ""


class RscState(Record):
    """History-derived state of one primitive (filled by unpack_history)."""

    __slots__ = ("agent_on", "block_failure", "blocked", "clone_name", "dangling_sources",
                 "expired_recurring", "failed", "failed_stop_on", "failure_ignored",
                 "history", "history_name", "known_on", "locations", "lock_recorded",
                 "locked_to", "managed", "migrate_to_results", "next_role",
                 "partial_migration", "pending_node", "pending_task", "recover_on", "role",
                 "running_on", "set_active_on", "start_pending", "stop_needed", "unpacked_at")

    def __init__(self, role: Role = Role.STOPPED, next_role: Role | None = None,
                 running_on: list[str] | None = None, failed: bool = False,
                 stop_needed: bool = False, blocked: bool = False, managed: bool = True,
                 failure_ignored: bool = False, start_pending: bool = False,
                 pending_task: str | None = None, pending_node: str | None = None,
                 locations: list[tuple[str | None, int, str]] | None = None,
                 known_on: set[str] | None = None, history: dict[str, list[Element]] | None = None,
                 agent_on: dict[str, str] | None = None, failed_stop_on: set[str] | None = None,
                 recover_on: list[str] | None = None,
                 partial_migration: tuple[str, str] | None = None,
                 dangling_sources: list[str] | None = None,
                 migrate_to_results: list[tuple[str, Element, bool, bool]] | None = None,
                 block_failure: bool = False, history_name: str | None = None,
                 unpacked_at: dict[str, int] | None = None, locked_to: str | None = None) -> None:
        self.role = role
        self.next_role = next_role
        self.failed = failed
        self.stop_needed = stop_needed
        self.blocked = blocked
        self.managed = managed
        self.failure_ignored = failure_ignored
        self.start_pending = start_pending
        self.pending_task = pending_task
        self.pending_node = pending_node  # where pending_task runs (crm_mon names that node)
        self.block_failure = block_failure
        self.history_name = history_name  # the lrm_resource id this instance was matched from
        self.locked_to = locked_to  # shutdown-lock: the node the resource must stay on
        # The lock its history records (unpack_shutdown_lock's lock_node, the last unexpired
        # one unpacked), which the status shows as "(LOCKED)" even when scheduling cancels it
        self.lock_recorded: str | None = None
        # The last history id (lrm_resource) other than its own this instance was unpacked
        # from, on any node (Pacemaker's clone_name: each such history renames it).
        self.clone_name: str | None = None
        # Nodes where it was found active with no start since it last stopped (set_active:
        # an instance of a promotable clone is Unpromoted there, not Started).
        self.set_active_on: set[str] = set()
        # (node, entry id, call-id) of the recurring entries whose failure expired: their
        # operation is run again
        self.expired_recurring: set[tuple[str, str, str]] = set()
        self._init_nodes(running_on, locations, known_on, failed_stop_on, recover_on)
        self._init_history(history, agent_on, unpacked_at)
        self._init_migrations(partial_migration, dangling_sources, migrate_to_results)

    def _init_nodes(self, running_on: list[str] | None,
                    locations: list[tuple[str | None, int, str]] | None,
                    known_on: set[str] | None, failed_stop_on: set[str] | None,
                    recover_on: list[str] | None) -> None:
        self.running_on: list[str] = list() if running_on is None else running_on
        self.locations: list[tuple[str | None, int, str]] = (
            [] if locations is None else locations)
        self.known_on: set[str] = set() if known_on is None else known_on
        self.failed_stop_on: set[str] = set() if failed_stop_on is None else failed_stop_on
        # nodes whose failure means stop+start
        self.recover_on: list[str] = list() if recover_on is None else recover_on

    def _init_history(self, history: dict[str, list[Element]] | None,
                      agent_on: dict[str, str] | None,
                      unpacked_at: dict[str, int] | None) -> None:
        self.history: dict[str, list[Element]] = dict() if history is None else history
        self.agent_on: dict[str, str] = dict() if agent_on is None else agent_on
        # node -> position of the lrm_resource that made it active there, in that node's list
        self.unpacked_at: dict[str, int] = dict() if unpacked_at is None else unpacked_at

    def _init_migrations(self, partial_migration: tuple[str, str] | None,
                         dangling_sources: list[str] | None,
                         migrate_to_results: list[tuple[str, Element, bool, bool]] | None,
                         ) -> None:
        # A partial live migration (migrate_to done, migrate_from not): (source, target).
        self.partial_migration = partial_migration
        # Sources of finished migrations whose stop never ran there: each still gets a stop.
        self.dangling_sources: list[str] = list() if dangling_sources is None else dangling_sources
        # Every unpacked migrate_to, oldest first per node: (source node, entry, succeeded,
        # managed when the source's history was read).
        self.migrate_to_results: list[tuple[str, Element, bool, bool]] = (
            [] if migrate_to_results is None else migrate_to_results)

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
    # (resource, node) histories a shutdown lock has Pacemaker wipe (lrm_delete), in
    # creation order: locks that expired (found at unpacking), then locks cancelled because
    # the resource is active elsewhere (found by the node criteria, after unpacking)
    expired_locks: tuple[tuple[str, str], ...] = ()
    cancelled_locks: tuple[tuple[str, str], ...] = ()

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
        found = self._resources_by_id.get(rid)
        return found if found is not None else self._orphan_groups_by_id[rid]

    def has_rsc(self, rid: str) -> bool:
        return rid in self._resources_by_id or rid in self._orphan_groups_by_id

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

    @cached_property
    def orphan_groups(self) -> dict[str, tuple[RscConfig, ...]]:
        """Anonymous clone of groups id -> its orphan group instances, by number.

        Pacemaker unpacks a history it cannot fit in a configured instance of a clone of
        groups as a whole new group instance (find_anonymous_clone -> create_child_clone):
        `g:3` with members `m1:3`, `m2:3`, which gets the group's pseudo actions and
        orderings like any instance (corpus cloned-group: `grrr:2_stop_0`). Ours unpacks the
        members as orphan primitives; these groups hold them (each its members with a
        history), reachable by rsc() but not listed in `resources`.
        """
        from pengine.unpack_resources import template_members

        out: dict[str, tuple[RscConfig, ...]] = {}
        for clone_id, orphans in self._anonymous_orphans.items():
            clone = self._resources_by_id[clone_id]
            first = self._resources_by_id[clone.children[0]] if clone.children else None
            if first is None or first.kind != "group":
                continue
            base = first.id.rsplit(":", 1)[0]
            numbers = sorted({int(o.rsplit(":", 1)[1]) for o in orphans})
            out[clone_id] = tuple(
                dataclasses.replace(first, id=f"{base}:{number}", orphan=True, children=tuple(
                    m for m in (f"{t}:{number}" for t in template_members(clone))
                    if m in orphans)) for number in numbers)
        return out

    @cached_property
    def _orphan_groups_by_id(self) -> dict[str, RscConfig]:
        return {g.id: g for groups in self.orphan_groups.values() for g in groups}

    def orphan_group_of(self, rid: str) -> str | None:
        """The orphan group instance an orphan primitive is a member of."""
        return next((g.id for g in self._orphan_groups_by_id.values() if rid in g.children),
                    None)

    def anonymous_orphan(self, rid: str) -> bool:
        """An orphan instance of an anonymous clone (a child of the clone in Pacemaker)."""
        return self.orphan_clone(rid) is not None

    def orphan_clone(self, rid: str) -> str | None:
        """The anonymous clone an orphan instance belongs to (its parent in Pacemaker)."""
        return next((clone for clone, orphans in self._anonymous_orphans.items()
                     if rid in orphans), None)

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
