"""Probes: which primitives are probed on which nodes, and what their results gate.

Invariants: a primitive is probed on every online, clean node where its state is unknown,
nodes in maintenance included (Pacemaker 2.1.5 probes there; a pending node's probe cannot
run and so blocks the start after it: seed 620); an anonymous clone probes one instance
per node (the first known there, else the one assigned there, else the first) and none
where only an orphan is known. Each probe is ordered before its resource's start (through
the clone's start when cloned, collective_actions), before whatever is ordered after the
resource's stop, and before the stops of the primitives whose starts follow its start
(probe_then_links).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pengine.actions import (
    IMPLIES_THEN,
    OPTIONAL,
    UNFENCE,
    WITH_ACTIONS,
    ActionSet,
    OrderSpec,
    Work,
    op_key,
)
from pengine.anti_colocation import ANTI_COLOCATION
from pengine.collective_actions import order_probe
from pengine.discovery import Discovery
from pengine.load_orders import LOAD
from pengine.order_links import THROUGH_CLONE, Link
from pengine.placement import Placement
from pengine.placement_tables import primitive_members, top_id
from pengine.state import Unpacked
from pengine.unpack_resources import RscConfig, template_members


def probes(u: Unpacked, p: Placement, acts: ActionSet, discovery: Discovery) -> None:
    """Probe every primitive on every online clean node where its state is unknown and
    its resource-discovery allows it."""
    if not u.options.startup_probes:
        return
    clones = _anonymous_instances(u)
    through_clone: list[tuple[Work, str, str]] = []
    for node in u.nodes:
        # a node in maintenance is probed too (pcmk__schedule_probes skips only offline,
        # unclean and discovery-disabled nodes)
        if not node.online or node.unclean:
            continue
        probed = _probed_instances(u, p, clones, node.name)
        for rsc in _in_assignment_order(u, p):
            st = u.states[rsc.id]
            if node.name in st.known_on or rsc.orphan or probed.get(rsc.id, True) is False \
                    or not discovery.may_probe(rsc.id, node.name):
                continue
            act, _ = acts.new(op_key(rsc.id, "monitor"), "monitor", rsc.id, node.name, False)
            act.runnable = not node.pending
            through_clone.extend(order_probe(u, acts, act, rsc.id))
    # The clone's start passes each probe ordering on to every instance's start, whose
    # reason then names that probe. Flags only: the graph orders the probe before the
    # clone's start, not the instances' (update_noninterleaved_actions updates their
    # flags without ordering them).
    for probe, member, flag in through_clone:
        acts.order(probe.rsc, "monitor", member, "start", flag, "nograph", THROUGH_CLONE,
                   first_action=probe)


def _in_assignment_order(u: Unpacked, p: Placement) -> list[RscConfig]:
    """The primitives as pcmk__schedule_probes meets them: it walks the top-level resources
    in the order assignment left them, sorted when placement-strategy is not default
    (crm_simulate, placement-strategy=minimal: the first probe that needs unfencing, hence
    the unfencing's "required by" reason, is that of the resource assigned first)."""
    rank = {rid: index for index, rid in enumerate(p.order)}
    return sorted(u.primitives, key=lambda rsc: rank.get(top_id(u, rsc.id), len(rank)))


def _anonymous_instances(u: Unpacked) -> list[tuple[list[list[str]], list[str]]]:
    """Per anonymous clone: its instances' primitives (number order) and its orphans."""
    out: list[tuple[list[list[str]], list[str]]] = []
    for clone in u.resources:
        if clone.kind != "clone" or clone.unique:
            continue
        bases = set(template_members(clone))
        orphans = [r.id for r in u.resources if r.orphan and r.id.split(":", 1)[0] in bases]
        out.append(([primitive_members(u, inst) for inst in clone.children], orphans))
    return out


def _probed_instances(u: Unpacked, p: Placement,
                      clones: list[tuple[list[list[str]], list[str]]],
                      node: str) -> dict[str, bool]:
    """probe_anonymous_clone: one instance per node.

    The instance probed is the first (by number) with a primitive known on the node, else
    the one assigned to the node, else the first one; its members are probed where they
    are not known (a cloned group's known instance still probes its unknown members:
    corpus bug-suse-707150). An orphan known there (numbered after every configured
    instance) is never probed, so neither is the clone.
    """
    out: dict[str, bool] = {}
    for instances, orphans in clones:
        known = next((inst for inst in instances
                      if any(node in u.states[prim].known_on for prim in inst)), None)
        orphan_known = any(node in u.states[prim].known_on for prim in orphans)
        chosen = known or next(
            (inst for inst in instances if inst and p.assigned.get(inst[0]) == node),
            instances[0] if instances else [])
        for inst in instances:
            for prim in inst:
                out[prim] = inst is chosen and (known is not None or not orphan_known)
    return out


def probe_then_links(u: Unpacked, acts: ActionSet,
                     assigned: Mapping[str, str | None] | None = None) -> list[Link]:
    """"Probe A, then X" for every "stop A, then X" ordering of a primitive A and another
    resource (add_probe_orderings_for_stops): a probe that finds A running leads to a stop
    only in the next transition, so X also waits for A's probes.

    Optional orderings, except that a load or an anti-colocation ordering stays one (internal
    flag-only orderings are no constraints); no unfencing of the probe's node and no
    shutdown of another node waits for a probe (probe_needed_before_action)."""
    primitives = {rsc.id for rsc in u.primitives}
    links: list[Link] = []
    for spec in acts.orders:
        first_task = spec.first_action.task if spec.first_action else spec.first_task
        if first_task != "stop" or spec.first_rsc not in primitives \
                or spec.first_rsc == spec.then_rsc or not _is_constraint(spec):
            continue
        found = acts.of(spec.first_rsc or "", "monitor")
        if not found:
            continue
        thens = [spec.then_action] if spec.then_action is not None \
            else acts.of(spec.then_rsc or "", spec.then_task)
        # a load or anti-colocation ordering keeps its kind, which the graph filters by
        flags = next((frozenset({kind}) for kind in (LOAD, ANTI_COLOCATION)
                      if kind in spec.flags), frozenset({OPTIONAL}))
        # (a load ordering between different nodes is dropped from the graph)
        links += [Link(probe, then, flags) for probe in found for then in thens
                  if _probe_precedes(probe, then)
                  and (LOAD not in flags or probe.node == then.node)]
    return probe_restart_links(u, acts, assigned or {}) + links


def _is_constraint(spec: OrderSpec) -> bool:
    """An ordering Pacemaker records as a constraint, not one that only carries flags between
    a member and its collective's own action (as graph_edges leaves out), nor one made at
    once with order_actions (the unfencing ones, an ordered clone's instance chain):
    add_probe_orderings_for_stops reads only the working set's ordering constraints."""
    return not {"nograph", UNFENCE, WITH_ACTIONS} & spec.flags and not (
        "member_flags" in spec.flags and spec.then_task in ("start", "stop", "promote", "demote"))


def _probe_precedes(probe: Work, then: Work) -> bool:
    if then.task == "stonith" and then.node == probe.node and then.key.endswith("-on"):
        return False
    return not (then.task == "do_shutdown" and then.node != probe.node)


def probe_restart_links(u: Unpacked, acts: ActionSet,
                        assigned: Mapping[str, str | None]) -> list[Link]:
    """"Probe A, then stop B" for every primitive B whose start follows A's start
    (add_restart_orderings_for_probe): if the probe finds A active, A's start may
    become a restart, and with it B's.

    Pacemaker walks, before any flag is updated, from the start the probe is ordered
    before (its clone's when cloned, else its own) along implies-then orderings (user
    orderings still on a collective's start, not yet remapped to its running), and from a
    group or clone action to its instances' (not from the probe's own parent; an
    interleaved clone only to the instance beside the probed resource). Each start of
    another primitive reached orders the probe before that primitive's stops, each
    promote before its demotes: optional orderings, pseudo stops left out.
    """
    afters = _afters(acts)
    links: list[Link] = []
    for probe in acts.actions:
        if probe.task != "monitor" or probe.interval_ms != 0 or probe.rsc is None \
                or u.rsc(probe.rsc).kind != "primitive":
            continue
        for start in acts.of(_top(u, probe.rsc), "start"):
            _walk(u, acts, _Walk(probe, afters, assigned, set(), links), start)
    return links


@dataclass
class _Walk:
    """One probe's walk (the visited set is the walk's own, as Pacemaker's tracking
    flag is cleared after each action the probe is ordered before)."""

    probe: Work
    afters: dict[int, list[tuple[Work, frozenset[str]]]]
    assigned: Mapping[str, str | None]
    seen: set[int]
    links: list[Link]


def _walk(u: Unpacked, acts: ActionSet, walk: _Walk, after: Work) -> None:
    if after.id in walk.seen:
        return
    walk.seen.add(after.id)
    probe = walk.probe
    if after.rsc is not None and after.rsc != probe.rsc \
            and u.rsc(after.rsc).kind == "primitive" and after.task in _UNDONE_BY:
        for then in acts.of(after.rsc, _UNDONE_BY[after.task]):
            if not then.pseudo:
                walk.links.append(Link(probe, then, frozenset({OPTIONAL})))
    for then, flags in walk.afters.get(after.id, ()):
        if IMPLIES_THEN in flags or _into_instance(u, walk, after, then):
            _walk(u, acts, walk, then)


_UNDONE_BY = {"start": "stop", "promote": "demote"}


def _into_instance(u: Unpacked, walk: _Walk, after: Work, then: Work) -> bool:
    """An ordering from a group or clone action to one of its own members' or instances'."""
    if after.rsc is None or then.rsc is None or u.rsc(after.rsc).kind == "primitive":
        return False
    probed = u.rsc(walk.probe.rsc or "")
    child = u.rsc(then.rsc)
    if probed.parent == after.rsc or child.kind == "clone" or child.parent != after.rsc:
        return False
    collective = u.rsc(after.rsc)
    if collective.kind != "clone" or not collective.interleave:
        return True
    # find_compatible_child: the instance assigned where the probed resource is
    node = walk.assigned.get(probed.id)
    return node is not None and walk.assigned.get(_first_primitive(u, child.id)) == node


def _first_primitive(u: Unpacked, rid: str) -> str:
    rsc = u.rsc(rid)
    return rid if rsc.kind == "primitive" or not rsc.children \
        else _first_primitive(u, rsc.children[0])


def _top(u: Unpacked, rid: str) -> str:
    """The resource whose start a probe is ordered before: its clone when cloned."""
    top = rid
    while u.rsc(top).parent is not None:
        top = u.rsc(top).parent or top
    return top if u.rsc(top).kind == "clone" else rid


def _afters(acts: ActionSet) -> dict[int, list[tuple[Work, frozenset[str]]]]:
    """Every ordering as Pacemaker holds it before updating flags: first -> thens.

    pcmk__apply_orderings applies the orderings in creation order and rsc_order_then finds
    only the actions that exist by then: a start created later as the missing "first" of
    another ordering is not reached by an earlier ordering onto it."""
    out: dict[int, list[tuple[Work, frozenset[str]]]] = {}
    for index, spec in enumerate(acts.orders):
        if {"member_flags", "nograph"} & spec.flags:
            continue  # our stand-ins for flags passed on to members, not orderings
        # an action created after the ordering was applied (a group member's start made
        # for its group's running) is not in it: Pacemaker finds the actions by key then
        existed = acts.resolved_sizes[index] if index < len(acts.resolved_sizes) \
            else len(acts.actions)
        firsts = [spec.first_action] if spec.first_action is not None else [
            f for f in acts.of(spec.first_rsc or "", spec.first_task, spec.first_node)
            if f.id <= existed]
        thens = [spec.then_action] if spec.then_action is not None else [
            t for t in acts.of(spec.then_rsc or "", spec.then_task, spec.then_node)
            if t.id <= existed]
        for first in firsts:
            out.setdefault(first.id, []).extend((then, spec.flags) for then in thens)
    return out
