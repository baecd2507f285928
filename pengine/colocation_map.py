"""Mapping colocations onto primitives: group internals and user constraints on members.

Invariants: the output keeps Pacemaker's creation order (group-internal chains first, in
resource order, then each user colocation's mappings in constraint order); nothing here
reads placement state, only the unpacked configuration and the constraint list.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from messaging.types import Role
from pengine.constraints import Colocation, Constraints
from pengine.placement_tables import available_count, primitive_members
from pengine.scores import INF
from pengine.state import Unpacked
from pengine.unpack_resources import RscConfig
from pengine.xmlin import is_true


def map_colocations(u: Unpacked, cons: Constraints,
                    group_primary: dict[int, str] | None = None) -> list[Colocation]:
    """Colocations between primitives: group internals + user constraints on members.

    `group_primary` (when given) receives, per mapped colocation whose primary was a group,
    that group's id (keyed by the Colocation's id()).
    """
    out = _group_internal_colocations(u)
    for c in cons.colocations:
        if uncollocated(u, c.primary):
            # colocate_with_group: with each member on its own; a mandatory colocation
            # with such a group is a configuration error and is dropped
            for member in primitive_members(u, c.primary) if c.score < INF else ():
                out.extend(_dependent_colocations(u, cons, c, member))
            continue
        primary = _primary_member(u, c)
        if primary is None:
            continue
        mapped = _dependent_colocations(u, cons, c, primary)
        if group_primary is not None and primary != c.primary:
            group_primary.update((id(m), c.primary) for m in mapped)
        out.extend(mapped)
        dep_rsc = u.rsc(c.dependent)
        groups = [dep_rsc] if dep_rsc.kind == "group" else \
            [u.rsc(inst) for inst in dep_rsc.children if u.rsc(inst).kind == "group"] \
            if dep_rsc.kind == "clone" else []
        # A cloned group's instance gets the clone's mandatory colocation (append_parent_
        # colocation) and expands it like any group (case cloned-group-after-unmanaged-
        # member-gets-clone-colocation, seed 442).
        for group in groups if c.score >= INF else ():
            out.extend(_between(c, member, primary)
                       for member in _after_unmanaged_member(u, group.children))
    return out


def with_this_lists(u: Unpacked, colocations: list[Colocation], skip: set[int],
                    group_primary: dict[int, str],
                    key: Callable[[Colocation], Any]) -> dict[str, list[Colocation]]:
    """Each primitive's "with this" colocations (those in `skip` left out), sorted.

    Pacemaker inserts into sorted lists, a new entry before equal ones: reversed creation
    order and a stable sort give the same list. An "R with group" colocation is on the
    group until it is assigned; expand_group_colocations then adds the group's list, one
    entry at a time, to its last member's, whatever member the score is applied from: the
    last member merges R too (case group-dependent-merges-into-last-member). Inserted
    again, equal entries come back in creation order (case
    group-primary-merges-equal-colocations-in-creation-order).
    """
    out: dict[str, list[Colocation]] = {}
    moved: list[Colocation] = []
    for c in reversed(colocations):
        if id(c) not in skip:
            (moved if id(c) in group_primary else out.setdefault(c.primary, [])).append(c)
    for lst in out.values():
        lst.sort(key=key)
    for c in sorted(moved, key=key):
        lst = out.setdefault(primitive_members(u, group_primary[id(c)])[-1], [])
        lst.insert(next((i for i, old in enumerate(lst) if key(old) >= key(c)), len(lst)), c)
    return out


def escalated_primary(u: Unpacked, group_primary: dict[int, str], allocating: set[str],
                      c: Colocation) -> str:
    """The resource whose assignment runs when mapped colocation `c` needs its primary.

    For "X with group" that is the group (seed 616). Pacemaker never assigns a group
    member on its own either: a member whose group is not being assigned
    (pe_rsc_allocating) escalates to the group's assignment, which shows the group's
    score lines first (case member-primary-escalates-to-its-group, seed 257). Only
    top-level groups here: a group instance is placed by its clone.
    """
    rid = group_primary.get(id(c), c.primary)
    parent = u.rsc(rid).parent
    if parent is None or u.rsc(parent).kind != "group" or parent in allocating \
            or u.rsc(parent).parent is not None:
        return rid
    return parent


def _group_internal_colocations(u: Unpacked) -> list[Colocation]:
    """Each group member is colocated (mandatory) with the member before it, unless the
    group has collocated=false (pcmk__group_internal_constraints: only ordering then)."""
    return [Colocation(f"{rsc.id}-internal", cur, prev, INF, None, None, "#uname",
                       u.rsc(cur).critical)
            for rsc in u.resources
            if rsc.kind == "group" and is_true(rsc.meta.get("collocated"), True)
            for prev, cur in itertools.pairwise(rsc.children)]


def uncollocated(u: Unpacked, rid: str) -> bool:
    """A group with collocated=false (its members are placed independently)."""
    rsc = u.rsc(rid)
    return rsc.kind == "group" and not is_true(rsc.meta.get("collocated"), True)


def _primary_member(u: Unpacked, c: Colocation) -> str | None:
    """The primitive standing for the colocation's primary: a group's last member for a
    mandatory colocation (the whole group must run), its first member otherwise; None for
    an empty group."""
    if u.rsc(c.primary).kind != "group":
        return c.primary
    members = primitive_members(u, c.primary)
    if not members:
        return None
    return members[-1] if c.score >= INF else members[0]


def _dependent_colocations(u: Unpacked, cons: Constraints, c: Colocation,
                           primary: str) -> list[Colocation]:
    """The colocation as seen from the dependent's primitives (its first member)."""
    dep_rsc = u.rsc(c.dependent)
    out: list[Colocation] = []
    heads = [c.dependent]
    if dep_rsc.kind == "clone":
        # The primary merges the clone's own table as one "with this" dependent (seeds
        # 300, 461).
        out.append(_between(c, c.dependent, primary))
        if not _instances_get_colocation(u, cons, c, dep_rsc):
            return out
        heads = list(dep_rsc.children)
    for head in heads:
        dep = primitive_members(u, head)
        if dep:
            out.append(_between(c, dep[0], primary))
    return out


def _instances_get_colocation(u: Unpacked, cons: Constraints, c: Colocation,
                              clone: RscConfig) -> bool:
    """Whether a clone's instances get its colocation too (append_parent_colocation).

    Not a positive one limited to a role (an instance's role is still unknown while it is
    placed, so pcmk__colocation_affects skips it; a negative one limited to a role that
    differs from that unknown role does apply: seed 42), except a mandatory one with a
    non-interleaved clone, which pcmk__clone_apply_coloc_score applies without asking
    pcmk__colocation_affects (bans the nodes without a primary instance, in the role if
    the primary promotes; not Promoted with Promoted); and not for a finite positive
    score while every available node gets an instance (only when clone-max < available
    nodes).
    """
    if c.dependent_role in (Role.PROMOTED, Role.UNPROMOTED) and c.score >= 0:
        return _mandatory_with_clone(u, c, clone)
    return c.score < 0 or c.score >= INF or clone.clone_max < available_count(u, cons, clone)


def _mandatory_with_clone(u: Unpacked, c: Colocation, clone: RscConfig) -> bool:
    primary = u.rsc(c.primary)
    if c.score < INF or primary.kind != "clone" or clone.interleave:
        return False
    with_role = primary.promotable and c.primary_role is not None
    return not (with_role and c.dependent_role == Role.PROMOTED
                and c.primary_role == Role.PROMOTED)


def _between(c: Colocation, dependent: str, primary: str) -> Colocation:
    """Colocation `c` restated between two primitives (or a clone and a primitive)."""
    return Colocation(c.id, dependent, primary, c.score, c.dependent_role, c.primary_role,
                      c.node_attribute, c.influence)


def _after_unmanaged_member(u: Unpacked, members: tuple[str, ...] | list[str]) -> list[str]:
    """Group members that follow an unmanaged member.

    Later members normally honour the group's colocations through the internal chain from
    the first member; an unmanaged member breaks that chain, so Pacemaker gives the members
    after it the group's mandatory colocations directly.
    """
    for index, member in enumerate(members):
        if not u.states[member].managed:
            return list(members[index + 1:])
    return []
