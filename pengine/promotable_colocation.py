"""Colocations with a promotable clone's role, applied to a dependent being assigned.

Pacemaker 2.1.5 promotable_colocation_rh: each instance of the clone placed in the role
counts on its node (a finite score once per instance; a mandatory one bans the other nodes
and adds the instance's assignment weight). Invariants: functions here change only the
dependent's table, and return False (changing nothing) for colocations of other kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.colocation import can_run_any, node_attr
from pengine.constraints import Colocation
from pengine.scores import INF, add

if TYPE_CHECKING:
    from pengine.placement import _Placer


def apply_role_colocation(placer: _Placer, rid: str, c: Colocation) -> bool:
    """Apply `c` (dependent `rid` with a clone's role) when it is of a kind handled here."""
    return _mandatory(placer, rid, c) or _finite(placer, rid, c)


def _mandatory(placer: _Placer, rid: str, c: Colocation) -> bool:
    """A mandatory colocation with a promotable clone's role (promotable_colocation_rh).

    Nodes without an instance in that role are banned, and each node with one adds the
    weight that instance was assigned with (node_list_exclude merging scores): a
    promotion score carries over (case mandatory-promoted-colocation-adds-instance-weight,
    seed 26). Not for Promoted-with-Promoted, nor group instances.
    """
    primary = placer.u.rsc(c.primary)
    # Only seen with the Promoted role: an Unpromoted instance's node adds nothing (seed 256).
    if not primary.promotable or c.score < INF or c.primary_role != Role.PROMOTED \
            or (c.dependent_role == Role.PROMOTED and c.primary_role == Role.PROMOTED) \
            or any(placer.u.rsc(i).kind != "primitive" for i in primary.children):
        return False
    weights: dict[str, int] = {}
    for inst in placer.instance_order.get(c.primary, list(primary.children)):
        node = placer.assigned.get(inst)
        if node is not None and placer.next_role.get(inst) == c.primary_role:
            # the last instance's counts: the weight of the node copy it was assigned, from
            # its own table; one assigned unmanaged (fencing enabled without a device) got
            # its current node's copy, which weighs 0 (seed 250; a kept managed one adds
            # its table's weight: corpus promoted-12). Only a positive weight was seen added.
            weight = placer.tables[inst].get(node, 0) if placer.managed[inst] else 0
            weights[node] = max(weight, 0)
    placer.tables[rid] = {name: add(score, weights[name]) if name in weights else -INF
                          for name, score in placer.tables[rid].items()}
    return True


def _finite(placer: _Placer, rid: str, c: Colocation) -> bool:
    """A finite colocation with a promotable clone's role adds its score once per instance
    in that role (promotable_colocation_rh updates the node for each child): two instances
    on one node count twice (case role-colocation-counts-each-instance-on-a-node, seed 122).
    Rolled back as a whole when no node stays available; not with a dependent role."""
    primary = placer.u.rsc(c.primary)
    if not primary.promotable or abs(c.score) >= INF or c.dependent_role is not None:
        return False
    work = dict(placer.tables[rid])
    for inst in placer.instance_order.get(c.primary, list(primary.children)):
        prims = placer.primitives_under(inst)
        node = placer.assigned.get(prims[0]) if prims else None
        if node is not None and placer.next_role.get(prims[0]) == c.primary_role:
            value = node_attr(placer.nodes[node], c.node_attribute)
            for name in work:
                if value is not None \
                        and node_attr(placer.nodes.get(name), c.node_attribute) == value:
                    work[name] = add(work[name], c.score)
    if can_run_any(work, placer.nodes):
        placer.tables[rid] = work
    return True
