"""Probes: which primitives are probed on which nodes, and what their results gate.

Invariants: a primitive is probed on every online, clean node where its state is unknown,
nodes in maintenance included (Pacemaker 2.1.5 probes there; a pending node's probe cannot
run and so blocks the start after it: seed 620); an anonymous clone probes one instance
per node (the one assigned there, else the first) and none where any instance or orphan is
known. Each probe is ordered before its resource's start (through the clone's start when
cloned, collective_actions), and before whatever is ordered after the resource's stop
(probe_then_links).
"""

from __future__ import annotations

from pengine.actions import OPTIONAL, ActionSet, OrderSpec, Work, op_key
from pengine.collective_actions import order_probe
from pengine.load_orders import LOAD
from pengine.order_links import Link
from pengine.placement import Placement
from pengine.placement_tables import primitive_members
from pengine.state import Unpacked
from pengine.unpack_resources import template_members


def probes(u: Unpacked, p: Placement, acts: ActionSet) -> None:
    """Probe every primitive on every online clean node where its state is unknown."""
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
        for rsc in u.primitives:
            st = u.states[rsc.id]
            if node.name in st.known_on or rsc.orphan or probed.get(rsc.id, True) is False:
                continue
            act, _ = acts.new(op_key(rsc.id, "monitor"), "monitor", rsc.id, node.name, False)
            act.runnable = not node.pending
            through_clone.extend(order_probe(u, acts, act, rsc.id))
    # The clone's start sees its last-created probe first (orderings are prepended), and
    # passes each one on to every instance's start, whose reason then names that probe.
    for probe, member, flag in reversed(through_clone):
        acts.order(probe.rsc, "monitor", member, "start", flag, first_action=probe)


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
    """probe_anonymous_clone: one instance per node, and none where one is known.

    The instance probed is the one assigned to the node, else the first one.
    """
    out: dict[str, bool] = {}
    for instances, orphans in clones:
        known = any(node in u.states[prim].known_on
                    for prim in [*orphans, *(q for inst in instances for q in inst)])
        chosen = next((inst for inst in instances if inst and p.assigned.get(inst[0]) == node),
                      instances[0] if instances else [])
        for inst in instances:
            for prim in inst:
                out[prim] = not known and inst is chosen
    return out


def probe_then_links(u: Unpacked, acts: ActionSet) -> list[Link]:
    """"Probe A, then X" for every "stop A, then X" ordering of a primitive A and another
    resource (add_probe_orderings_for_stops): a probe that finds A running leads to a stop
    only in the next transition, so X also waits for A's probes.

    Optional orderings, except that a load ordering stays one (internal flag-only orderings
    are no constraints); no unfencing of the probe's node and no shutdown of another node
    waits for a probe (probe_needed_before_action)."""
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
        flags = frozenset({LOAD}) if LOAD in spec.flags else frozenset({OPTIONAL})
        # (a load ordering between different nodes is dropped from the graph)
        links += [Link(probe, then, flags) for probe in found for then in thens
                  if _probe_precedes(probe, then)
                  and (LOAD not in flags or probe.node == then.node)]
    return links


def _is_constraint(spec: OrderSpec) -> bool:
    """An ordering Pacemaker records as a constraint, not one that only carries flags between
    a member and its collective's own action (as graph_edges leaves out)."""
    return "nograph" not in spec.flags and not (
        "member_flags" in spec.flags and spec.then_task in ("start", "stop", "promote", "demote"))


def _probe_precedes(probe: Work, then: Work) -> bool:
    if then.task == "stonith" and then.node == probe.node and then.key.endswith("-on"):
        return False
    return not (then.task == "do_shutdown" and then.node != probe.node)
