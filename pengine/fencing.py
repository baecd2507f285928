"""Fencing and shutdown actions (schedule_fencing_and_shutdowns).

Invariants: a fencing op is created at most once per node and keeps the first reason;
stops on a fenced node become pseudo actions implied by the fencing; shutdown actions
never carry a reason (so they are never printed).
"""

from __future__ import annotations

from collections.abc import Mapping

from pengine.actions import IMPLIES_THEN, OPTIONAL, RUNNABLE_LEFT, UNFENCE, ActionSet, Work
from pengine.glib_order import node_name_key
from pengine.migration_orders import cancel_migration
from pengine.placement import Placement
from pengine.state import Unpacked
from pengine.unpack_nodes import NodeWork
from pengine.xmlin import is_true


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
    fencing: list[Work] = []
    shutdowns: list[Work] = []
    dc_down: Work | None = None
    for node in sorted(u.nodes, key=lambda n: node_name_key(n.name)):
        if node.unclean and any_managed and can_fence(u, node):
            op = fence_op(u, acts, node.name, node.fence_reason or "node is unclean")
            op.optional = False
            op.runnable = True
            _imply_stops(u, acts, node.name, op, p.managed)
            _order_starts(u, p, acts, node.name, op)
            if node.id == u.options.dc_uuid:
                dc_down = op
            else:
                if fencing and not u.options.concurrent_fencing:
                    # without concurrent-fencing, non-DC fencing runs as a chain in node order
                    _order_pair(acts, fencing[-1], op)
                fencing.append(op)
        elif node.online and node.shutdown and not node.unclean:
            act = _shutdown(u, acts, node, p.managed)
            if node.id == u.options.dc_uuid:
                dc_down = act
            else:
                shutdowns.append(act)
    if dc_down is not None:
        _order_dc_down(u, acts, dc_down, fencing, shutdowns)


def _shutdown(u: Unpacked, acts: ActionSet, node: NodeWork,
              managed: Mapping[str, bool]) -> Work:
    """The node's shutdown, after every stop there (pcmk__order_stops_before_shutdown):
    each such stop becomes required and an unrunnable one holds the shutdown (optional,
    runnable-left), a blocked resource's too (only a resource neither managed nor blocked
    is left alone); nothing is ordered on a node in maintenance."""
    act, _ = acts.new(f"do_shutdown-{node.name}", "do_shutdown", None, node.name, False)
    act.runnable = True
    # the controller does not wait for a shutdown's result (CRM_meta_op_no_wait in
    # Debian's crm_simulate -G of any node shutting down)
    act.no_wait = True
    if node.maintenance:
        return act
    for stop in [a for a in acts.actions if a.task == "stop" and a.node == node.name]:
        rid = stop.rsc
        if rid is None or _in_maintenance(u, rid) or not (
                managed.get(rid, True) or (rid in u.states and u.states[rid].blocked)):
            continue
        stop.optional = False
        acts.order(rid, "stop", None, "do_shutdown", OPTIONAL, RUNNABLE_LEFT,
                   first_action=stop, then_action=act)
    return act


def _in_maintenance(u: Unpacked, rid: str) -> bool:
    """pe_rsc_maintenance: maintenance-mode, or the maintenance meta of the resource or
    one of its ancestors."""
    if u.options.maintenance_mode:
        return True
    rsc: str | None = rid
    while rsc is not None:
        if is_true(u.rsc(rsc).meta.get("maintenance"), False):
            return True
        rsc = u.rsc(rsc).parent or u.orphan_clone(rsc)
    return False


def _order_pair(acts: ActionSet, first: Work, then: Work) -> None:
    acts.order(None, first.task, None, then.task, OPTIONAL, first_action=first,
               then_action=then)


def _order_dc_down(u: Unpacked, acts: ActionSet, dc_down: Work, fencing: list[Work],
                   shutdowns: list[Work]) -> None:
    """The DC goes down last, to avoid repeated elections: its shutdown after every other
    shutdown, its fencing or shutdown after the other fencing (after each one with
    concurrent-fencing, else after the chain's last)."""
    if dc_down.task == "do_shutdown":
        for act in shutdowns:
            _order_pair(acts, act, dc_down)
    for op in (fencing if u.options.concurrent_fencing else fencing[-1:]):
        _order_pair(acts, op, dc_down)


def _order_starts(u: Unpacked, p: Placement, acts: ActionSet, node: str, op: Work) -> None:
    """Starts, promotes and migrate_tos wait for fencing (order_start_vs_fencing): when the
    resource requires fencing, anywhere; a start of one that requires only quorum (a fencing
    device) when it may run on the fenced node and has no history there, since it might
    be active on it."""
    every_node = [n.name for n in u.nodes]
    for rsc in u.primitives:
        if not p.managed.get(rsc.id, True):
            continue
        if u.requires.get(rsc.id) in ("fencing", "unfencing"):
            # a planned migration's migrate_to needs what its start needs
            for then in [*acts.of(rsc.id, "start"), *acts.of(rsc.id, "promote"),
                         *acts.of(rsc.id, "migrate_to")]:
                _order_pair(acts, op, then)
        elif u.requires.get(rsc.id) == "quorum" and node in p.tables.get(rsc.id, every_node) \
                and not _known_on(u, rsc.id, node):
            for start in acts.of(rsc.id, "start"):
                acts.order(None, "stonith", rsc.id, "start", OPTIONAL, RUNNABLE_LEFT,
                           first_action=op, then_action=start)


def _top(u: Unpacked, rid: str) -> str:
    """uber_parent: the resource at the top of rid's tree (an anonymous clone's orphan
    instance is one of the clone's children)."""
    while (parent := u.rsc(rid).parent or u.orphan_clone(rid)) is not None:
        rid = parent
    return rid


def _known_on(u: Unpacked, rid: str, node: str) -> bool:
    """rsc_is_known_on: history on the node, or (an anonymous clone's instance) its clone's."""
    if node in u.states[rid].known_on:
        return True
    parent = u.rsc(rid).parent
    if parent is None or u.rsc(parent).kind != "clone" or u.rsc(parent).unique:
        return False
    return any(node in u.states[i].known_on for i in u.instance_primitives(parent))


def _imply_stops(u: Unpacked, acts: ActionSet, node: str, op: Work,
                 managed: Mapping[str, bool]) -> None:
    """Stops and demotes on the fenced node become pseudo actions; only a resource that
    requires fencing has them (and its top resource's stop) wait for the fencing
    (order_stop_vs_fencing): a fencing device's stop is implied at once. Fencing implies
    nothing for unmanaged resources: their stops stay as they are."""
    def ordered(rid: str) -> bool:
        return u.requires.get(rid) in ("fencing", "unfencing")

    tops: list[str] = []
    for act in acts.actions:
        if act.node == node and act.task == "stop" and act.rsc is not None \
                and act.rsc in u.states and managed.get(act.rsc, True) and ordered(act.rsc):
            top = _top(u, act.rsc)
            if top not in tops:
                tops.append(top)
    for top in tops:
        # the top resource's first stop in its (newest first) action list: for a primitive
        # active on several nodes, its stop on the last of them (seed 2127)
        stops = acts.of(top, "stop")
        if stops:
            _order_pair(acts, op, stops[-1])
    for act in acts.actions:
        if act.node == node and act.task in ("stop", "demote") and act.rsc is not None \
                and managed.get(act.rsc, True):
            act.pseudo = True
            act.runnable = True
            act.implied_by_fencing = True
            if ordered(act.rsc):
                acts.order(None, "stonith", act.rsc, act.task, IMPLIES_THEN,
                           first_action=op, then_action=act)


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
            op, _ = acts.new(f"stonith-{name}-on", "stonith", None, name, False)
            if op.reason is None:  # pe_fence_op: the first reason that requires it
                op.reason = _DEVICE_CHANGE[change]
                op.runnable = True


def unfence_allowed_nodes(u: Unpacked, p: Placement, acts: ActionSet, rid: str) -> None:
    """pcmk__primitive_internal_constraints: a resource that needs unfencing (a fencing
    device aside) creates an optional unfencing of every node it is allowed on, unfenced
    or not, by node name (crm_simulate sorts them), before its utilization constraints and
    before any probe. Created this early, they fix the order of the "Fence (on)" lines
    whatever later makes them required (crm_simulate, an asymmetric cluster where a clone
    allowed on n10 and n11 comes first: n10 and n11 are unfenced before n2, whose probe
    requires it first; unfence-definition: virt-3 before virt-1, whose device changed)."""
    if not u.options.stonith_enabled or not u.have_fencing_device \
            or u.rsc(rid).standard == "stonith" or u.requires.get(rid) != "unfencing":
        return
    for name in sorted(p.tables.get(rid, {}), key=node_name_key):
        if u.node(name) is not None:
            op, created = acts.new(f"stonith-{name}-on", "stonith", None, name, True)
            op.runnable = op.runnable or created


def schedule_unfencing(u: Unpacked, acts: ActionSet) -> None:
    """Probes/starts of resources needing unfencing first unfence their node ("on") unless it
    is shutting down: a node never unfenced gets a required unfencing; a required one makes
    the starts required (pcmk__order_vs_unfence orders it before starts with implies-then)."""
    if not u.options.stonith_enabled or not u.have_fencing_device:
        return
    nodes = {n.name: n for n in u.nodes}
    # pcmk__order_vs_unfence: resources that require unfencing, and every fencing device
    # once unfencing is in use (crm_simulate: a plain device G beside B requires=unfencing
    # is probed after each node's unfencing, which G's probe, created first, requires)
    devices_too = any(needs_unfencing(u, r.id) for r in u.primitives)
    for act in list(acts.actions):
        if act.rsc is None or act.node is None or act.task not in ("monitor", "start") \
                or act.interval_ms or act.rsc not in u.states \
                or not (u.requires.get(act.rsc) == "unfencing"
                        or (devices_too and u.rsc(act.rsc).standard == "stonith")):
            continue
        node = nodes.get(act.node)
        # Pacemaker 2.1.5 probes a node that is shutting down but never unfences it (nor
        # orders the probe after an unfencing): the node is about to leave.
        if node is None or not node.online or node.unclean or node.shutdown:
            continue
        key = f"stonith-{node.name}-on"
        unfenced = "#node-unfenced" in node.attrs
        if unfenced and acts.find(key, node.name) is None:
            continue
        # an unfenced node's op (one its allowed resources created) stays optional
        op, _ = acts.new(key, "stonith", None, node.name, unfenced)
        if not unfenced and op.reason is None:  # pe_fence_op: the first requirer's reason
            op.reason = f"required by {act.rsc} {act.task}"
            op.runnable = True
        kind = IMPLIES_THEN if act.task == "start" else OPTIONAL
        acts.order(None, "stonith", act.rsc, act.task, kind, UNFENCE,
                   first_action=op, then_action=act)
    order_stops_before_unfencing(u, acts)


def order_stops_before_unfencing(u: Unpacked, acts: ActionSet) -> None:
    """stop_resource: a stop of a resource that needs unfencing comes before the unfencing of
    its node (pe_order_implies_first). A required unfencing (a node never unfenced) leaves the
    stop no longer migrate_runnable, so a live migration away from that node becomes a stop
    and a start, the stop "due to unrunnable stonith" (crm_simulate: allow-migrate A, which
    needs unfencing, moving from n1 never unfenced to n2 moves; from an unfenced n1 to n2
    never unfenced migrates)."""
    for stop in list(acts.actions):
        if stop.task != "stop" or stop.rsc is None or stop.node is None \
                or u.requires.get(stop.rsc) != "unfencing":
            continue
        unfence = acts.find(f"stonith-{stop.node}-on", stop.node)
        if unfence is None:
            continue
        # made at once with order_actions, so no constraint later stages walk
        acts.order(stop.rsc, "stop", None, "stonith", "implies_first", UNFENCE,
                   first_action=stop, then_action=unfence)
        if not unfence.optional and stop.migrating:
            cancel_migration(acts, stop.rsc, "unrunnable stonith")
