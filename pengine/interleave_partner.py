"""Interleaved orderings: which first-instance each then-instance waits for.

An instance pairs with the first instance on its node (find_compatible_child_by_node).

multi_update_interleave_actions unassigns a then-instance with no first-instance on its
node, and when it processes the ordering again it pairs that instance through
find_compatible_child: no node, so the instance's allowed nodes are walked best first and
the first first-instance placed there, in the first clone's sorted children, is taken.
Pure: reads the placement only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pengine.actions import ActionSet, OrderSpec
from pengine.order_links import Link
from pengine.state import Unpacked

# the completion pseudo action of a collective's task (what an ordering waits for)
COMPLETE = {"start": "running", "stop": "stopped", "promote": "promoted", "demote": "demoted"}


@dataclass(frozen=True)
class Placed:
    """What resolve reads of the placement: the primitives' node scores and each clone's
    instances in the order assignment left them (the order Pacemaker looks for a partner
    instance in)."""

    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    instance_order: Mapping[str, Sequence[str]] = field(default_factory=dict)


def unplaced_partner(u: Unpacked, then_inst: str, firsts: Mapping[str, str | None],
                     placed: Placed) -> str | None:
    """find_compatible_child for an instance with no node (one the interleaving left
    without a partner, whose actions stay): on the first of its allowed nodes, best score
    first (pcmk__sort_nodes: then by name), the first instance there in the first
    clone's sorted children."""
    table = placed.tables.get(u.primitives_under(then_inst)[0], {})
    for node in sorted(table, key=lambda name: (-table[name], name.encode())):
        for inst, first_node in firsts.items():
            if first_node == node:
                return inst
    return None


def _instance_node(u: Unpacked, inst: str, assigned: dict[str, str | None],
                   current: bool) -> str | None:
    """Where an instance is (native_location): where it runs after a stop or demote (so
    nowhere when it is not running), else where it is assigned."""
    prims = u.primitives_under(inst)
    if current:
        return next((u.states[p].running_on[0] for p in prims if u.states[p].running_on),
                    None)
    return next((assigned.get(p) for p in prims if assigned.get(p)), None)


def interleave_links(u: Unpacked, acts: ActionSet, spec: OrderSpec,
                      assigned: dict[str, str | None], placed: Placed) -> list[Link]:
    """interleave=true: each then-instance waits only for the first-instance on its node.

    multi_update_interleave_actions pairs both instances by current node after a stop or
    demote, and never pairs a blocked first instance (is_child_compatible).
    """
    out: list[Link] = []
    first_insts = [inst for inst in u.rsc(spec.first_rsc or "").children
                   if not any(u.states[p].blocked for p in u.primitives_under(inst))]
    current = spec.first_task in ("stop", "demote", "stopped", "demoted")
    # find_compatible_child_by_node takes the first instance on the node in the first
    # clone's children as assignment sorted them (seed 583: g9:0 of two on node14)
    order = [inst for inst in placed.instance_order.get(spec.first_rsc or "", ())
             if inst in first_insts]
    nodes = {inst: _instance_node(u, inst, assigned, current)
             for inst in order + [inst for inst in first_insts if inst not in order]}
    for then_inst in u.rsc(spec.then_rsc or "").children:
        node = _instance_node(u, then_inst, assigned, current)
        thens = acts.of(then_inst, spec.then_task)
        if node is not None:
            partner = next((inst for inst, at in nodes.items() if at == node), None)
        elif thens:
            # find_compatible_child pairs an instance without a node by its allowed nodes:
            # one not running yet after a stop or demote (seed 153), or one Pacemaker
            # unassigned for having no partner, when it re-processes the ordering (seed
            # 1031: "required g2:1 running")
            partner = unplaced_partner(u, then_inst, nodes, placed)
        else:
            continue
        if partner is None:
            continue
        task = spec.first_task
        if u.rsc(partner).kind != "primitive":
            task = COMPLETE.get(task, task)
        for f in acts.of(partner, task):
            out.extend(Link(f, t, spec.flags) for t in thens)
    return out


def interleaved(u: Unpacked, acts: ActionSet, spec: OrderSpec,
                assigned: dict[str, str | None], placed: Placed, origin: int) -> list[Link]:
    """The links of an interleaved ordering: instance pairs, then the member links of
    the group instances among them, all sharing the ordering's `origin`."""
    pairs = interleave_links(u, acts, spec, assigned, placed)
    return pairs + group_instance_member_links(u, acts, spec.then_task, pairs, origin)


def group_instance_member_links(u: Unpacked, acts: ActionSet, task: str, pairs: list[Link],
                                origin: int) -> list[Link]:
    """An interleaved ordering updates a group instance's members along with it
    (group_update_ordered_actions, called for each then-instance): a required first
    instance's start makes a running member's start required (seed 1142). Only start and
    promote: a group's own stop -> member stop ordering passes requiredness on itself."""
    out: list[Link] = []
    if task not in ("start", "promote"):
        return out
    for pair in pairs:
        then = pair.then
        if then.rsc is None or u.rsc(then.rsc).kind != "group":
            continue
        out.extend(Link(pair.first, member, pair.flags | {"nograph"}, then, origin)
                   for p in u.primitives_under(then.rsc) for member in acts.of(p, task))
    return out
