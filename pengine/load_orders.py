"""Utilization orderings: the `load_stopped_<node>` pseudo actions of a placement strategy.

With a placement-strategy other than "default", Pacemaker gives every managed primitive that
has utilization attributes (pcmk__primitive_internal_constraints, then
pcmk__create_utilization_constraints) a required pseudo action `load_stopped_<node>` for each
node it runs on, ordered after its stop there, and for each of its allowed nodes (sorted by
name), ordered before its start there and before its migrate_to when that node is its target:
whatever frees capacity on a node goes before whatever takes it.

Invariants: nothing is created for the "default" strategy; one pseudo action per node (the
first resource to need it creates it, and it is required from then on); each ordering links
actions of one node only (Pacemaker drops load orderings between different nodes from the
graph), so the links need no flag beyond plain ordering.
"""

from __future__ import annotations

from collections.abc import Callable

from pengine.actions import ActionSet, Work
from pengine.glib_order import node_name_key
from pengine.placement import Placement
from pengine.state import Unpacked
from pengine.utilization import resource_usage

LOAD = "load"  # an ordering kind with no effect on flags: it only orders the graph


def create_load_orders(u: Unpacked, placement: Placement, acts: ActionSet,
                       before_each: Callable[[str], None] | None = None) -> None:
    """The load_stopped pseudo actions and their orderings, in resource order;
    `before_each(rid)` runs first for each primitive, whatever the strategy (what else
    pcmk__primitive_internal_constraints creates before the utilization constraints)."""
    default = u.options.placement_strategy == "default"
    usage = {} if default else resource_usage(u)
    every_node = [n.name for n in u.nodes]
    for rsc in u.primitives:
        if before_each is not None:
            before_each(rsc.id)
        if not usage.get(rsc.id) or not u.states[rsc.id].managed:
            continue
        for node in u.states[rsc.id].running_on:
            load_stopped = _load_stopped(acts, node)
            acts.order(rsc.id, "stop", None, "load_stopped", LOAD, first_node=node,
                       then_action=load_stopped)
        # allowed_nodes may be empty (an asymmetric cluster with no location for it):
        # then it orders no start after any load_stopped and creates none for them
        allowed = placement.tables.get(rsc.id, every_node)
        target = placement.assigned.get(rsc.id)
        for node in sorted(allowed, key=node_name_key):
            load_stopped = _load_stopped(acts, node)
            acts.order(None, "load_stopped", rsc.id, "start", LOAD, first_action=load_stopped,
                       then_node=node)
            if node == target:
                acts.order(None, "load_stopped", rsc.id, "migrate_to", LOAD,
                           first_action=load_stopped)


def _load_stopped(acts: ActionSet, node: str) -> Work:
    action, _ = acts.new(f"load_stopped_{node}", "load_stopped", None, node, False,
                         pseudo=True)
    return action
