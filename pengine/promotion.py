"""Promotion scores of promotable clone instances (pcmk_sched_promotable.c, 2.1.5).

Invariants: a score comes from the node attribute `master-<name>` (history name, else the
instance id, else for anonymous clones the id without `:N`); it counts on a node only where
Pacemaker's promotion_score_applies would count it; a cloned group's score is the sum of its
members'. Pure functions over the placer's state; nothing here changes a table except
`add_promotion_scores`, which returns the raised instance priorities. Also the quorum side
of roles: no-quorum-policy=demote lets active promotable instances run, capped at
Unpromoted (`cap_promotion_without_quorum` lowers their next role after every role is chosen).
"""

from __future__ import annotations

from collections import ChainMap
from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.colocation import Table, merge_dependents
from pengine.scores import INF, add, char2score
from pengine.unpack_resources import template_members

if TYPE_CHECKING:
    from pengine.placement import _Placer
    from pengine.state import Unpacked


def _base(prim: str) -> str:
    return prim.rsplit(":", 1)[0]


def _member_like(placer: _Placer, inst: str, base: str) -> str | None:
    """The primitive of instance `inst` with base id `base` (cloned groups have several)."""
    return next((p for p in placer.primitives_under(inst) if _base(p) == base), None)


def _instances(placer: _Placer, cid: str) -> list[str]:
    """The clone's instances followed by its orphans (Pacemaker appends those to children)."""
    clone = placer.u.rsc(cid)
    bases = set(template_members(clone))
    orphans = [r.id for r in placer.u.resources
               if r.orphan and not clone.unique and _base(r.id) in bases]
    return [*clone.children, *orphans]


def orphan_instances(placer: _Placer, cid: str) -> dict[str, list[str]]:
    """An anonymous clone's orphaned instances (`<child base>:<N>` past clone-max, a cloned
    group's named after the group) with their members, in the order history made them."""
    clone = placer.u.rsc(cid)
    if clone.unique or not clone.children:
        return {}
    child_base = _base(clone.children[0])
    bases = set(template_members(clone))
    out: dict[str, list[str]] = {}
    for r in placer.u.resources:
        if r.orphan and ":" in r.id and _base(r.id) in bases:
            inst = f"{child_base}:{r.id.rsplit(':', 1)[1]}"
            if inst not in clone.children:
                out.setdefault(inst, []).append(r.id)
    return out


def _members(placer: _Placer, cid: str, base: str) -> list[tuple[str, str]]:
    """(instance, its primitive with base id `base`) for each instance that has one.

    Kept on the placer, whose resources never change: the scan over every resource would
    otherwise repeat for each instance, primitive and node.
    """
    known: dict[tuple[str, str], list[tuple[str, str]]] = \
        placer.__dict__.setdefault("_promotion_members", {})
    if (cid, base) not in known:
        pairs = [(inst, _member_like(placer, inst, base)) for inst in _instances(placer, cid)]
        known[(cid, base)] = [(inst, prim) for inst, prim in pairs if prim is not None]
    return known[(cid, base)]


def _active_instance(placer: _Placer, cid: str, base: str, node: str) -> str | None:
    for inst, prim in _members(placer, cid, base):
        if node in placer.u.states[prim].running_on:
            return inst
    return None


def _known_anywhere_on(placer: _Placer, cid: str, base: str, node: str) -> bool:
    return any(node in placer.u.states[prim].known_on for _, prim in _members(placer, cid, base))


def score_applies(placer: _Placer, cid: str, inst: str, prim: str, node: str) -> bool:
    """promotion_score_applies: does `prim`'s promotion score count on `node`?"""
    st = placer.u.states[prim]
    base = _base(prim)
    applies = False
    if not placer.u.rsc(cid).unique:
        active = _active_instance(placer, cid, base, node)
        if active == inst or (active is None and _known_anywhere_on(placer, cid, base, node)):
            applies = True
    if not applies:
        applies = (not st.running_on and not st.known_on) \
            or node in st.known_on or node in st.running_on
    return applies and placer.tables.get(prim, {}).get(node, -INF) >= 0


def promotion_score(placer: _Placer, cid: str, inst: str, node: str) -> tuple[int, bool]:
    """(score, is_default): the summed promotion score of an instance on a node."""
    attrs = placer.nodes[node].attrs if node in placer.nodes else {}
    unique = placer.u.rsc(cid).unique
    total, default = 0, True
    for prim in placer.primitives_under(inst):
        if not score_applies(placer, cid, inst, prim, node):
            continue
        name = placer.u.states[prim].history_name or prim
        value = attrs.get(f"master-{name}")
        if value is None and not unique and _base(prim) != prim:
            value = attrs.get(f"master-{_base(prim)}")
        if value is not None:
            default = False
            total = add(total, char2score(value))
    return total, default


def add_promotion_scores(placer: _Placer, cid: str) -> dict[str, int]:
    """Positive scores join the instance's table; returns each instance's raised priority."""
    priorities: dict[str, int] = {}
    base_priority = placer.u.rsc(cid).priority
    for inst in placer.u.rsc(cid).children:
        prims = placer.primitives_under(inst)
        if not prims:
            continue
        priority = base_priority
        # The scores join the clone's child: a group instance's own table, which its
        # members' assignments never read (corpus bug-5059: g_stateful:0 shows 5 on the
        # node where p_stateful1:0 keeps 1).
        group = placer.u.rsc(inst).kind == "group"
        table = placer.group_tables[inst] if group else placer.tables[prims[0]]
        scores = {}
        for name in table:
            node = placer.nodes.get(name)
            if node is None or not node.available:
                continue
            scores[name], _ = promotion_score(placer, cid, inst, name)
        for name, score in scores.items():
            if score > 0:
                table[name] = add(table[name], score)
            priority = max(priority, score)
        priorities[inst] = priority
    return priorities


def merge_influencing_dependents(placer: _Placer, cid: str, table: Table) -> Table:
    """pcmk__clone_allocate: before its instances are placed, the clone's table takes in the
    scores of each resource colocated with it that has influence (non-negatively, rolled
    back when no node stays usable); those are still in it when the instances are sorted
    for promotion (corpus promoted-demote: an address colocated with the clone makes its
    node's instance the one promoted).
    """
    # pcmk__clone_allocate does not mark the clone as merging: a loop back to it merges its
    # table once more, and that nested merge ends by turning the nodes it finds marked
    # unusable into 1 (seed 264). The table a loop back reads is the clone's allowed nodes
    # as the dependents merged so far left them: each merge replaces them (seed 262).
    merging: frozenset[str] = frozenset()
    merged_so_far: dict[str, Table] = {}
    for c in placer.with_this.get(cid, []):
        if placer._influence(c):
            table = merge_dependents(
                c.dependent, table, c.node_attribute, c.score / INF,
                tables=ChainMap(merged_so_far, placer.tables, placer.clone_tables),
                with_this=placer.with_this, nodes=placer.nodes,
                has_influence=placer._influence, merging=merging, only_positive=True,
                group_last=placer.last_member, last=placer.last_member(c))
            merged_so_far[cid] = table
    return table


def merge_promoted_role_primaries(placer: _Placer, cid: str, table: Table) -> Table:
    """apply_coloc_to_dependent (sort_promotable_instances): "clone Promoted with X" merges
    X's scores into the clone's table by score/INFINITY (a -INFINITY node costs a finite
    colocation its score: seed 425), then X's own dependents; a finite colocation's merge
    is rolled back when no node stays usable, a mandatory one's is kept (corpus
    promoted-promotion-constraint: X stopped, every instance's index -INFINITY). The
    clone is being merged, so neither it nor its instances recurse.

    X's scores are its node table as assignment left it (a clone: its own table). A group
    X merges through its members as Pacemaker's init_group_colocated_nodes does: the first
    member's scores and dependents, then the dependents of its last member (seed 1343:
    a member's -INFINITY reaches the clone table and blocks the promotion there).
    """
    merging = frozenset({cid, *placer.primitives_under(cid)})
    for c in placer.cons.colocations:
        if c.dependent != cid or c.dependent_role != Role.PROMOTED or c.primary == cid:
            continue
        primary, last = c.primary, None
        if placer.u.rsc(primary).kind == "group":
            members = placer.primitives_under(primary)
            if not members:
                continue
            primary, last = members[0], members[-1]
        own = placer._strategy_table(primary) if placer.u.rsc(primary).kind == "clone" \
            else placer.tables.get(primary, {})
        table = merge_dependents(
            primary, table, c.node_attribute, c.score / INF,
            tables=ChainMap({primary: own}, placer.tables, placer.clone_tables),
            with_this=placer.with_this, nodes=placer.nodes,
            has_influence=placer._influence, merging=merging,
            group_last=placer.last_member, last=last, rollback=c.score < INF)
    return table


def merge_promoted_role_dependents(placer: _Placer, cid: str, table: Table) -> Table:
    """apply_coloc_to_primary (sort_promotable_instances): "X with Promoted clone" merges X's
    scores (and X's own dependents') non-negatively, and the whole merge is rolled back
    when it leaves no node usable (corpus asymmetric: a mandatory dependent banned from
    every node leaves the promotion scores as they were)."""
    merging = frozenset({cid, *placer.primitives_under(cid)})
    for c in placer.cons.colocations:
        if c.primary != cid or c.dependent == cid or c.primary_role != Role.PROMOTED \
                or not placer._influence(c):
            continue
        table = merge_dependents(
            c.dependent, table, c.node_attribute, c.score / INF,
            tables=ChainMap({c.dependent: placer._strategy_table(c.dependent)},
                            placer.tables, placer.clone_tables),
            with_this=placer.with_this, nodes=placer.nodes,
            has_influence=placer._influence, merging=merging, only_positive=True,
            group_last=placer.last_member)
    return table


def cap_promotion_without_quorum(placer: _Placer) -> None:
    """no-quorum-policy=demote: an active promotable instance goes no further than Unpromoted.

    Pacemaker lowers the next role when it creates the instance's actions, after every
    role was chosen, so nothing else is promoted in its place.
    """
    opts = placer.u.options
    if opts.have_quorum or opts.no_quorum_policy != "demote":
        return
    for prim in placer.promotable:
        active = placer.u.states[prim].role in (Role.UNPROMOTED, Role.PROMOTED)
        if active and placer.next_role.get(prim) == Role.PROMOTED:
            placer.next_role[prim] = Role.UNPROMOTED


def effective_quorum_policy(u: Unpacked, rid: str) -> str:
    """no-quorum-policy as it applies to one resource's start or promote.

    Pacemaker's "demote" keeps an active promotable instance (current role Unpromoted or
    Promoted) running as if quorum were there (its role is capped at Unpromoted during
    placement); every other resource is treated as under "stop".
    """
    opts = u.options
    if opts.have_quorum:
        return "ignore"
    if opts.no_quorum_policy == "demote":
        active_role = u.states[rid].role in (Role.UNPROMOTED, Role.PROMOTED)
        return "ignore" if active_role else "stop"
    return opts.no_quorum_policy
