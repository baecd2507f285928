"""Clone instance distribution (pcmk__clone_allocate / distribute_children).

Invariants: at most clone-max instances are placed and at most clone-node-max per node;
active instances are first offered their current node; an instance whose preferred node
is refused is rolled back completely (tables, counters, score lines).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from pengine.colocation import Table, add_matching, can_run_any, merge_dependents
from pengine.constraints import Colocation
from pengine.glib_order import list_sort
from pengine.placement_roles import decide_roles
from pengine.placement_sort import clone_table, instance_active_count
from pengine.placement_tables import available_count
from pengine.promotion import add_promotion_scores, merge_influencing_dependents
from pengine.score_lines import show_clone_scores
from pengine.scores import INF
from pengine.unpack_resources import template_members

if TYPE_CHECKING:
    from pengine.placement import _Placer


def _current(placer: _Placer, inst: str) -> str | None:
    for prim in placer.primitives_under(inst):
        running = placer.u.states[prim].running_on
        if running:
            return running[0]
    return None


def _instance_cmp(placer: _Placer, priorities: Mapping[str, int], a: str, b: str) -> int:
    """pcmk__cmp_instance: which of two instances is assigned first (negative: a)."""
    facts = [_instance_facts(placer, priorities, inst) for inst in (a, b)]
    (mult_a, allowed_a, prio_a, node_a), (mult_b, allowed_b, prio_b, node_b) = facts
    if mult_a and mult_b and mult_a != mult_b:
        return -1 if mult_a < mult_b else 1
    for first, second in ((allowed_a, allowed_b), (prio_a, prio_b)):
        if first != second:
            return -1 if first > second else 1
    if node_a is None or node_b is None:
        return 0 if node_a is None and node_b is None else (1 if node_a is None else -1)
    # current node can run resources; clone allowed there; not failed
    for first, second in zip(_later_facts(placer, a, node_a), _later_facts(placer, b, node_b),
                             strict=True):
        if first != second:
            return -1 if first else 1
    score_a, score_b = _colocation_score(placer, a, node_a), _colocation_score(placer, b, node_b)
    if score_a != score_b:
        return -1 if score_a > score_b else 1
    return _number(a) - _number(b)


def _colocation_score(placer: _Placer, inst: str, node: str) -> int:
    """cmp_instance_by_colocation: the current node's weight plus the clone's colocations.

    The clone's "this with" primaries add their scores there (default mode), then its
    influencing "with this" dependents (non-negative mode), each at factor score/INF,
    role-qualified ones included (the merge ignores roles: seed 1140). A resource's
    colocation lists keep equal keys in reverse insertion order (sorted insert).
    """
    # an orphaned instance is one more child of its clone: the clone's colocations count
    cid = placer.u.rsc(inst).parent or _orphan_clone(placer, inst) or inst
    work = {node: placer.nodes[node].weight}
    this_with = [c for c in reversed(placer.cons.colocations)
                 if c.dependent == cid and c.primary != cid]
    for c in sorted(this_with, key=lambda c: placer._coloc_key(c.primary)):
        work = _merge_scores(placer, c.primary, work, c, only_positive=False)
    with_this = [c for c in reversed(placer.cons.colocations)
                 if c.primary == cid and c.dependent != cid and c.influence]
    for c in sorted(with_this, key=lambda c: placer._coloc_key(c.dependent)):
        work = _merge_scores(placer, c.dependent, work, c, only_positive=True)
    return work[node]


class _OwnTables(Mapping[str, Table]):
    """Each resource's own table, as _own_table reads it (for merge_dependents)."""

    def __init__(self, placer: _Placer) -> None:
        self.placer = placer

    def __getitem__(self, rid: str) -> Table:
        return _own_table(self.placer, rid)

    def __iter__(self) -> Iterator[str]:
        return iter(r.id for r in self.placer.u.resources)

    def __len__(self) -> int:
        return len(self.placer.u.resources)


def _merge_scores(placer: _Placer, rid: str, work: Table, c: Colocation,
                  only_positive: bool) -> Table:
    """pcmk__native_merge_weights without rollback at the top: `rid`'s scores by the
    colocation's factor, then (rolled back one by one) those of the resources colocated
    with `rid`, recursively, each by its own colocation's factor (seed 312)."""
    if rid in placer.merging:
        return work  # "Breaking dependency loop"
    factor = c.score / INF
    work = add_matching(work, _own_table(placer, rid), c.node_attribute, factor,
                        placer.nodes, only_positive=only_positive)
    if not can_run_any(work, placer.nodes):
        return work
    sign = -1.0 if factor < 0 else 1.0
    for dep in _dependents_merged(placer, rid):
        if placer._influence(dep):
            work = merge_dependents(
                dep.dependent, work, dep.node_attribute, sign * dep.score / INF,
                tables=_OwnTables(placer), with_this=placer.with_this, nodes=placer.nodes,
                has_influence=placer._influence, merging=frozenset({rid, *placer.merging}),
                only_positive=only_positive)
    return work


def _dependents_merged(placer: _Placer, rid: str) -> list[Colocation]:
    """The "with this" colocations a merge of `rid` walks. A group merges as its first
    member (that member's own list), then the colocations with the group, which ours keeps
    on the last member (seed 126: a clone's instance order counts the clone's own table
    through a colocation with a group)."""
    rsc = placer.u.rsc(rid)
    if rsc.kind != "group" or not rsc.children:
        return placer.with_this.get(rid, [])
    prims = placer.primitives_under(rid)
    return [*placer.with_this.get(prims[0], []), *placer.with_this.get(prims[-1], [])]


def _own_score(placer: _Placer, inst: str, node: str) -> int:
    """The instance's own score on a node: a group instance's table holds what was placed
    on the group (the clone's locations and bans), not its members' failures."""
    parent = placer.u.rsc(inst).parent
    if placer.u.rsc(inst).kind == "group" and parent is not None:
        return clone_table(placer, parent, instance_view=True).get(node, -INF)
    return placer.tables[placer.primitives_under(inst)[0]].get(node, -INF)


def _own_table(placer: _Placer, rid: str) -> dict[str, int]:
    if placer.u.rsc(rid).kind == "clone":
        if rid in placer.allowed_after:
            return placer.allowed_after[rid]
        return placer._strategy_table(rid)
    prims = placer.primitives_under(rid)
    return placer.tables.get(prims[0], {}) if prims else {}


def _later_facts(placer: _Placer, inst: str, node: str) -> tuple[bool, bool, bool]:
    """(current node can run resources, the clone is allowed there, not failed).

    pcmk__top_allowed_node looks the current node up in the parent clone's allowed nodes,
    whatever the instance's own table holds (an unmanaged instance's current node in an
    asymmetric cluster: seed 3169)."""
    prims = placer.primitives_under(inst)
    cid = placer.u.rsc(inst).parent or _orphan_clone(placer, inst)
    allowed = node in (_own_table(placer, cid) if cid is not None else placer.tables[prims[0]])
    return (placer.nodes[node].available, allowed,
            not any(placer.u.states[p].failed for p in prims))


def _orphan_clone(placer: _Placer, orphan: str) -> str | None:
    """The anonymous clone an orphaned instance (an id past clone-max) belongs to."""
    base = orphan.split(":", 1)[0]
    return next((r.id for r in placer.u.resources
                 if r.kind == "clone" and base in template_members(r)), None)


def _number(inst: str) -> int:
    tail = inst.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _instance_facts(placer: _Placer, priorities: Mapping[str, int],
                    inst: str) -> tuple[int, bool, int, str | None]:
    """(active node count, not active on a disallowed node, priority, usable current node)."""
    prims = placer.primitives_under(inst)
    cur = _current(placer, inst)
    count = instance_active_count(placer, inst, prims)
    allowed = True
    # An orphan's own bans are applied only when it is assigned (can_run_instance), not
    # here; but it shares the clone's allowed nodes, so a node the clone does not allow (an
    # asymmetric cluster without a location there, a negative location) is not allowed
    # for it either, nor one where its stop failed (unpacking bans it there: __stop_fail__).
    if placer.u.rsc(inst).orphan:
        clone = _orphan_clone(placer, inst)
        unknown = cur is not None and clone is not None \
            and (_own_table(placer, clone).get(cur, -INF) < 0
                 or cur in placer.u.states[prims[0]].failed_stop_on)
    else:
        unknown = cur is not None and bool(prims) and _own_score(placer, inst, cur) < 0
    if unknown:
        allowed, cur = False, None  # node_is_allowed clears the node
    if cur is not None and cur not in placer.nodes:
        cur = None
    return count, allowed, priorities.get(inst, 0), cur


def _assign_instance(placer: _Placer, inst: str, prefer: str | None,
                     counts: dict[str, int], per_node: int) -> str | None:
    prims = placer.primitives_under(inst)
    saved = {p: dict(placer.tables[p]) for p in prims}
    saved_count = dict(placer.count)
    saved_used = dict(placer.used)
    # can_run_instance: a node where the clone itself scores below zero (or is not allowed)
    # is refused to every instance, whatever stickiness the instance has there; the clone's
    # table is the one its dependents were merged into (seed 370). So is a node that
    # cannot run resources (can_run_resources: standby, maintenance, offline), which also
    # keeps a promotion score from counting there (seed 425).
    cid = placer.u.rsc(inst).parent or inst
    parent = placer.allowed_after.get(cid) or clone_table(placer, cid)
    # can_run_instance walks the instance's own allowed nodes: a group instance's are the
    # clone's, so a node only its member knows (an unmanaged member's current node in an
    # asymmetric cluster) is left alone (case unmanaged-group-instance-keeps-its-node).
    group = placer.u.rsc(inst).kind == "group"
    own = [placer.group_tables[inst]] if group else []  # the group instance's own too
    for table in [*own, *(placer.tables[prim] for prim in prims)]:
        for name in table:
            if group and name not in parent:
                continue
            host = placer.nodes.get(name)
            if counts.get(name, 0) >= per_node or parent.get(name, -INF) < 0 \
                    or host is None or not host.available:
                table[name] = -INF
    node = placer._assign_tree(inst, prefer)
    if prefer is not None and node is not None and node != prefer \
            and placer.u.rsc(inst).kind == "group":
        # Pacemaker rolls back a refused pre-assignment through the instance's own
        # assignment, which a group does not have: its members stay where they went,
        # and the instance counts neither towards clone-max nor towards its node's limit.
        return None
    # allocate_instance rolls back only a pre-assignment that chose another node: one that
    # chose none (every node lacking capacity, seed 300) leaves the instance unplaced.
    if prefer is not None and node is not None and node != prefer:
        for prim in prims:
            placer.assigned.pop(prim, None)
            placer.next_role.pop(prim, None)
            placer.tables[prim] = saved[prim]
        placer.count = saved_count
        placer.used = saved_used
        return None
    return node


def distribute(placer: _Placer, cid: str) -> None:
    clone = placer.u.rsc(cid)
    # "this with" primaries are assigned first, in the clone's sorted list
    # (cmp_primary_priority: priority, clones before groups before primitives, id; seed 1170)
    primaries = [c for c in reversed(placer.cons.colocations)
                 if c.dependent == cid and c.primary != cid]
    for c in sorted(primaries, key=lambda c: placer._coloc_key(c.primary)):
        placer._assign_tree(c.primary)
    _merge_own_dependents(placer, cid)
    per_node = clone.clone_node_max
    limit = clone.clone_max
    priorities = {inst: clone.priority for inst in clone.children}
    if clone.promotable:
        priorities = add_promotion_scores(placer, cid)
    show_clone_scores(placer, cid, placer.allowed_after[cid])

    def compare(a: str, b: str) -> int:
        return _instance_cmp(placer, priorities, a, b)

    ordered, orphans = _sorted_children(placer, cid, compare)
    counts: dict[str, int] = {}
    optimal = _optimal_per_node(placer, cid)
    all_coloc = limit < available_count(placer.u, placer.cons, clone)
    allocated = _keep_in_place(placer, cid, ordered, counts, (limit, per_node, optimal),
                               all_coloc)
    for inst in ordered:
        prims = placer.primitives_under(inst)
        if all(p in placer.assigned for p in prims):
            continue
        if inst in orphans:
            _reach_orphan(placer, cid, inst, allocated < limit)
            continue
        if allocated >= limit:
            _over_limit(placer, inst, prims)
            continue
        append_parent_dependents(placer, cid, inst, all_coloc)
        chosen = _assign_instance(placer, inst, None, counts, per_node)
        if chosen is not None:
            counts[chosen] = counts.get(chosen, 0) + 1
            allocated += 1
    if clone.promotable:
        # An unplaced instance keeps the priority it was assigned with in the promotion
        # sort's tie-break (set_instance_priority returns early for it; case
        # unplaced-instance-keeps-promotion-priority, seed 216).
        decide_roles(placer, cid, lambda pl, roles, a, b: _instance_cmp(
            pl, ChainMap(roles, priorities), a, b))


def _sorted_children(placer: _Placer, cid: str,
                     compare: Callable[[str, str], int]) -> tuple[list[str], list[str]]:
    """The clone's children (its orphans included) in assignment order, and the managed
    orphans among them; leaves placer.instance_order and placer.children_order set.

    g_list_sort (merge sort): pcmk__cmp_instance is not transitive (inactive instances
    tie with everything after the first rules), so the merge order decides."""
    clone = placer.u.rsc(cid)
    kept = _orphans_kept_in_place(placer, cid)
    orphans = _managed_orphans(placer, cid, kept)
    ordered = list_sort([*clone.children, *kept, *orphans], compare)
    placer.instance_order[cid] = [inst for inst in ordered if inst in clone.children]
    placer.children_order[cid] = ordered
    return ordered, orphans


def _optimal_per_node(placer: _Placer, cid: str) -> int:
    """How many instances each usable node takes before any takes more (clone-max spread
    over the nodes the first instance may use, at most clone-node-max)."""
    clone = placer.u.rsc(cid)
    per_node, limit = clone.clone_node_max, clone.clone_max
    first_prims = placer.primitives_under(clone.children[0]) if clone.children else []
    table = placer.tables[first_prims[0]] if first_prims else {}
    usable = sum(1 for n, score in table.items()
                 if score >= 0 and n in placer.nodes and placer.nodes[n].available)
    return min(per_node, max(1, limit // usable)) if usable else per_node


def _merge_own_dependents(placer: _Placer, cid: str) -> None:
    """pcmk__clone_allocate merges its influencing dependents into the clone's own table
    for good: a later clone's instance sort reads that table (seed 312), and so does a
    later merge through "clone with X" (its instances' merges of X: case
    clone-merge-reads-its-dependents-merged-table, seed 75)."""
    placer.allowed_after[cid] = merge_influencing_dependents(
        placer, cid, placer._strategy_table(cid))
    if cid in placer.clone_tables:
        placer.clone_tables[cid] = placer.allowed_after[cid]


def _over_limit(placer: _Placer, inst: str, prims: list[str]) -> None:
    """An instance past clone-max: resource_location(-INF), never assigned (it stays
    provisional: a colocation with the clone skips it)."""
    placer.over_limit.add(inst)
    placer.stay_managed.update(prims)
    for prim in prims:
        placer.tables[prim] = dict.fromkeys(placer.tables[prim], -INF)
    count, used = dict(placer.count), dict(placer.used)
    # Pacemaker never runs the assignment of an instance over the limit: it prints no
    # score lines for it.
    printed = len(placer.lines)
    placer._assign_tree(inst)
    del placer.lines[printed:]
    if not all(placer.managed[p] for p in prims):
        # Pacemaker does not assign an unmanaged instance over the limit either, so its
        # node does not count as loaded for later resources (seed 437); it stays where
        # it runs, without actions (not even its recurring monitor: crm_simulate, an
        # unmanaged orphan sorted before a failed instance takes the clone's only slot).
        placer.count, placer.used = count, used
        placer.unmanaged_over_limit.update(prims)


def _managed_orphans(placer: _Placer, cid: str, kept: list[str]) -> list[str]:
    """The anonymous clone's other orphaned primitive instances: children in Pacemaker,
    sorted and distributed with the others, but never assigned a node."""
    clone = placer.u.rsc(cid)
    if clone.unique or any(placer.u.rsc(c).kind != "primitive" for c in clone.children):
        return []
    bases = {inst.split(":", 1)[0] for inst in clone.children}
    return [r.id for r in placer.u.resources
            if r.orphan and r.kind == "primitive" and r.id.split(":", 1)[0] in bases
            and r.id not in kept]


def _reach_orphan(placer: _Placer, cid: str, orphan: str, under_limit: bool) -> None:
    """distribute_children reaching a managed orphan: while fewer than clone-max instances
    are placed it runs the orphan's assignment (allocate_instance; can_run_instance bans
    every node to an orphan), which leaves it unassigned but no longer provisional, so a
    colocation with the clone counts it as an instance placed nowhere. Past the limit it
    stays provisional and counts for nothing. (crm_simulate 2.1.5, made-up clone-max=1
    clones: an orphan sorted before the instance that moves takes a finite "X with clone"
    score off every node of X; one sorted after the instance kept in place does not.)"""
    if under_limit and orphan not in placer.reached_orphans.setdefault(cid, []):
        placer.reached_orphans[cid].append(orphan)


def _orphans_kept_in_place(placer: _Placer, cid: str) -> list[str]:
    """Active orphan instances that assignment would leave where they run (unmanaged).

    An orphan is one more child of its clone in Pacemaker, sorted and distributed with the
    others; its bans keep a managed one from being assigned, but an unmanaged one (or one
    assignment unmanages: fencing enabled without a device) stays on its node and takes
    one of the clone-max slots, so a failed configured instance sorted after it is not
    assigned and stops.
    """
    clone = placer.u.rsc(cid)
    if clone.unique or any(placer.u.rsc(c).kind != "primitive" for c in clone.children):
        return []
    bases = {inst.split(":", 1)[0] for inst in clone.children}
    out = [r.id for r in placer.u.resources
           if r.orphan and r.kind == "primitive" and r.id.split(":", 1)[0] in bases
           and placer.u.states[r.id].running_on
           and (placer.unmanage_assigned or not placer.managed[r.id])]
    placer.stay_managed.difference_update(out)
    placer.orphan_instances[cid] = out
    return out


def _keep_in_place(placer: _Placer, cid: str, ordered: list[str], counts: dict[str, int],
                   limits: tuple[int, int, int], all_coloc: bool) -> int:
    """Pass 1: offer each active instance its current node; returns how many stayed."""
    limit, per_node, optimal = limits
    allocated = 0
    for inst in ordered:
        if allocated >= limit:
            break
        cur = _current(placer, inst)
        # A failed instance is only placed in the second pass; a group instance is never
        # marked failed itself (only its members are), so it is offered its node (seed 150).
        failed = placer.u.rsc(inst).kind == "primitive" and placer.u.states[inst].failed
        if cur is None or failed:
            continue
        node = placer.nodes.get(cur)
        if node is None or not node.available or counts.get(cur, 0) >= optimal:
            continue
        append_parent_dependents(placer, cid, inst, all_coloc)
        # allocate_instance refuses a current node the instance's own table has below zero
        # (a group instance's: the clone's scores, not its first member's with stickiness:
        # seed 1160)
        if _own_score(placer, inst, cur) < 0 and inst in placer.u.rsc(cid).children:
            continue
        # an orphan shares the clone's allowed nodes: one the clone does not allow is
        # refused to it too (can_run_instance)
        if inst not in placer.u.rsc(cid).children \
                and _own_table(placer, cid).get(cur, -INF) < 0:
            continue
        if placer.u.rsc(inst).orphan and inst not in placer.orphan_instances.get(cid, ()):
            _reach_orphan(placer, cid, inst, True)
            continue
        if _assign_instance(placer, inst, cur, counts, per_node) == cur:
            placer.preassigned.add(inst)
            counts[cur] = counts.get(cur, 0) + 1
            allocated += 1
    return allocated


def append_parent_dependents(placer: _Placer, cid: str, inst: str, all_coloc: bool) -> None:
    """append_parent_colocation for "X with clone": copy it to the instance about to be placed.

    Copied (in front) when not every available node gets an instance (`all_coloc`) or the
    score is negative, and only while X influences (influence=true or the instance is not
    active). Pacemaker copies at every placement attempt, so an instance whose
    pre-assignment was refused carries the copy twice (counted in `parent_copies`, which
    the role colocations of a promotable clone use too). A group instance's copy goes to its
    last member, as any "X with group" (its first member merges it through the internal
    chain: case cloned-group-instance-merges-parent-dependent-through-last-member).
    """
    placer.parent_copies[inst] = placer.parent_copies.get(inst, 0) + 1
    prims = placer.primitives_under(inst)
    if not prims:
        return
    active = any(placer.u.states[p].running_on for p in prims)
    # The clone's "with this" list is sorted like any (later constraint first among equal
    # dependents), and each entry is prepended to the instance's list in that order: the
    # instance merges them in reverse, e.g. an earlier positive colocation before a later
    # negative one with the same resource (case parent-dependents-merge-in-creation-order,
    # seed 190).
    own = sorted((c for c in reversed(placer.cons.colocations) if c.primary == cid),
                 key=lambda c: placer._coloc_key(c.dependent))
    for c in own:
        if c.dependent == cid or not (all_coloc or c.score < 0) \
                or not (c.influence or not active):
            continue
        dependent = placer.u.rsc(c.dependent)
        if dependent.kind == "clone":  # a clone's own table is what its merge contributes:
            # once assigned, the one its assignment left (a promotable clone's holds its
            # promotion scores: case instance-merges-assigned-promotable-dependent, seed 213)
            key = c.dependent
            placer.clone_tables[key] = _own_table(placer, key)
        else:
            key = placer.primitives_under(c.dependent)[0]
        copied = Colocation(c.id, key, prims[-1], c.score, c.dependent_role, c.primary_role,
                            c.node_attribute, c.influence)
        placer.with_this.setdefault(prims[-1], []).insert(0, copied)
