"""Where Pacemaker pairs an interleaved instance the ordering left without a node.

multi_update_interleave_actions unassigns a then-instance with no first-instance on its
node, and when it processes the ordering again it pairs that instance through
find_compatible_child: no node, so the instance's allowed nodes are walked best first and
the first first-instance placed there, in the first clone's sorted children, is taken.
Pure: reads the placement only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pengine.state import Unpacked


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
