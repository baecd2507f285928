"""Anti-colocation orderings: what a -INFINITY colocation adds to the transition graph.

Pacemaker 2.1.5 gives every colocation of score -INFINITY (each pair of a set colocation
too) two orderings of kind anti-colocation (pcmk__new_colocation, anti_colocation_order):
whatever makes the dependent lose its role comes before whatever makes the primary gain
its role, and the same the other way round. Losing a role is a stop (a demote for the
Promoted role; a stop and a promote for the Unpromoted role), gaining one a start (a promote
for Promoted; a start and a demote for Unpromoted). So a resource moving away from a node
stops before the anti-colocated resource starts.

Invariants: the orderings change no action's flags; the graph keeps one only between
actions of the same node (or when either is a pseudo action without a node) whose first is
required (should_add_input_to_graph), see graph.graph_edges.
"""

from __future__ import annotations

from messaging.types import Role
from pengine.actions import ActionSet
from pengine.constraints import Constraints
from pengine.scores import INF

ANTI_COLOCATION = "anti_colocation"  # an ordering kind that only orders the graph


def create_anti_colocation_orders(cons: Constraints, acts: ActionSet) -> None:
    """Both orderings of every -INFINITY colocation, in colocation order."""
    for c in cons.colocations:
        if c.score > -INF:
            continue
        _order(acts, c.dependent, c.dependent_role, c.primary, c.primary_role)
        _order(acts, c.primary, c.primary_role, c.dependent, c.dependent_role)


def _order(acts: ActionSet, first: str, first_role: Role | None, then: str,
           then_role: Role | None) -> None:
    for first_task in _losing(first_role):
        for then_task in _gaining(then_role):
            acts.order(first, first_task, then, then_task, ANTI_COLOCATION)


def _losing(role: Role | None) -> tuple[str, ...]:
    if role == Role.PROMOTED:
        return ("demote",)
    return ("stop", "promote") if role == Role.UNPROMOTED else ("stop",)


def _gaining(role: Role | None) -> tuple[str, ...]:
    if role == Role.PROMOTED:
        return ("promote",)
    return ("start", "demote") if role == Role.UNPROMOTED else ("start",)
