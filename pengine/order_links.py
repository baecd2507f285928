"""Links between actions, and the member links a user ordering on a collective derives.

Invariants: a Link is frozen; member links keep creation order (then-member, then-action,
first-action) and all links derived from one order spec share its `origin` index.
"""

from __future__ import annotations

from dataclasses import dataclass

from pengine.actions import IMPLIES_THEN, OrderSpec, Work

# pe_order_implies_then_printed: a required first puts its then-pseudo action in the graph
PRINTED = "implies_then_printed"
# pe_order_implies_first_printed: a required then puts its first (a group's own start or
# stop before its member's) in the graph, runnable or not
FIRST_PRINTED = "implies_first_printed"
# A link whose collective 'first' was remapped to its completion action (start -> running):
# Pacemaker orders it anew when it first meets it, and applies it only from then on
REMAPPED = "remapped"
# An ordering a clone's action passes on to an instance's action (a member link whose
# collective link is the one with the same 'first' and the clone's start as 'then')
THROUGH_CLONE = "through_clone"
# An interleaved ordering's instance pair: applying the clone-level ordering creates it as
# an ordering of its own (update_interleaved_actions calls order_actions), which the
# instances' later updates follow like any other
PAIRED = "paired"


@dataclass(frozen=True)
class Link:
    first: Work
    then: Work
    flags: frozenset[str]
    via: Work | None = None  # the group/clone action a member link was derived from
    origin: int = -1  # which order spec a derived member link came from


def member_links(spec: OrderSpec, firsts: list[Work], member_thens: list[Work],
                 then_kind: str | None, kinds: dict[str, str], via: Work | None,
                 origin: int) -> list[Link]:
    """Links from each "first" action to every member action of a group or clone "then".

    A user ordering with a collective "then" also reaches its members' actions directly;
    these links stay out of the graph ("nograph") and only carry flags. `origin` is the
    index the first of them gets in the link list, shared by all of them.
    """
    out: list[Link] = []
    for then in member_thens:
        for first in firsts:
            flags = spec.flags | {"nograph"}
            if then_kind == "clone" and first.rsc is None:
                flags = flags - {IMPLIES_THEN}
            elif then_kind == "clone" and kinds.get(first.rsc or "") == "clone":
                # Not interleaved: the first clone's action as a whole (any instance)
                # decides for every then-instance.
                flags = flags | {"any_child"}
            out.append(Link(first, then, flags, via, origin))
    return out
