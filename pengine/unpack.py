"""The unpack stage: CIB element + now -> frozen Unpacked (options, nodes, resources, state).

Invariants: the input element is never modified (we work on a copy); histories are read
in status order; orphans are appended after configured resources.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime

from messaging.types import Role
from pengine.rules import RuleContext
from pengine.scores import INF
from pengine.state import RscState, Unpacked, recorded_agent
from pengine.unpack_history import HistoryUnpacker
from pengine.unpack_migration import apply_migrations
from pengine.unpack_nodes import NodeWork, apply_node_states, unpack_nodes
from pengine.unpack_options import Options, unpack_options
from pengine.unpack_resources import (
    RscConfig,
    resource_requires,
    template_members,
    unpack_resources,
)
from pengine.xmlin import Element, duration_ms, is_true, resolve_refs


def unpack(cib_root: Element, now: datetime.datetime, *, owned: bool = False) -> Unpacked:
    """Unpack a whole CIB (`owned`: the caller gives up the tree, which is then resolved in
    place instead of copied: a 2000-resource history is ~20 MB of XML)."""
    root = cib_root if owned else copy.deepcopy(cib_root)
    resolve_refs(root)
    options = unpack_options(root, now)
    ctx = RuleContext(now=now)
    nodes = unpack_nodes(root, options, ctx)
    resources = list(unpack_resources(root, options, ctx))
    requests: list[tuple[str, str]] = []
    apply_node_states(root, nodes, options, requests)
    have_device = options.have_watchdog or any(
        r.kind == "primitive" and r.standard == "stonith" for r in resources)
    can_fence = {n.name: _can_fence(options, have_device, n) for n in nodes}
    states = {r.id: _initial_state(r, options) for r in resources if r.kind == "primitive"}
    walker = HistoryUnpacker(options, nodes, now, requests, can_fence)
    clones = _anonymous_clones(resources)
    any_unfencing = any(
        (r.meta.get("requires") or "").lower() == "unfencing"
        or (r.meta.get("provides") or "").lower() == "unfencing" for r in resources)
    requires = {r.id: resource_requires(r, options, any_unfencing)
                for r in resources if r.kind == "primitive"}
    no_slot = _no_slot_on_lost_nodes(resources, requires, len(nodes))
    expired: list[tuple[str, str]] = []
    _unpack_histories(root, nodes, resources, states, walker, options, (clones, no_slot),
                      expired)
    cancelled = _cancel_recorded_locks(resources, states, {n.name: n for n in nodes})
    apply_migrations(states, nodes, requests, root)
    _block_groups(resources, states)
    _settle_roles(resources, states)
    requires.update((r.id, resource_requires(r, options, any_unfencing))
                    for r in resources if r.kind == "primitive" and r.id not in requires)
    # An orphaned fencing device found in the status is unpacked like a configured one
    # (pe__unpack_resource sets pe_flag_have_stonith_resource), so it enables fencing.
    have_device = have_device or any(r.orphan and r.standard == "stonith" for r in resources)
    return Unpacked(
        now=now, options=options, nodes=tuple(nodes), resources=tuple(resources),
        states=states, fence_requests=tuple(requests), failed_ops=tuple(walker.failed_ops),
        have_fencing_device=have_device, requires=requires, root=root,
        expired_locks=tuple(expired), cancelled_locks=cancelled,
    )

def _unpack_histories(root: Element, nodes: list[NodeWork], resources: list[RscConfig],
                      states: dict[str, RscState], walker: HistoryUnpacker,
                      options: Options,
                      slots: tuple[dict[str, list[list[str]]], set[str]],
                      history_clears: list[tuple[str, str]]) -> None:
    """Walk every member node's lrm history (skipping offline nodes whose history cannot
    matter: no fencing and no shutdown locks); `history_clears` gets the histories whose
    shutdown lock expired."""
    by_name = {n.name: n for n in nodes}
    by_id = {n.id: n for n in nodes}
    # One lookup per history entry: a scan of the resource list here made unpacking
    # quadratic (16 nodes x 1000 primitives of history took seconds).
    known: dict[str, RscConfig] = {}
    for rsc in resources:
        known.setdefault(rsc.id, rsc)
    for node_state in root.iterfind("status/node_state"):
        node = by_id.get(node_state.get("id") or "") or by_name.get(node_state.get("uname") or "")
        if node is None or node.kind != "member":
            continue
        if not node.online and not options.stonith_enabled and not options.shutdown_lock:
            continue
        for position, lrm_rsc in enumerate(node_state.iterfind("lrm/lrm_resources/lrm_resource")):
            _unpack_lrm_resource(lrm_rsc, node, (resources, known), states, walker, options,
                                 slots, position, history_clears)


def _cancel_recorded_locks(resources: list[RscConfig], states: dict[str, RscState],
                           nodes: dict[str, NodeWork]) -> tuple[tuple[str, str], ...]:
    """A lock recorded in an offline node's history lapses when the resource is active
    anywhere (Pacemaker 2.1.5 cancels it: "already active"), so it may move again; the
    lock's history on that node is wiped (pe__clear_resource_history: lrm_delete), in
    resource order, as the node criteria run."""
    cancelled = []
    for rsc in resources:
        st = states.get(rsc.id)
        locked = None if st is None else nodes.get(st.locked_to or "")
        if st is not None and locked is not None and not locked.online and st.running_on:
            st.locked_to = None
            cancelled.append((rsc.id, locked.name))
    return tuple(cancelled)


def _settle_roles(resources: list[RscConfig], states: dict[str, RscState]) -> None:
    """A running instance of a promotable clone is Unpromoted; then target-role applies."""
    promotable = _promotable_primitives(resources)
    for rsc in resources:
        if rsc.kind == "primitive":
            st = states[rsc.id]
            if rsc.id in promotable and st.role == Role.STARTED:
                st.role = Role.UNPROMOTED
            _apply_target_role(rsc, st, rsc.id in promotable)


def _can_fence(options: Options, have_device: bool, node: NodeWork) -> bool:
    if not options.stonith_enabled or not have_device:
        return False
    return options.have_quorum or options.no_quorum_policy == "ignore" or node.online


def _initial_state(rsc: RscConfig, options: Options) -> RscState:
    managed = is_true(rsc.meta.get("is-managed"), True) and not options.maintenance_mode
    if is_true(rsc.meta.get("maintenance"), False):
        managed = False
    return RscState(managed=managed)


def _unpack_lrm_resource(
    lrm_rsc: Element, node: NodeWork,
    configured: tuple[list[RscConfig], dict[str, RscConfig]], states: dict[str, RscState],
    walker: HistoryUnpacker, options: Options,
    anonymous: tuple[dict[str, list[list[str]]], set[str]], position: int,
    history_clears: list[tuple[str, str]],
) -> None:
    """`configured`: resources (orphans get appended), by id; `position`: in lrm_resources."""
    resources, known = configured
    clones, no_slot = anonymous
    if not options.shutdown_lock and lrm_rsc.find("lrm_rsc_op") is None:
        return  # unpack_lrm_resource: no operations, nothing to learn (not even an orphan)
    rid = lrm_rsc.get("id") or ""
    base = rid.split(":", 1)[0]
    if base in clones:
        lost = not node.online or node.unclean
        rid = _anonymous_instance(clones[base], base, node, states,
                                  orphan=lost and base in no_slot) or rid
    found = known.get(rid)
    rsc = found if found is not None and found.kind == "primitive" else None
    if rsc is None:
        if found is not None:
            return
        orphan = _new_orphan(lrm_rsc, rid, base, base in clones, resources, options)
        if orphan is None:
            return
        rsc, states[rid] = orphan
        known[rid] = rsc
    st = states[rsc.id]
    st.agent_on[node.name] = recorded_agent(lrm_rsc)
    walker.unpack_resource_on_node(rsc, st, node, list(lrm_rsc.iterfind("lrm_rsc_op")))
    if _lock_expired(lrm_rsc, options, walker.now):
        history_clears.append((rsc.id, node.name))
    else:
        if options.shutdown_lock and _lock_stamp(lrm_rsc) > 0:
            st.lock_recorded = node.name
        if not _in_clone(rsc, known):
            _shutdown_lock(lrm_rsc, rsc, st, node, options)
    _note_history_name(lrm_rsc.get("id") or rsc.id, rsc.id, st, node.name, position)


def _new_orphan(lrm_rsc: Element, rid: str, base: str, cloned: bool,
                resources: list[RscConfig], options: Options,
                ) -> tuple[RscConfig, RscState] | None:
    """process_orphan_resource: a resource found only in the status (appended to
    `resources`), or None for one without operations."""
    template = _instance_template(resources, base) if cloned else None
    if template is None and lrm_rsc.find("lrm_rsc_op") is None:
        # unknown and without operations: no orphan, even when shutdown-lock kept the
        # entry's unpacking going (crm_simulate: an empty stonith lrm_resource enables no
        # fencing with shutdown-lock=true)
        return None
    if template is not None:
        # An anonymous clone's orphan is one more instance built from the clone's
        # template, so it inherits the clone's meta (is-managed, maintenance, ...).
        rsc = dataclasses.replace(template, id=rid, parent=None, orphan=True)
        st = _initial_state(rsc, options)
    else:
        rsc = RscConfig(
            id=rid, kind="primitive", parent=None, children=(),
            standard=lrm_rsc.get("class") or "ocf", provider=lrm_rsc.get("provider"),
            agent_type=lrm_rsc.get("type") or "", meta={}, params={}, ops=(), orphan=True,
        )
        st = RscState(managed=not options.maintenance_mode)
    resources.append(rsc)
    if options.stop_orphan_resources or cloned:
        st.locations.append((None, -INF, "__orphan_do_not_run__"))
    else:
        st.managed = False
    return rsc, st


def _note_history_name(history_id: str, rid: str, st: RscState, node: str,
                       position: int) -> None:
    """Remember the history id an instance was unpacked from (each other id renames it,
    as Pacemaker's clone_name), and the one it was found running under. A history that
    leaves the instance inactive drops a numbered clone_name (process_rsc_state: such names
    are from old status sections, and would make stopped instances look like orphans)."""
    if history_id != rid:
        st.clone_name = history_id
    if node in st.running_on:
        st.history_name = history_id
        st.unpacked_at.setdefault(node, position)
    elif st.clone_name is not None and ":" in st.clone_name:
        st.clone_name = None


def _instance_template(resources: list[RscConfig], base: str) -> RscConfig | None:
    """The configured instance member an orphan of history id `base` is built like."""
    return next((r for r in resources if r.kind == "primitive" and r.parent is not None
                 and r.id.split(":", 1)[0] == base), None)


def _anonymous_clones(resources: list[RscConfig]) -> dict[str, list[list[str]]]:
    """base primitive id -> instances (each a list of its primitive ids), anonymous clones."""
    by_id = {r.id: r for r in resources}
    result: dict[str, list[list[str]]] = {}
    for clone in resources:
        if clone.kind != "clone" or clone.unique:
            continue
        instances = [_primitives_under(by_id, inst) for inst in clone.children]
        for prim in template_members(clone):
            result[prim] = instances
    return result


def _primitives_under(by_id: dict[str, RscConfig], rid: str) -> list[str]:
    rsc = by_id[rid]
    if rsc.kind == "primitive":
        return [rid]
    return [p for child in rsc.children for p in _primitives_under(by_id, child)]


def _no_slot_on_lost_nodes(resources: list[RscConfig], requires: dict[str, str],
                           node_count: int) -> set[str]:
    """Base ids whose history on a lost node must not take a valid instance number.

    That is members of anonymous clones that are not on every node (clone-max differs
    from the node count) and whose `requires` is quorum or nothing.
    """
    by_id = {r.id: r for r in resources}
    out: set[str] = set()
    for clone in resources:
        if clone.kind != "clone" or clone.unique or clone.clone_max == node_count:
            continue
        for inst in clone.children[:1]:
            out.update(p.split(":", 1)[0] for p in _primitives_under(by_id, inst)
                       if requires.get(p) not in ("fencing", "unfencing"))
    return out


def _anonymous_instance(instances: list[list[str]], base: str, node: NodeWork,
                        states: dict[str, RscState], orphan: bool = False) -> str | None:
    """find_anonymous_clone: the instance active here, else the first inactive one."""
    def member(prims: list[str]) -> str | None:
        return next((p for p in prims if p.split(":", 1)[0] == base), None)

    skip_inactive = False
    inactive: str | None = None
    for prims in instances:
        locations = {n for p in prims if p in states for n in states[p].running_on}
        if locations:
            if node.name in locations:
                found = member(prims)
                if found is not None and found in states and states[found].running_on:
                    skip_inactive = True
                elif found is not None and not orphan:
                    return found
        elif not skip_inactive and inactive is None:
            inactive = member(prims)
    if not skip_inactive and inactive is not None and not orphan:
        return inactive
    # Each orphan is a new instance of the clone (numbered on from clone-max); later
    # histories may land in it like in any other instance.
    template = instances[0] if instances else [f"{base}:0"]
    number = len(instances)
    instances.append([f"{p.split(':', 1)[0]}:{number}" for p in template])
    return f"{base}:{number}"


def _in_clone(rsc: RscConfig, known: dict[str, RscConfig]) -> bool:
    """Whether `rsc` is (in) a clone instance; an unknown ancestor counts as one."""
    parent = rsc.parent
    while parent is not None:
        above = known.get(parent)
        if above is None or above.kind == "clone":
            return True
        parent = above.parent
    return False


def _lock_stamp(lrm_rsc: Element) -> int:
    """The shutdown-lock time recorded on a history entry (0: none)."""
    stamp = lrm_rsc.get("shutdown-lock")
    return int(stamp) if stamp and stamp.isdigit() else 0


def _lock_expired(lrm_rsc: Element, options: Options, now: datetime.datetime) -> bool:
    """unpack_shutdown_lock: a recorded lock older than shutdown-lock-limit (strictly: at
    exactly the limit it still holds) has expired, on any node and for any resource, clone
    instances included (made-up CIBs with Debian's crm_simulate 2.1.5: an lrm_delete of the
    history on an offline or online node, for a primitive, group member or clone instance)."""
    if not options.shutdown_lock:
        return False
    limit_s = duration_ms(dict(options.raw).get("shutdown-lock-limit"), 0) // 1000
    stamp = _lock_stamp(lrm_rsc)
    return stamp > 0 and limit_s > 0 and now.timestamp() > stamp + limit_s


def _shutdown_lock(lrm_rsc: Element, rsc: RscConfig, st: RscState, node: NodeWork,
                   options: Options) -> None:
    """shutdown-lock: keep a cleanly stopped node's resources there (until the limit,
    which the caller checked).

    Pacemaker 2.1.5 locks primitives and the members of uncloned groups, never clone
    instances (the caller leaves those out).
    """
    if not options.shutdown_lock or rsc.standard == "stonith" or not st.managed:
        return
    recorded = not node.online and _lock_stamp(lrm_rsc) > 0
    # pcmk__primitive_shutdown_lock: never to an unclean node (a failed stop there)
    shutting_down = node.online and node.shutdown and not node.unclean \
        and st.running_on == [node.name]
    if recorded or shutting_down:
        st.locked_to = node.name


def _block_groups(resources: list[RscConfig], states: dict[str, RscState]) -> None:
    """A multiply active group member with multiple-active=block blocks the whole group when
    the group itself has multiple-active=block (native_add_running checks the parent's
    own recovery type: crm_simulate blocks only the member when just it has block)."""
    by_id = {r.id: r for r in resources}
    for rsc in resources:
        st = states.get(rsc.id)
        if st is None or rsc.parent is None or len(st.running_on) < 2 or not st.blocked:
            continue
        parent = by_id.get(rsc.parent)
        if parent is None or parent.kind != "group" or rsc.multiple_active != "block" \
                or parent.multiple_active != "block":
            continue
        for member in parent.children:
            if member in states:
                states[member].managed = False
                states[member].blocked = True


def _promotable_primitives(resources: list[RscConfig]) -> set[str]:
    by_id = {r.id: r for r in resources}
    out: set[str] = set()
    for rsc in resources:
        if rsc.kind == "clone" and rsc.promotable:
            for inst in rsc.children:
                out.update(_primitives_under(by_id, inst))
            bases = set(template_members(rsc))
            out.update(r.id for r in resources  # orphan instances are promotable too
                       if r.orphan and not rsc.unique and r.id.split(":", 1)[0] in bases)
    return out


def _apply_target_role(rsc: RscConfig, st: RscState, promotable: bool) -> None:
    target = rsc.target_role
    if target is None or target == Role.UNKNOWN:
        return
    if target >= Role.STARTED and not promotable:
        return
    if target == Role.STARTED or target == Role.PROMOTED:
        return
    if st.next_role is None or target < st.next_role:
        st.next_role = target

