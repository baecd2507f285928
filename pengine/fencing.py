"""Fencing and shutdown actions (schedule_fencing_and_shutdowns).

Invariants: a fencing op is created at most once per node and keeps the first reason;
stops on a fenced node become pseudo actions implied by the fencing; shutdown actions
never carry a reason (so they are never printed).
"""

from __future__ import annotations

from collections.abc import Mapping

from pengine.actions import IMPLIES_THEN, OPTIONAL, UNFENCE, ActionSet, Work
from pengine.placement import Placement
from pengine.state import Unpacked
from pengine.unpack_nodes import NodeWork


def can_fence(u: Unpacked, node: NodeWork) -> bool:
    opts = u.options
    if not opts.stonith_enabled or not u.have_fencing_device:
        return False
    return opts.have_quorum or opts.no_quorum_policy == "ignore" or node.online


def fence_op(u: Unpacked, acts: ActionSet, node: str, reason: str | None) -> Work:
    key = f"stonith-{node}-{u.options.stonith_action}"
    act, created = acts.new(key, "stonith", None, node, True)
    if created:
        act.reason = reason
        act.runnable = True
    return act


def create_unpack_fencing(u: Unpacked, acts: ActionSet) -> None:
    """The optional fencing ops pe_fence_node created while unpacking (creation order)."""
    for node, reason in u.fence_requests:
        fence_op(u, acts, node, reason)


def schedule_fencing_and_shutdowns(u: Unpacked, p: Placement, acts: ActionSet) -> None:
    any_managed = any(p.managed.values())
    for node in u.nodes:
        if node.unclean and any_managed and can_fence(u, node):
            op = fence_op(u, acts, node.name, node.fence_reason or "node is unclean")
            op.optional = False
            op.runnable = True
            _imply_stops(u, acts, node.name, op, p.managed)
        elif node.online and node.shutdown and not node.unclean:
            act, _ = acts.new(f"do_shutdown-{node.name}", "do_shutdown", None, node.name, False)
            act.runnable = True
            for stop in [a for a in acts.actions if a.task == "stop" and a.node == node.name]:
                if stop.rsc is not None and p.managed.get(stop.rsc, True):
                    stop.optional = False
                acts.order(stop.rsc, "stop", None, "do_shutdown", OPTIONAL,
                           first_action=stop, then_action=act)


def _imply_stops(u: Unpacked, acts: ActionSet, node: str, op: Work,
                 managed: Mapping[str, bool]) -> None:
    # Fencing implies nothing for unmanaged resources: their stops stay as they are.
    parents: list[str] = []
    for act in acts.actions:
        if act.node == node and act.task == "stop" and act.rsc is not None \
                and act.rsc in u.states and managed.get(act.rsc, True):
            parent = u.rsc(act.rsc).parent
            if parent is not None and parent not in parents:
                parents.append(parent)
    for parent in parents:
        acts.order(None, "stonith", parent, "stop", OPTIONAL, first_action=op)
    for act in acts.actions:
        if act.node == node and act.task in ("stop", "demote") and act.rsc is not None \
                and managed.get(act.rsc, True):
            act.pseudo = True
            act.runnable = True
            act.implied_by_fencing = True
            acts.order(None, "stonith", act.rsc, act.task, IMPLIES_THEN,
                       first_action=op, then_action=act)
    for rsc in u.primitives:
        if u.requires.get(rsc.id) in ("fencing", "unfencing") and managed.get(rsc.id, True):
            for start in acts.of(rsc.id, "start"):
                acts.order(None, "stonith", rsc.id, "start", OPTIONAL,
                           first_action=op, then_action=start)


def needs_unfencing(u: Unpacked, rid: str) -> bool:
    rsc = u.rsc(rid)
    return u.requires.get(rid) == "unfencing" or \
        (rsc.meta.get("provides") or "").lower() == "unfencing"


_DEVICE_CHANGE = {"agent": "Device definition changed", "restart": "Device parameters changed",
                  "reload": "Device parameters changed (reload)"}


def unfence_changed_devices(u: Unpacked, acts: ActionSet,
                            changes: dict[str, dict[str, str]]) -> None:
    """trigger_unfencing: a fencing device whose agent or parameters changed on a node
    unfences that node again, when some resource needs unfencing (unfence-definition,
    unfence-parameters)."""
    if not u.options.stonith_enabled or not any(needs_unfencing(u, r.id) for r in u.primitives):
        return
    for rid, per_node in changes.items():
        if u.rsc(rid).standard != "stonith":
            continue
        for name, change in per_node.items():
            node = u.node(name)
            if node is None or not node.online or node.unclean or node.shutdown:
                continue
            op, created = acts.new(f"stonith-{name}-on", "stonith", None, name, False)
            if created:
                op.reason = _DEVICE_CHANGE[change]
                op.runnable = True


def schedule_unfencing(u: Unpacked, acts: ActionSet) -> None:
    """Probes/starts of resources needing unfencing first unfence their node ("on") unless it
    is shutting down: a node never unfenced gets a required unfencing; a required one makes
    the starts required (pcmk__order_vs_unfence orders it before starts with implies-then)."""
    if not u.options.stonith_enabled or not u.have_fencing_device:
        return
    nodes = {n.name: n for n in u.nodes}
    for act in list(acts.actions):
        if act.rsc is None or act.node is None or act.task not in ("monitor", "start") \
                or act.interval_ms or act.rsc not in u.states or not needs_unfencing(u, act.rsc):
            continue
        node = nodes.get(act.node)
        # Pacemaker 2.1.5 probes a node that is shutting down but never unfences it (nor
        # orders the probe after an unfencing): the node is about to leave.
        if node is None or not node.online or node.unclean or node.shutdown:
            continue
        key = f"stonith-{node.name}-on"
        if "#node-unfenced" in node.attrs and acts.find(key, node.name) is None:
            continue
        op, created = acts.new(key, "stonith", None, node.name, False)
        if created:
            op.reason = f"required by {act.rsc} {act.task}"
            op.runnable = True
        kind = IMPLIES_THEN if act.task == "start" else OPTIONAL
        acts.order(None, "stonith", act.rsc, act.task, kind, UNFENCE,
                   first_action=op, then_action=act)
