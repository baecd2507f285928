"""Assignment order under a placement strategy (pcmk__sort_resources / cmp_resources).

With placement-strategy other than "default", Pacemaker sorts the top-level resources
before assigning them: higher priority first, then the higher score on the resource's
current node, then the first higher score walking the nodes in pcmk__sort_nodes order.
The scores compared are the resource's own allowed-node table merged with its "this with"
primaries' tables (recursively, each by its colocation's factor), as the merge with the
init and forward flags does. The list is also the order of the Transition Summary.

Also the active count by which the clone instance sort (pcmk__cmp_instance) starts.

Invariants: pure over the placer's initial tables (nothing is assigned yet); the sort is
stable (g_list_sort is a merge sort), so equal resources keep document order.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.colocation import Table, add_matching, can_run_any
from pengine.constraints import Colocation
from pengine.placement_tables import clone_only_ban, clone_wide_bans
from pengine.scores import INF
from pengine.utilization import compare_capacity

if TYPE_CHECKING:
    from pengine.placement import _Placer

_VARIANT_RANK = {"clone": 2, "group": 1, "primitive": 0}


def strategy_order(placer: _Placer, roots: list[str]) -> list[str]:
    """The top-level resources in the order cmp_resources sorts them."""
    sorter = _Sorter(placer)
    return sorted(roots, key=functools.cmp_to_key(sorter.compare))


class _Sorter:
    def __init__(self, placer: _Placer) -> None:
        self.placer = placer
        self.u = placer.u
        self.this_with = _this_with_lists(placer)
        self.nodes = sorted_nodes(placer)
        self.cache: dict[str, Table] = {}
        self.status_order = [el.get("uname") or el.get("id") or ""
                             for el in self.u.root.iterfind("status/node_state")]

    def compare(self, a: str, b: str) -> int:
        """cmp_resources: priority, score on the current node, then node by node."""
        rsc_a, rsc_b = self.u.rsc(a), self.u.rsc(b)
        if rsc_a.priority != rsc_b.priority:
            return -1 if rsc_a.priority > rsc_b.priority else 1
        table_a, table_b = self.table(a), self.table(b)
        keys = [(self._current_score(a, table_a), self._current_score(b, table_b))]
        keys += [(table_a.get(n, -INF), table_b.get(n, -INF)) for n in self.nodes]
        for score_a, score_b in keys:
            if score_a != score_b:
                return -1 if score_a > score_b else 1
        return 0

    def table(self, rid: str) -> Table:
        if rid not in self.cache:
            self.cache[rid] = self._init(rid, frozenset())
        return self.cache[rid]

    def _init(self, rid: str, merging: frozenset[str]) -> Table:
        """The merge with the init flag: a group starts from its last member (itself
        initialised, so the internal colocations pull in the earlier members); anything
        else from its own allowed nodes. Its "this with" primaries follow, unless no node
        can run it (then, not being a rollback, the table stays as it is)."""
        merging = merging | {rid}
        rsc = self.u.rsc(rid)
        if rsc.kind == "group" and rsc.children:
            work = self._init(rsc.children[-1], merging)
        else:
            work = dict(self.allowed(rid))
        if can_run_any(work, self.placer.nodes):
            work = self._follow(rid, work, 1.0, merging)
        return work

    def _follow(self, rid: str, work: Table, factor: float, merging: frozenset[str]) -> Table:
        sign = -1.0 if factor < 0 else 1.0
        for c in self.this_with.get(rid, []):
            if c.primary in merging:  # pe_rsc_merging breaks dependency loops
                continue
            work = self._merge(c.primary, work, c.node_attribute, sign * c.score / INF,
                               merging)
        return work

    def _merge(self, rid: str, nodes: Table, attr: str, factor: float,
               merging: frozenset[str]) -> Table:
        """Merge a primary's scores by factor (with rollback when nothing could run)."""
        merging = merging | {rid}
        rsc = self.u.rsc(rid)
        if rsc.kind == "group" and rsc.children:
            # Pacemaker takes a primary group's scores from its first member.
            work = self._merge(rsc.children[0], nodes, attr, factor, merging)
        else:
            work = add_matching(nodes, self.allowed(rid), attr, factor, self.placer.nodes)
        if not can_run_any(work, self.placer.nodes):
            return nodes
        return self._follow(rid, work, factor, merging)

    def allowed(self, rid: str) -> Table:
        """A resource's allowed-node table before assignment."""
        if self.u.rsc(rid).kind == "clone":
            return clone_table(self.placer, rid)
        return self.placer.tables.get(rid, {})

    def _current_score(self, rid: str, table: Table) -> int:
        current = self._current_node(rid)
        return -INF if current is None else table.get(current, -INF)

    def _current_node(self, rid: str) -> str | None:
        """pe__current_node: the first node of the resource's running_on list. A collective's
        list grows as unpacking finds its members active, node_state by node_state in status
        order, so its first node is the earliest such node_state's (seed 324)."""
        if self.u.rsc(rid).kind == "primitive":
            return self.u.states[rid].current_node
        active = {node for p in self.placer.primitives_under(rid)
                  for node in self.u.states[p].running_on}
        return next((node for node in self.status_order if node in active), None)


def _this_with_lists(placer: _Placer) -> dict[str, list[Colocation]]:
    """Each resource's "this with" colocations as Pacemaker stores them: user constraints on
    the resource named (a group or clone keeps its own), plus group members' internal ones;
    sorted by primary priority with later constraints first among equals."""
    internal = [c for c in placer.colocations if c.id.endswith("-internal")]
    out: dict[str, list[Colocation]] = {}
    for c in reversed([*internal, *placer.cons.colocations]):
        out.setdefault(c.dependent, []).append(c)
    for lst in out.values():
        lst.sort(key=lambda c: _priority_key(placer, c.primary))
    return out


def _priority_key(placer: _Placer, rid: str) -> tuple[int, int]:
    rsc = placer.u.rsc(rid)
    return (-rsc.priority, -_VARIANT_RANK.get(rsc.kind, 0))


def clone_table(placer: _Placer, rid: str, instance_view: bool = False) -> Table:
    """A clone's own table: node base scores, the clone's location constraints and the
    history bans its anonymous instances put on the whole clone (no instance stickiness).
    `instance_view`: what resource_location left in its instances' tables (without the
    bans that land on the clone alone)."""
    u = placer.u
    table: Table = {n.name: n.base_score for n in u.nodes} if u.options.symmetric else {}
    for loc in placer.cons.locations:
        if loc.rsc == rid and loc.role != Role.PROMOTED:
            for node, score in loc.scores:
                placer._add(table, node, score)
    if not u.rsc(rid).unique:  # an instance's failure limit or hard error bans the clone
        bans = clone_wide_bans(placer)
        prims = placer.primitives_under(rid)
        for prim in prims:
            for node in placer.threshold_bans.get(prim, ()):
                placer._add(table, node, -INF)
        for target, score, tag in bans.get(rid, ()):
            if not (instance_view and clone_only_ban(target, tag)):
                placer._add(table, target, score)
    if rid in placer.discovery.exclusive_scope():
        placer.discovery.ban_outside(rid, table)
    return table


def sorted_nodes(placer: _Placer) -> list[str]:
    """All nodes as pcmk__sort_nodes orders them before any assignment."""
    balanced = placer.u.options.placement_strategy == "balanced"

    def cmp(a: str, b: str) -> int:
        na, nb = placer.nodes[a], placer.nodes[b]
        wa = na.weight if na.available else -INF
        wb = nb.weight if nb.available else -INF
        if wa != wb:
            return -1 if wa > wb else 1
        if balanced:
            result = compare_capacity(placer.capacity.get(a, {}), placer.capacity.get(b, {}))
            if result:
                return -1 if result < 0 else 1
        return -1 if a.encode() < b.encode() else (1 if a != b else 0)

    return sorted(placer.nodes, key=functools.cmp_to_key(cmp))


def instance_active_count(placer: _Placer, inst: str, prims: list[str]) -> int:
    """How many entries pe__find_active_on counts in an instance's running_on list.

    native_add_running lists a node once on a group instance for its managed members (it
    skips a node already listed), but an unmanaged member appends its node (when online)
    to every parent without that check. So a group instance whose unmanaged member was
    unpacked after another member on the same node counts as multiply active, and sorts
    after a less multiply active instance (pcmk__cmp_instance; seed 462).
    """
    if placer.u.rsc(inst).kind == "primitive":
        return len(placer.u.states[inst].running_on)
    entries = sorted((placer.u.states[p].unpacked_at.get(node, 0), node, p)
                     for p in prims for node in placer.u.states[p].running_on)
    listed: list[str] = []
    for _, node, prim in entries:
        if not placer.u.states[prim].managed:
            if node in placer.nodes and placer.nodes[node].online:
                listed.append(node)
        elif node not in listed:
            listed.append(node)
    return len(listed)
