"""How a clone's instances pair with what is colocated or ordered with the clone:
role-less colocations applied once per instance, an interleaved instance's partner
(find_compatible_child), and then-instances left without a first-instance beside them
(multi_update_interleave_actions).

Invariants: runs inside the assignment stage; a per-instance application that would leave
no available node is rolled back on its own; inhibited instances record the node and role
they had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.colocation import apply_primary
from pengine.constraints import Colocation, first_created
from pengine.ordering import interleaves
from pengine.placement_choice import rank_nodes
from pengine.promotable_colocation import apply_role_colocation
from pengine.scores import INF

if TYPE_CHECKING:
    from pengine.placement import _Placer


def apply_per_instance(placer: _Placer, rid: str, c: Colocation) -> bool:
    """A finite, role-less colocation with a clone is applied once per instance.

    In the clone's current child order, each instance adds the score where it was
    placed (an unplaced one subtracts a positive score everywhere); each application
    is rolled back on its own when it would leave no available node. False when the
    colocation is not of that kind.
    """
    primary = placer.u.rsc(c.primary)
    # A role filters a negative colocation only when an instance has that role: the
    # instances of a clone that cannot promote never do, so it acts as role-less there
    # (pcmk__colocation_affects checks a negative score's role for equality; case
    # negative-role-colocation-with-unpromotable-clone-counts-every-instance, seed 122).
    roleless = c.primary_role is None or (c.score < 0 and not primary.promotable)
    if primary.kind != "clone" or not roleless:
        return primary.kind == "clone" and apply_role_colocation(placer, rid, c)
    if _apply_interleaved(placer, rid, c):
        return True
    if abs(c.score) >= INF:
        return False
    for inst in _children_in_order(placer, c.primary):
        members = placer.primitives_under(inst)
        node = placer.assigned.get(members[0]) if members else None
        where = [placer.nodes[node]] if node is not None else []
        placer.tables[rid] = apply_primary(placer.tables[rid], where, c, placer.nodes)
    return True


def _children_in_order(placer: _Placer, cid: str) -> list[str]:
    """The clone's children as Pacemaker's list holds them when a colocation is applied
    (assignment, then promotion order), orphans included: one the distribution reached is
    a child assigned nowhere (seed 299), one it did not reach is still provisional and
    counts for nothing; their place in the list decides which finite applications are
    rolled back (seed 5105)."""
    clone = placer.u.rsc(cid)
    order = placer.children_order.get(cid)
    if order is None:
        return list(placer.instance_order.get(cid, clone.children))
    # an unmanaged orphan kept where it runs counts there; an instance reached past
    # clone-max is still provisional (seed 396)
    placed = {*clone.children, *placer.reached_orphans.get(cid, ()),
              *placer.orphan_instances.get(cid, ())}
    return [inst for inst in order if inst in placed and inst not in placer.over_limit]


def _apply_interleaved(placer: _Placer, rid: str, c: Colocation) -> bool:
    """An interleaved clone's instance is colocated with one instance of the primary clone.

    The partner is the primary instance placed on the best-ranked node of the dependent
    instance's table (find_compatible_child); without one, a mandatory colocation leaves
    the instance unplaced and a finite one is ignored. False when the dependent is not an
    instance of an interleaved clone.
    """
    owner = placer.u.rsc(rid)
    while owner.parent is not None and owner.kind != "clone":
        owner = placer.u.rsc(owner.parent)
    if owner.kind != "clone" or owner.id == c.primary or not owner.interleave:
        return False
    hosts: dict[str, str] = {}
    for inst in placer.instance_order.get(c.primary, list(placer.u.rsc(c.primary).children)):
        members = placer.primitives_under(inst)
        # is_child_compatible: an instance with a blocked member is never a partner (seed 425)
        if any(placer.u.states[m].blocked for m in members):
            continue
        node = placer.assigned.get(members[0]) if members else None
        if node is not None:
            hosts.setdefault(node, inst)
    table = placer.tables[rid]
    partner = next((node for node in rank_nodes(placer, table) if node in hosts), None)
    if partner is not None:
        # With a group instance the colocation goes on to one member (group's
        # rsc_colocation_rh): the last for a mandatory one (the group must be fully up),
        # else the first; an unassigned member takes the score off every node
        # (bug-lf-2422: the instance stays unassigned, "due to node availability").
        members = placer.primitives_under(hosts[partner])
        member = members[-1] if c.score >= INF else members[0]
        where = placer.assigned.get(member)
        placer.tables[rid] = apply_primary(
            table, [placer.nodes[where]] if where is not None else [], c, placer.nodes)
    elif c.score >= INF:
        placer.tables[rid] = dict.fromkeys(table, -INF)
    return True


def inhibit_unpaired_instances(placer: _Placer) -> None:
    """Mandatory interleaved orderings stop then-instances with no first-instance beside them.

    For a symmetrical ordering between two clones that interleave (the `then` clone's
    setting, the `first` clone's before a stop or demote; the first action not a stop or
    demote), an instance assigned to a node where no instance of
    the first clone is assigned is not started at all (multi_update_interleave_actions).
    Pacemaker unassigns it when the ordering walk reaches that ordering: which ordering
    did it is kept (inhibited_by) for the walk to change its actions' flags then.
    """
    u = placer.u
    changed = True
    while changed:
        changed = False
        for o in first_created(placer.cons.orderings):
            first, then = u.rsc(o.first), u.rsc(o.then)
            # an asymmetrical ordering carries neither runnable-left nor implies-then
            if not interleaves(first, then, o.then_task) or not o.symmetrical \
                    or o.kind != "Mandatory" or o.via is not None \
                    or o.first_task in ("stop", "demote"):
                continue
            # is_child_compatible never pairs a blocked (failed) first instance
            paired = {_assigned_node(placer, inst) for inst in first.children
                      if not any(u.states[p].blocked for p in placer.primitives_under(inst))}
            for inst in then.children:
                node = _assigned_node(placer, inst)
                if node is not None and node not in paired:
                    for prim in placer.primitives_under(inst):
                        placer.inhibited[prim] = (node, placer.next_role.get(prim, Role.STARTED))
                        placer.inhibited_by.setdefault(prim, (o.first, o.then))
                        placer.assigned[prim] = None
                        placer.next_role[prim] = Role.STOPPED
                    changed = True


def _assigned_node(placer: _Placer, inst: str) -> str | None:
    prims = placer.primitives_under(inst)
    return placer.assigned.get(prims[0]) if prims else None
