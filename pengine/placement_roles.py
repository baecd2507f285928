"""Roles of a promotable clone's instances (pcmk__set_instance_roles, 2.1.5).

Runs after the clone's instances are placed: each placed instance gets a promotion index
(promotion score, Promoted-role locations and role colocations), the clone's own table
(with the scores merged into it) turns non-negative indexes into final ones, and the best
eligible instances are promoted within promoted-max and promoted-node-max.

Invariants: only instances whose primitives are all assigned are candidates; an unmanaged
promoted instance stays promoted; the clone's children (placed or not) are left in promotion order
(placer.instance_order).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.colocation import node_attr
from pengine.glib_order import list_sort
from pengine.placement_tables import available_count
from pengine.promotion import (
    merge_influencing_dependents,
    merge_promoted_role_dependents,
    merge_promoted_role_primaries,
    orphan_instances,
    promotion_score,
)
from pengine.scores import INF, add, score2str
from pengine.unpack_resources import meta_count

if TYPE_CHECKING:
    from pengine.constraints import Colocation
    from pengine.placement import _Placer

# pcmk__cmp_instance(placer, priorities, a, b), owned by placement_clone
InstanceCompare = Callable[["_Placer", dict[str, int], str, str], int]


def decide_roles(placer: _Placer, cid: str, instance_cmp: InstanceCompare) -> None:
    """Promote the best eligible instances (promoted-max, promoted-node-max)."""
    indexes, forced = _instance_indexes(placer, cid)
    final = _clone_table_indexes(placer, cid, indexes, forced)
    in_order = _sort_promotion_order(placer, cid, indexes, final, instance_cmp)
    _print_promotion_scores(placer, cid, in_order, indexes, final)
    _assign_roles(placer, cid, indexes, final, forced)


def _print_promotion_scores(placer: _Placer, cid: str, in_order: list[str],
                            indexes: dict[str, tuple[str, int, Role]],
                            final: dict[str, int]) -> None:
    """show_promotion_score: one line per instance, placed or not, in promotion order.

    An unplaced instance prints `none` and the sort index set_instance_priority never
    set (0)."""
    for inst in in_order:
        node = indexes[inst][0] if inst in indexes else "none"
        placer.lines.append(
            f"{inst} promotion score on {node}: {score2str(final.get(inst, 0))}")


def _sort_promotion_order(placer: _Placer, cid: str,
                          indexes: dict[str, tuple[str, int, Role]], final: dict[str, int],
                          instance_cmp: InstanceCompare) -> list[str]:
    """Leave placer.instance_order[cid] in promotion order; returns that order with the
    clone's orphaned instances (children in Pacemaker, never placed here) sorted in."""
    clone = placer.u.rsc(cid)
    # sort_promotable_instances: one g_list_sort of the children (left in assignment order)
    # by cmp_promotable_instance: final index, current role, then pcmk__cmp_instance
    # (priority: the index before the clone table; a failed instance after: corpus
    # promoted-demote-2). pcmk__cmp_instance is not transitive, so the merge order decides.
    priorities = {inst: priority for inst, (_node, priority, _cur) in indexes.items()}
    tie_break = partial(instance_cmp, placer, priorities)

    # An unplaced instance is sorted too: set_instance_priority returns before setting its
    # sort_index (left 0) and the current role still counts (seed 668: a stopping Promoted
    # instance is listed before a stopping Unpromoted one).
    listed = placer.instance_order.get(cid, clone.children)
    members = {inst: placer.primitives_under(inst) for inst in listed}
    members.update(orphan_instances(placer, cid))
    keys = {inst: (-final[inst], -int(indexes[inst][2])) if inst in indexes
            else (0, -int(_current_role(placer, prims)))
            for inst, prims in members.items()}

    def compare(a: str, b: str) -> int:
        key_a, key_b = keys[a], keys[b]
        return -1 if key_a < key_b else 1 if key_a > key_b else tie_break(a, b)

    # pcmk__set_instance_roles leaves the children in promotion order; the clone is being
    # merged (pe_rsc_merging) meanwhile: tie-breaks' merges skip it (seed 425).
    placer.merging.add(cid)
    in_order = list_sort(list(keys), compare)
    placer.merging.discard(cid)
    placer.instance_order[cid] = [inst for inst in in_order if inst in listed]
    placer.children_order[cid] = in_order
    return in_order


def _assign_roles(placer: _Placer, cid: str, indexes: dict[str, tuple[str, int, Role]],
                  final: dict[str, int], forced: set[str]) -> None:
    """Promote instances in promotion order within the clone's limits; the rest stay Unpromoted."""
    clone = placer.u.rsc(cid)
    opts = placer.u.options
    limit = meta_count(clone.meta, "promoted-max", meta_count(clone.meta, "master-max", 1))
    per_node = meta_count(clone.meta, "promoted-node-max",
                          meta_count(clone.meta, "master-node-max", 1))
    candidates = [(-final[i], -int(indexes[i][2]), i, indexes[i][0])
                  for i in placer.instance_order[cid] if i in indexes]
    promoted = 0
    counts: dict[str, int] = {}
    freeze = not opts.have_quorum and opts.no_quorum_policy == "freeze"
    for neg_priority, neg_current, inst, node in candidates:
        role = Role.UNPROMOTED
        # quorum freeze: only an instance already promoted may stay promoted
        frozen = freeze and -neg_current < Role.PROMOTED
        # node_to_be_promoted_on: an unmanaged instance not already promoted stays as it is
        managed = all(placer.managed[p] for p in placer.primitives_under(inst))
        eligible = promoted < limit and counts.get(node, 0) < per_node and managed \
            and -neg_priority >= 0 and placer.nodes[node].available and not frozen
        if inst in forced or eligible:
            role = Role.PROMOTED
            promoted += 1
            counts[node] = counts.get(node, 0) + 1
        for prim in placer.primitives_under(inst):
            if placer.assigned.get(prim) is not None:
                placer.next_role[prim] = role


def _current_role(placer: _Placer, prims: list[str]) -> Role:
    return max((placer.u.states[p].role for p in prims), default=Role.STOPPED)


def _instance_indexes(placer: _Placer,
                      cid: str) -> tuple[dict[str, tuple[str, int, Role]], set[str]]:
    """set_instance_priority: {instance: (node, sort index, current role)}, forced ones."""
    clone = placer.u.rsc(cid)
    copied = _copies_finite_colocations(placer, cid)
    indexes: dict[str, tuple[str, int, Role]] = {}
    forced: set[str] = set()
    # an orphan left where it runs (unmanaged) is one more child placed (seed 2621), unless
    # distribute_children reached it past clone-max (still provisional: seeds 461, 497)
    orphans = [o for o in placer.orphan_instances.get(cid, ()) if o not in placer.over_limit]
    for inst in [*clone.children, *orphans]:
        prims = placer.primitives_under(inst)
        node = placer.assigned.get(prims[0]) if prims else None
        if node is None:
            continue
        score, default = promotion_score(placer, cid, inst, node)
        priority = -1 if default else score
        priority = add(priority, _role_locations(placer, cid, node))
        attempts = max(placer.parent_copies.get(inst, 0), 1)
        priority = add(priority, _role_colocations(placer, cid, inst, node, attempts, copied))
        # next role Unpromoted or Stopped cannot be promoted; an unmanaged member's next role
        # is its current role whatever its target-role (pcmk__primitive_assign), judged below
        capped = (Role.UNPROMOTED, Role.STOPPED)
        if any(placer.managed[p] and placer.u.states[p].next_role in capped for p in prims):
            priority = -INF
        if any(placer.assigned.get(p) is None for p in prims):
            priority = -INF
        current = _current_role(placer, prims)
        if current == Role.PROMOTED and not any(placer.managed[p] for p in prims):
            priority = INF  # an unmanaged promoted instance is forced to stay promoted
            forced.add(inst)
        elif any(not placer.managed[p] and node in placer.u.states[p].set_active_on
                 for p in prims):
            # An unmanaged member keeps its current role as its next role: Unpromoted
            # when found active without a start (set_active), which cannot be promoted
            # (seed 490); after a start it is Started and the score counts (seed 240).
            priority = -INF
        indexes[inst] = (node, priority, current)
    return indexes, forced


def _copies_finite_colocations(placer: _Placer, cid: str) -> bool:
    """append_parent_colocation copies a finite positive "clone with X" to the instances
    only when not every available node gets an instance."""
    # distribute_children counts the available nodes of the clone's allowed-node table, so
    # in an asymmetric cluster only the nodes its locations name (seed 673)
    clone = placer.u.rsc(cid)
    return clone.clone_max < available_count(placer.u, placer.cons, clone)


def _clone_table_indexes(placer: _Placer, cid: str, indexes: dict[str, tuple[str, int, Role]],
                         forced: set[str]) -> dict[str, int]:
    """sort_promotable_instances: non-negative indexes join the clone's own table (with its
    plain location scores), and those instances then take their node's value from it.

    An INFINITY index is no exception: a -INFINITY the merges left on its node wins
    (seed 1237); only an unmanaged promoted instance keeps INFINITY."""
    table = merge_influencing_dependents(placer, cid, placer._strategy_table(cid))
    for node, priority, _current in indexes.values():
        if priority >= 0 and node in table:
            table[node] = add(table[node], priority)
    table = merge_promoted_role_primaries(placer, cid, table)
    table = merge_promoted_role_dependents(placer, cid, table)
    # Pacemaker writes these scores into the clone's own node table: what a later clone's
    # instance sort reads for its colocation with this clone (seed 70).
    placer.allowed_after[cid] = table
    if cid in placer.clone_tables:  # and what a primary merging it as a dependent reads
        placer.clone_tables[cid] = table  # (seed 437)
    final = {}
    for inst, (node, priority, _current) in indexes.items():
        final[inst] = table.get(node, priority) if priority >= 0 and inst not in forced \
            else priority
    return final


def _role_locations(placer: _Placer, cid: str, node: str) -> int:
    total = 0
    for loc in placer.cons.locations:
        if loc.rsc == cid and loc.role == Role.PROMOTED:
            for name, score in loc.scores:
                if name == node:
                    total = add(total, score)
    return total


def _role_colocations(placer: _Placer, cid: str, inst: str, node: str, attempts: int,
                      copied: bool) -> int:
    """set_instance_priority's role colocations, once per copy of each of the clone's.

    append_parent_colocation copies them to an instance at every assignment attempt
    (`attempts`; a finite positive one only when not every node gets one: `copied`). A
    cloned group applies them to its first member (colocate_group_with), whose priority is
    not the instance's: they never change a group instance's index (corpus
    coloc-clone-stays-active)."""
    if placer.u.rsc(inst).kind != "primitive":
        return 0
    total = 0
    for c in placer.cons.colocations:
        if c.dependent != cid or c.dependent_role not in (Role.PROMOTED, Role.UNPROMOTED):
            continue
        if 0 <= c.score < INF and not copied:
            continue
        for _ in range(attempts):
            total = add(total, _coloc_priority(placer, c, node))
    return total


def _coloc_priority(placer: _Placer, c: Colocation, node: str) -> int:
    """What one role colocation adds to an instance's priority on `node`, by the primary's
    kind (the primary's apply_coloc_score with the instance as dependent)."""
    primary = placer.u.rsc(c.primary)
    if primary.kind == "group":  # colocate_with_group: the last member if mandatory
        members = placer.primitives_under(c.primary)
        return _coloc_to_priority(placer, c, node, members[-1 if c.score >= INF else 0]) \
            if members else 0
    if primary.kind == "primitive":
        return _coloc_to_priority(placer, c, node, c.primary)
    if primary.promotable and c.primary_role is not None and c.dependent_role == Role.PROMOTED:
        # pcmk__update_promotable_dependent_priority: a primary instance here in the role
        on_node = node in {n.name for n in placer.nodes_of(c.primary, c.primary_role)}
        return c.score if on_node else -INF if c.score >= INF else 0
    instances = placer.instance_order.get(c.primary, list(primary.children))
    if placer.u.rsc(c.dependent).interleave:  # paired with the primary instance here
        instances = [i for i in instances if _instance_node(placer, i) == node][:1]
    elif c.score >= INF:
        return 0  # a mandatory colocation with a clone only bans nodes (node_list_exclude)
    total = 0
    for primary_inst in instances:
        members = placer.primitives_under(primary_inst)
        if members:
            total = add(total, _coloc_to_priority(placer, c, node, members[0]))
    return total


def _instance_node(placer: _Placer, inst: str) -> str | None:
    members = placer.primitives_under(inst)
    return placer.assigned.get(members[0]) if members else None


def _coloc_to_priority(placer: _Placer, c: Colocation, node: str, prim: str) -> int:
    """pcmk__apply_coloc_to_priority with primitive `prim` as the primary: nothing while it
    is unassigned (corpus use-after-free-merge) or in another role than the colocation's;
    on another node only a mandatory Promoted-role colocation bans; an Unpromoted-role one
    subtracts its score (seed 461)."""
    where = placer.assigned.get(prim)
    if where is None:
        return 0
    if node_attr(placer.nodes.get(where), c.node_attribute) \
            != node_attr(placer.nodes.get(node), c.node_attribute):
        return -INF if c.score >= INF and c.dependent_role == Role.PROMOTED else 0
    if c.primary_role is not None and placer.next_role.get(prim) != c.primary_role:
        return 0
    return -c.score if c.dependent_role == Role.UNPROMOTED else c.score
