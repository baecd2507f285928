"""Initial score tables of the assignment stage (before any resource is placed).

Owns: node base scores, history bans, clone-wide bans of anonymous instances, location
constraints, node health, stickiness on the current node and failure-threshold bans.
A group (or group instance) also has its own table, what pcmk__group_assign shows before
its members' (resource_location and pcmk__apply_location reach the group itself too).
Invariants: every primitive gets a table; scores only ever combine through scores.add
(so -INFINITY wins); nothing here assigns a resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messaging.types import Role
from pengine.constraints import Constraints
from pengine.failcount_clear import PARAMETERS_CHANGED, failcount_clears
from pengine.failcounts import fail_count, has_failure_attributes
from pengine.score_lines import table_lines
from pengine.scores import INF, add, char2score
from pengine.unpack_history import CLONE_BAN_TAGS
from pengine.xmlin import is_true

if TYPE_CHECKING:
    from pengine.colocation import Table
    from pengine.placement import _Placer
    from pengine.state import Unpacked
    from pengine.unpack_resources import RscConfig


_Bans = dict[str, list[tuple[str | None, int, str]]]


def build_tables(placer: _Placer, cons: Constraints) -> None:
    """Fill placer.tables for every primitive, then apply node criteria."""
    shared = clone_wide_bans(placer)
    for rsc in placer.u.primitives:
        placer.tables[rsc.id] = _primitive_table(placer, rsc.id, shared)
    _group_tables(placer, shared)
    node_health(placer)
    for loc in cons.locations:
        if loc.role != Role.PROMOTED:
            apply_location(placer, loc.rsc, loc.scores, first=True)
    node_criteria(placer)
    exclusive_discovery(placer)


def exclusive_discovery(placer: _Placer) -> None:
    """apply_exclusive_discovery, after locations, stickiness and failure thresholds."""
    for rid in placer.discovery.exclusive_scope():
        kind = placer.u.rsc(rid).kind
        if kind == "primitive":
            placer.discovery.ban_outside(rid, placer.tables[rid])
        elif kind == "group":
            placer.discovery.ban_outside(rid, placer.group_tables[rid])


def _primitive_table(placer: _Placer, rid: str, shared: _Bans) -> Table:
    """A primitive's table from the status: node base scores, its history bans and the
    bans its clone's anonymous instances share, cut down to a shutdown lock's node."""
    u = placer.u
    anonymous = rid in placer.anonymous
    table: Table = {n.name: n.base_score for n in u.nodes} if u.options.symmetric else {}
    for node, score, tag in u.states[rid].locations:
        if anonymous and clone_only_ban(node, tag):
            continue
        if node in placer.nodes and node not in table:
            # resource_location() from the status adds a copy of the node with the
            # weight unpacking gave it: -INFINITY on a node shutting down (case
            # asymmetric-unmanaged-resource-on-a-stopping-node)
            table[node] = placer.nodes[node].weight
        placer._add(table, node, score)
    for node, score, tag in shared.get(top_id(u, rid) if anonymous else "", ()):
        # resource_location() on the clone too: its own table (what a colocated
        # primary merges) carries the ban (trace: "masked-probe-failure for c7").
        placer.threshold_bans.setdefault(rid, set()).add(node or "")
        if not clone_only_ban(node, tag):
            placer._add(table, node, score)
    locked = u.states[rid].locked_to
    if locked is not None:
        # ban_if_not_locked bans every other node of the cluster before the location
        # constraints apply (so an asymmetric cluster's rule cannot allow one: seed 1110)
        for name in [n.name for n in u.nodes if n.name in table or n.name in placer.nodes]:
            if name != locked:
                table[name] = -INF
    return table


def _group_tables(placer: _Placer, shared: _Bans) -> None:
    """The groups' own tables: the symmetric default, and the history bans resource_location
    puts on an anonymous clone (they recurse into its group instances, adding the node in
    an asymmetric cluster); a group instance's table is then cut down like its members'
    when the clone assigns it (placement_clone)."""
    u = placer.u
    for rsc in u.resources:
        if rsc.kind != "group":
            continue
        table: Table = {n.name: n.base_score for n in u.nodes} if u.options.symmetric else {}
        members = placer.primitives_under(rsc.id)
        if members and members[0] in placer.anonymous:
            for node, score, tag in shared.get(top_id(u, rsc.id), ()):
                if not clone_only_ban(node, tag):
                    placer._add(table, node, score)
        placer.group_tables[rsc.id] = table


def clone_only_ban(node: str | None, tag: str) -> bool:
    """An anonymous instance's on-fail=stop ban (every node) lands on its clone alone: the
    instances' own tables keep their scores (crm_simulate -s shows them unbanned under a
    banned clone), so pcmk__cmp_instance still finds the failed instance allowed where it
    runs and sorts it after a healthy one (seed 118); can_run_instance then keeps every
    instance off the clone's banned nodes."""
    return node is None and tag == "__action_migration_auto__"


def groups_under(placer: _Placer, rid: str) -> list[str]:
    """The groups at or below `rid` (a clone's group instances, or a group itself)."""
    rsc = placer.u.rsc(rid)
    if rsc.kind == "group":
        return [rid]
    return [g for child in rsc.children for g in groups_under(placer, child)]


def show_group_scores(placer: _Placer, gid: str) -> None:
    """pcmk__group_assign's score lines, once per group: its own table, then each member's."""
    if gid in placer.groups_assigned:
        return
    placer.groups_assigned.add(gid)
    rows = [(gid, placer.group_tables.get(gid, {}))]
    rows += [(child, placer.tables.get(child, {})) for child in placer.u.rsc(gid).children]
    for rid, table in rows:
        placer.lines.extend(table_lines("pcmk__group_assign", rid, table))


def clone_wide_bans(placer: _Placer) -> _Bans:
    """History bans of one anonymous instance apply to the whole clone, keyed by its id.

    Pacemaker puts them on the clone with resource_location(), which recurses into every
    descendant: in a clone of a group a hard error of one member bans every member of every
    instance (an asymmetric cluster then lists the node for all of them; seed 10)."""
    clone_of = {rid.split(":", 1)[0]: top_id(placer.u, rid) for rid in placer.anonymous}
    # An orphan (history found on a node when every instance is active elsewhere) is one
    # more child of the clone, so its bans go to the clone too (case
    # orphan-instance-hard-error-bans-the-clone).
    orphans = clone_orphans(placer.u)
    out: _Bans = {}
    for rid in sorted(placer.anonymous | orphans):
        for node, score, tag in placer.u.states[rid].locations:
            if tag in CLONE_BAN_TAGS:
                out.setdefault(clone_of[rid.split(":", 1)[0]], []).append((node, score, tag))
    return out


def top_id(u: Unpacked, rid: str) -> str:
    """The top-level resource holding `rid` (uber_parent)."""
    parent = u.rsc(rid).parent
    while parent is not None:
        rid, parent = parent, u.rsc(parent).parent
    return rid


def apply_location(placer: _Placer, rid: str, scores: tuple[tuple[str, int], ...],
                   first: bool) -> None:
    rsc = placer.u.rsc(rid)
    if rsc.kind == "primitive":
        for node, score in scores:
            placer._add(placer.tables[rid], node, score)
        return
    if rsc.kind == "group":
        for node, score in scores:  # the group itself, with the full scores
            placer._add(placer.group_tables[rid], node, score)
        # pcmk__group_apply_location: the members after the first get the nodes with
        # score 0, unless the group has collocated=false (every member then gets the full
        # scores: crm_simulate on a made-up CIB, seed 62)
        collocated = is_true(rsc.meta.get("collocated"), True)
        for index, child in enumerate(rsc.children):
            child_scores = scores if index == 0 or not collocated \
                else tuple((n, 0) for n, _ in scores)
            apply_location(placer, child, child_scores, first)
        return
    for child in rsc.children:
        apply_location(placer, child, scores, first)


def node_health(placer: _Placer) -> None:
    opts = dict(placer.u.options.raw)
    strategy = (opts.get("node-health-strategy") or "none").lower()
    if strategy == "none":
        return
    colours = {"migrate-on-red": {"red": -INF, "yellow": 0, "green": 0},
               "only-green": {"red": -INF, "yellow": -INF, "green": 0}}.get(strategy)
    if colours is None:
        colours = {c: char2score(opts.get(f"node-health-{c}", default))
                   for c, default in (("red", "-INFINITY"), ("yellow", "0"), ("green", "0"))}
    base = char2score(opts.get("node-health-base")) if strategy == "progressive" else 0
    for node in placer.u.nodes:
        health = base
        for key, value in node.attrs.items():
            if key.startswith("#health"):
                health = add(health, colours.get(value.lower(), char2score(value)))
        if health == 0:
            continue
        for rsc in placer.u.resources:
            if rsc.parent is None and not (
                    health < 0 and is_true(rsc.meta.get("allow-unhealthy-nodes"))):
                apply_location(placer, rsc.id, ((node.name, health),), first=True)


def node_criteria(placer: _Placer) -> None:
    u = placer.u
    for rsc in u.primitives:
        st = u.states[rsc.id]
        table = placer.tables[rsc.id]
        if placer.managed[rsc.id] and rsc.stickiness >= 1 and len(st.running_on) == 1:
            node = st.running_on[0]
            if u.options.symmetric or node in table:
                placer._add(table, node, rsc.stickiness)
    # A fail count cleared while unpacking because the last failure's parameters changed
    # (bug-5025-4) no longer forces the resource away; a clear for a changed definition,
    # scheduled later, does not lift the ban (migration_threshold_moves).
    clearing = {(rid, node) for rid, node, why in failcount_clears(u)
                if why == PARAMETERS_CHANGED}
    for worker in u.nodes:
        if not has_failure_attributes(worker):
            continue  # every fail count is 0 there: no primitive reaches its threshold
        for rsc in u.primitives:
            st = u.states[rsc.id]
            threshold = rsc.migration_threshold
            if threshold == 0 or st.failure_ignored or (rsc.id, worker.name) in clearing:
                continue
            count, _ = fail_count(rsc, worker, u.options, u.now,
                                  block_failure=st.block_failure)
            if count > 0 and threshold - count <= 0:
                for banned in ban_scope(placer, rsc.id):
                    placer._add(placer.tables[banned], worker.name, -INF)
                if rsc.id in placer.anonymous:  # the clone's group instances too
                    for group in groups_under(placer, top_id(u, rsc.id)):
                        placer._add(placer.group_tables[group], worker.name, -INF)
                placer.threshold_bans.setdefault(rsc.id, set()).add(worker.name)


def ban_scope(placer: _Placer, rid: str) -> list[str]:
    """pcmk__threshold_reached bans an anonymous clone instance's whole clone."""
    if rid not in placer.anonymous:
        return [rid]
    return placer.primitives_under(top_id(placer.u, rid))



def available_count(u: Unpacked, cons: Constraints, clone: RscConfig) -> int:
    """Available nodes in the clone's allowed-node table (distribute_children's count)."""
    if u.options.symmetric:
        return sum(1 for n in u.nodes if n.available)
    allowed: set[str] = set()
    for prim in primitive_members(u, clone.id):
        allowed.update(node for node, _score, _tag in u.states[prim].locations
                       if node is not None)
    for loc in cons.locations:
        if loc.rsc == clone.id:
            allowed.update(node for node, _score in loc.scores)
    return sum(1 for n in u.nodes if n.available and n.name in allowed)


def primitive_members(u: Unpacked, rid: str) -> list[str]:
    rsc = u.rsc(rid)
    if rsc.kind == "primitive":
        return [rid]
    result: list[str] = []
    for child in rsc.children:
        result.extend(primitive_members(u, child))
    return result


def clone_members(u: Unpacked, *, unique: bool | None = None,
                  promotable: bool = False) -> set[str]:
    """Primitives inside clones' instances, filtered by the clones' unique/promotable flags."""
    return {p for r in u.resources if r.kind == "clone"
            and (unique is None or r.unique == unique) and (r.promotable or not promotable)
            for inst in r.children for p in primitive_members(u, inst)}


def clone_orphans(u: Unpacked) -> set[str]:
    """Orphaned primitives whose base name is an anonymous clone's primitive."""
    bases = {prim.split(":", 1)[0] for prim in clone_members(u, unique=False)}
    return {r.id for r in u.resources if r.orphan and r.id.split(":", 1)[0] in bases}
