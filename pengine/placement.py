"""The assignment stage: score tables, node criteria, colocations; the choice of one node
for a primitive lives in `pengine.placement_choice`.

Invariants: resources are assigned in Pacemaker's order (priority, document order,
orphans last; group members in order); a resource's "this with" primaries are assigned
before it; the result (Placement) is frozen and records each primitive's final table.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field

from messaging.types import Role
from pengine.colocation import Table, apply_primary, can_run_any, merge_dependents
from pengine.colocation_map import (
    escalated_primary,
    map_colocations,
    uncollocated,
    with_this_lists,
)
from pengine.constraints import Colocation, Constraints
from pengine.discovery import Discovery
from pengine.placement_choice import choose
from pengine.placement_sort import clone_table, strategy_order
from pengine.placement_tables import (
    build_tables,
    clone_members,
    clone_orphans,
    primitive_members,
    show_group_scores,
)
from pengine.promotion import cap_promotion_without_quorum
from pengine.score_lines import table_lines
from pengine.scores import INF, add
from pengine.state import Unpacked
from pengine.unpack_nodes import NodeWork
from pengine.utilization import (
    combine,
    node_capacities,
    resource_usage,
)

_VARIANT_RANK = {"clone": 2, "group": 1, "primitive": 0}


@dataclass(frozen=True)
class Placement:
    """Where each primitive goes and with which next role."""

    assigned: Mapping[str, str | None]
    next_role: Mapping[str, Role]
    tables: Mapping[str, Mapping[str, int]]
    colocations: tuple[Colocation, ...]
    managed: Mapping[str, bool]
    score_lines: tuple[str, ...]
    order: tuple[str, ...] = ()
    # clone id -> its instances in the order assignment (and promotion) left them
    instance_order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # instances an interleaved ordering left without a partner: node and role they had
    inhibited: Mapping[str, tuple[str, Role]] = field(default_factory=dict)
    # the same instances' primitives -> the (first, then) clones of the ordering that did it
    inhibited_by: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # unmanaged instances the clone's distribution left over its limit: still where they
    # run, but with no node assigned, so no recurring monitor is scheduled for them
    unmanaged_over_limit: frozenset[str] = frozenset()


class _Placer:
    def __init__(self, u: Unpacked, cons: Constraints) -> None:
        self.u = u
        self.cons = cons
        self.nodes = {n.name: n for n in u.nodes}
        self._init_assignment_state(u)
        self._init_colocation_state(u, cons)
        self._init_clone_state(u, cons)
        self._sort_colocation_lists()
        self.discovery = Discovery(u, cons)
        build_tables(self, cons)
        self.group_last = self._group_dependents()
        for c in self.colocations:  # clones merged whole into their primaries' tables
            if self.u.rsc(c.dependent).kind == "clone":
                self.clone_tables[c.dependent] = self._strategy_table(c.dependent)

    def _init_assignment_state(self, u: Unpacked) -> None:
        self.tables: dict[str, Table] = {}
        self.group_tables: dict[str, Table] = {}  # a group's own (placement_tables)
        self.assigned: dict[str, str | None] = {}
        self.next_role: dict[str, Role] = {}
        self.inhibited: dict[str, tuple[str, Role]] = {}
        self.inhibited_by: dict[str, tuple[str, str]] = {}
        self.busy: set[str] = set()
        self.count: dict[str, int] = {n.name: 0 for n in u.nodes}
        self.lines: list[str] = []
        self.managed = {rid: st.managed for rid, st in u.states.items()}
        self.capacity = node_capacities(u)
        self.usage = resource_usage(u)
        self.used: dict[str, dict[str, int]] = {}
        self.threshold_bans: dict[str, set[str]] = {}

    def _init_colocation_state(self, u: Unpacked, cons: Constraints) -> None:
        # "X with group" colocations stay on the group until it is assigned (Pacemaker moves
        # them to its last member then): merges through the group's members before that do
        # not see them.
        self.group_primary: dict[int, str] = {}
        self.groups_started: set[str] = set()
        self.groups_assigned: set[str] = set()
        self.colocations = map_colocations(u, cons, self.group_primary)
        self.this_with: dict[str, list[Colocation]] = {}
        self.with_this: dict[str, list[Colocation]] = {}

    def _init_clone_state(self, u: Unpacked, cons: Constraints) -> None:
        self.anonymous = clone_members(u, unique=False)
        self.unique_instances = {inst for r in u.resources if r.kind == "clone" and r.unique
                                 for inst in r.children}
        self.instance_order: dict[str, list[str]] = {}
        self.clone_tables: dict[str, Table] = {}  # clone id -> its own table, when merged
        self.parent_copies: dict[str, int] = {}  # instance -> allocate_instance attempts
        self.allowed_after: dict[str, Table] = {}  # clone -> its own table once assigned
        self.preassigned: set[str] = set()  # instances kept on their current node (pass 1)
        self.merging: set[str] = set()  # clones whose promotion order is being sorted
        self.promotable = clone_members(u, promotable=True)
        # With fencing enabled and no device, pcmk__primitive_assign unmanages what it
        # assigns; a clone's instances over clone-max (orphans included) are never assigned,
        # so they stay managed and stop.
        self.unmanage_assigned = u.options.stonith_enabled and not u.have_fencing_device
        self.stay_managed = clone_orphans(u)
        self.orphan_instances: dict[str, list[str]] = {}  # clone -> orphans distributed
        # clone -> managed orphans its distribution reached (assigned nowhere)
        self.reached_orphans: dict[str, list[str]] = {}
        # clone -> its children in Pacemaker's current order, orphans included
        self.children_order: dict[str, list[str]] = {}
        self.over_limit: set[str] = set()  # instances distribute_children left provisional
        # unmanaged instances over clone-max: left where they run, never assigned there
        self.unmanaged_over_limit: set[str] = set()
        self.clone_constraints = {(c.id, c.dependent) for c in cons.colocations
                                  if u.rsc(c.dependent).kind == "clone"}

    def _group_dependents(self) -> dict[int, str]:
        """Mapped colocations whose dependent was a group: id() -> the group's last member."""
        groups = {c.id: self.u.rsc(c.dependent) for c in self.cons.colocations
                  if self.u.rsc(c.dependent).kind == "group"}
        out: dict[int, str] = {}
        for c in self.colocations:
            group = groups.get(c.id)
            members = primitive_members(self.u, group.id) if group is not None else []
            if members and c.dependent == members[0]:
                out[id(c)] = members[-1]
        return out

    def last_member(self, c: Colocation) -> str | None:
        return self.group_last.get(id(c))

    def _sort_colocation_lists(self) -> None:
        """Each primitive's "this with" and "with this" colocations, in Pacemaker's order.

        Pacemaker inserts each colocation into sorted lists (g_list_insert_sorted), which
        puts a new entry before the equal ones: among colocations with the same primary
        (or dependent) the later constraint comes first. Reversed creation order plus a
        stable sort gives the same lists. A clone instance's "this with" list gets its
        clone's colocations inserted one by one (pcmk__add_collective_constraints), which
        reverses them again: those come first, in creation order (seed 133).
        """
        inherited = [c for c in self.colocations if self._inherited_from_clone(c)]
        inherited_ids = {id(c) for c in inherited}
        for c in inherited + [c for c in reversed(self.colocations) if id(c) not in inherited_ids]:
            self.this_with.setdefault(c.dependent, []).append(c)
        self.with_this = with_this_lists(self.u, self.colocations, inherited_ids,
                                         self.group_primary,
                                         lambda c: self._coloc_key(c.dependent))
        # cmp_primary_priority compares the constraint's own primary: for "X with group" that
        # is the group (a group variant sorts before primitives), not the member it maps to.
        for lst in self.this_with.values():
            lst.sort(key=lambda c: self._coloc_key(self.group_primary.get(id(c), c.primary)))

    def _inherited_from_clone(self, c: Colocation) -> bool:
        """Was this instance colocation mapped from a constraint on its clone?"""
        top = self.u.rsc(c.dependent)
        while top.parent is not None and top.kind != "clone":
            top = self.u.rsc(top.parent)
        return top.kind == "clone" and top.id != c.dependent \
            and (c.id, top.id) in self.clone_constraints

    def _coloc_key(self, rid: str) -> tuple[int, int, bool, str]:
        """cmp_primary_priority / cmp_dependent_priority: priority, variant (clones first),
        promotable clones before other clones (seed 54), then id."""
        rsc = self.u.rsc(rid)
        top = rsc
        while top.parent is not None:
            top = self.u.rsc(top.parent)
        return (-rsc.priority, -_VARIANT_RANK.get(rsc.kind, 0),
                not (rsc.kind == "clone" and rsc.promotable), rid)

    def _add(self, table: Table, node: str | None, score: int) -> None:
        names = [node] if node is not None else list(self.nodes)
        for name in names:
            if name in table:
                table[name] = add(table[name], score)
            elif name in self.nodes:
                # pcmk__apply_location inserts the constraint's own node copy, whose
                # weight is the constraint's score whatever the node's state (seed 23)
                table[name] = score

    def run(self) -> Placement:
        order = [r.id for r in self.u.resources if r.parent is None]
        if self.u.options.placement_strategy != "default":
            order = strategy_order(self, order)
        for rid in order:
            self._assign_tree(rid)
        inhibit_unpaired_instances(self)
        cap_promotion_without_quorum(self)
        return Placement(
            assigned=self.assigned, next_role=self.next_role, tables=self.tables,
            colocations=tuple(self.colocations), managed=self.managed,
            score_lines=tuple(self.lines), order=tuple(order),
            instance_order={cid: tuple(insts) for cid, insts in self.instance_order.items()},
            inhibited=self.inhibited, inhibited_by=self.inhibited_by,
            unmanaged_over_limit=frozenset(self.unmanaged_over_limit),
        )

    def _strategy_table(self, rid: str) -> Table:
        """The table cmp_resources compares: a clone's own table (node base scores and the
        clone's location constraints, no instance stickiness), else the first primitive's
        merged with its dependents'."""
        if self.u.rsc(rid).kind == "clone":
            return clone_table(self, rid)
        prims = self.primitives_under(rid)
        if not prims:
            return {}
        # Like assignment's own merge, the first primitive's scores take in those of the
        # resources colocated with it (dependents, recursively: a group's later members
        # through the internal colocations), each by its colocation's factor.
        merged = dict(self.tables.get(prims[0], {}))
        for c in self.with_this.get(prims[0], []):
            if c.dependent in self.tables:
                merged = merge_dependents(
                    c.dependent, merged, c.node_attribute, c.score / INF, tables=self.tables,
                    with_this=self.with_this, nodes=self.nodes, has_influence=self._influence,
                    merging=frozenset({prims[0]}), group_last=self.last_member,
                    last=self.last_member(c))
        return merged

    def _assign_tree(self, rid: str, prefer: str | None = None) -> str | None:
        rsc = self.u.rsc(rid)
        if rsc.kind == "primitive":
            return self.assign(rid, prefer)
        if rsc.kind == "clone":
            if rid not in self.assigned:
                self.assigned[rid] = None
                self.busy.add(rid)
                assign_clone(self, rid)
                self.busy.discard(rid)
            return None
        if rid in self.busy:  # pcmk__group_assign: a loop back leaves the members (seed 284)
            return None
        show_group_scores(self, rid)
        self.busy.add(rid)
        first: str | None = None
        for child in rsc.children:
            # pcmk__group_assign hands the preferred node to every member: with
            # collocated=false it wins a later member's ties too (case
            # uncollocated-group-instance-members-all-prefer-its-current-node)
            node = self._assign_tree(child, prefer)
            # pcmk__group_assign answers the first member that got a node: a stopped first
            # member leaves the answer to an unmanaged one kept where it runs (case
            # stopped-group-instance-counts-its-unmanaged-member).
            first = node if first is None else first
        self.busy.discard(rid)
        # ... and none for a group with collocated=false, so a clone does not count such an
        # instance on any node (case uncollocated-group-instance-counts-on-no-node).
        return None if uncollocated(self.u, rid) else first

    def primitives_under(self, rid: str) -> list[str]:
        rsc = self.u.rsc(rid)
        if rsc.kind == "primitive":
            return [rid]
        return [p for child in rsc.children for p in self.primitives_under(child)]

    def nodes_of(self, rid: str, role: Role | None = None,
                 skip_blocked: bool = False) -> list[NodeWork]:
        """Nodes a (possibly collective) primary has been assigned to (in a role).

        `skip_blocked`: leave out a clone's instances with a blocked member (a mandatory
        colocation with a clone counts only the others: clone_rsc_colocation_rh skips
        is_set_recursive(pe_rsc_block); bug-cl-5170).
        """
        prims = [*self.primitives_under(rid), *self.orphan_instances.get(rid, ())]
        if skip_blocked:
            rsc = self.u.rsc(rid)
            blocked = {p for inst in rsc.children for p in self.primitives_under(inst)
                       if any(self.u.states[m].blocked for m in self.primitives_under(inst))}
            prims = [p for p in prims if p not in blocked and not self.u.states[p].blocked]
        names = [self.assigned.get(p) for p in prims
                 if role is None or self.next_role.get(p) == role]
        if self.u.rsc(rid).kind == "group":
            names = names[-1:]
        return [self.nodes[n] for n in dict.fromkeys(names) if n is not None]

    def _influence(self, c: Colocation) -> bool:
        group = self.group_primary.get(id(c))
        if group is not None and group not in self.groups_started:
            return False
        return c.influence or not any(
            self.u.states[p].running_on for p in self.primitives_under(c.primary))

    def assign(self, rid: str, prefer: str | None = None) -> str | None:
        if rid in self.assigned:
            return self.assigned[rid]
        if rid in self.busy:
            return None
        self.busy.add(rid)
        parent = self.u.rsc(rid).parent
        if parent is not None and self.u.rsc(parent).kind == "group":
            self.groups_started.add(parent)
        for c in self._this_with_list(rid):
            # The primary's assign method runs first: for "X with group" (seed 616) or a
            # member (seed 257) the whole group's, not only the member's the score is from.
            self._assign_tree(escalated_primary(self.u, self.group_primary, self.busy, c))
            self._apply_this_with(rid, c)
        tables = ChainMap(self.tables, self.clone_tables)
        for c in self.with_this.get(rid, []):
            # pcmk__native_allocate merges every influencing dependent: a clone while it is
            # being assigned (it assigns its "this with" primaries first: seed 300) or after
            # its instances are placed (seed 408), a primitive a colocation loop assigned
            # already (case colocation-loop-merges-an-assigned-dependent).
            if not self._influence(c) or c.dependent not in tables:
                continue
            # The resource being assigned is not marked as merging (only each dependent
            # walked is), so a colocation loop merges its own table once more (case
            # colocation-merge-loop-reaches-the-resource-being-assigned).
            self.tables[rid] = merge_dependents(
                c.dependent, self.tables[rid], c.node_attribute, c.score / INF,
                tables=tables, with_this=self.with_this, nodes=self.nodes,
                has_influence=self._influence, merging=frozenset(),
                group_last=self.last_member, last=self.last_member(c))
        st = self.u.states[rid]
        if st.next_role == Role.STOPPED:
            self._add(self.tables[rid], None, -INF)
        if not self.u.rsc(rid).orphan:  # pe__show_node_weights_as skips orphans
            self.lines.extend(table_lines("pcmk__primitive_assign", rid, self.tables[rid]))
        chosen = choose(self, rid, prefer)
        self.assigned[rid] = chosen
        self.busy.discard(rid)
        if chosen is not None:
            self.count[chosen] += 1
            self.used[chosen] = combine(self.used.get(chosen, {}), self.usage.get(rid, {}))
            default = Role.UNPROMOTED if rid in self.promotable else Role.STARTED
            self.next_role[rid] = st.next_role or default
        else:
            self.next_role[rid] = Role.STOPPED
        return chosen

    def _this_with_list(self, rid: str) -> list[Colocation]:
        """The instance's "this with" list: append_parent_colocation prepends the clone's
        colocations at each allocate_instance call, so an instance whose pre-assignment was
        refused holds that block twice, block after block (seeds 77, 712)."""
        own = self.this_with.get(rid, [])
        copies = self.parent_copies.get(rid, 0)
        parent = self.u.rsc(rid).parent
        if parent is not None and self.u.rsc(parent).kind == "group" \
                and self.u.rsc(parent).children[0] == rid:
            # pcmk__group_assign hands a group instance's "this with" list (the copies
            # included) to its first member (seed 493)
            copies = self.parent_copies.get(parent, 0)
        if copies < 2 or self.u.rsc(rid).kind != "primitive" \
                or not (rid in self.anonymous or rid in self.unique_instances):
            return own
        inherited = [c for c in own if self._inherited_from_clone(c)]
        return inherited * copies + [c for c in own if not self._inherited_from_clone(c)]

    def _apply_this_with(self, rid: str, c: Colocation) -> None:
        """Apply a placed primary's colocation to dependent `rid`'s table."""
        primary = self.u.rsc(c.primary)
        if primary.kind == "clone" and 0 <= c.score < INF \
                and c.primary_role in (Role.PROMOTED, Role.UNPROMOTED) \
                and (not primary.promotable or not self.nodes_of(c.primary, c.primary_role)):
            # An optional colocation with a clone's role counts only the instances placed
            # in that role (pcmk__update_dependent_with_promotable; for a clone that cannot
            # promote, pcmk__colocation_affects skips every instance): with none, it does
            # nothing, rather than count against every node like an unplaced primary.
            return
        if self._coloc_applies(c) and not apply_per_instance(self, rid, c):
            # clone_rsc_colocation_rh: a mandatory colocation with a clone (a
            # promotable one only without a role) takes the nodes of its unblocked
            # instances, whatever role was asked of a clone that cannot promote
            # (unrunnable-2).
            whole = primary.kind == "clone" and c.score >= INF \
                and (c.primary_role is None or not primary.promotable)
            role = None if whole else c.primary_role
            applied = apply_primary(self.tables[rid], self.nodes_of(c.primary, role, whole), c,
                                    self.nodes, clone_nodes=whole)
            # Pacemaker keeps the scores from before a colocation limited to the promoted
            # role when it would leave no node available (seed 42).
            if c.dependent_role != Role.PROMOTED or can_run_any(applied, self.nodes):
                self.tables[rid] = applied

    def _coloc_applies(self, c: Colocation) -> bool:
        # A primary still being assigned (a loop back to a clone) is provisional: skipped by
        # pcmk__colocation_affects, not counted against every node as unplaced (seed 121).
        if c.primary not in self.assigned or c.primary in self.busy:
            return False
        if c.score > 0 and c.primary_role is not None and self.u.rsc(c.primary).kind != "clone":
            return self.next_role.get(c.primary) == c.primary_role
        return True


def inhibit_unpaired_instances(placer: _Placer) -> None:
    from pengine.placement_pairing import inhibit_unpaired_instances as inhibit
    inhibit(placer)


def apply_per_instance(placer: _Placer, rid: str, c: Colocation) -> bool:
    from pengine.placement_pairing import apply_per_instance as apply
    return apply(placer, rid, c)


def assign_clone(placer: _Placer, cid: str) -> None:
    """Distribute a clone's instances (pre-place active ones, then the rest)."""
    from pengine.placement_clone import distribute
    distribute(placer, cid)


def place(u: Unpacked, cons: Constraints) -> Placement:
    """Assign every primitive to a node (or none)."""
    return _Placer(u, cons).run()
