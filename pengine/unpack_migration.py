"""Cross-node effects of live-migration history (unpack.c: unpack_migrate_to_success).

Invariants: runs after every node's history is unpacked, on every migrate_to the history walk
unpacked (newest or not; expired failures never reach it). A migrate_to matters unless both ends
have newer state, or the source does and the target reported a migrate_from. A successful
migrate_from from that source on the target makes the migration "dangling" (the source no
longer counts as running); otherwise the target counts as running too when it is online, has no
newer state and holds some non-pending entry for the resource (Debian's 2.1.5 backports
upstream's rule that a target with only pending entries is not a partial-migration target); it
is a partial migration when the migrate_from is missing or pending and the source is online
too. A target that cannot count leaves the resource failed (stopped and recovered, never
migrated further). A failed migrate_to counts its target as running when the target's state is
known and unchanged since. The target is placed in the running list where Pacemaker adds it:
while reading the source, before the source itself.
"""

from __future__ import annotations

from messaging.types import Role
from pengine.scores import INF
from pengine.state import RscState
from pengine.unpack_history import sort_ops
from pengine.unpack_nodes import NodeWork
from pengine.xmlin import Element


def _ok(op: Element) -> bool:
    return op.get("rc-code") == "0" and op.get("op-status") == "0"


def _pending(op: Element) -> bool:
    return op.get("op-status") == "-1" or op.get("call-id") == "-1"


def _number(op: Element, name: str) -> int | None:
    try:
        return int(op.get(name) or "")
    except ValueError:
        return None


def _is_newer(op: Element, reference: Element, same_node: bool) -> bool:
    """pe__is_newer_op: call ids on one node, else last-rc-change (unknown: not newer)."""
    if same_node:
        mine, theirs = _number(op, "call-id"), _number(reference, "call-id")
        if mine is not None and theirs is not None and mine >= 0 and theirs >= 0:
            return mine > theirs
    mine, theirs = _number(op, "last-rc-change"), _number(reference, "last-rc-change")
    return mine is not None and theirs is not None and mine > theirs


def _newer_state(ops: list[Element], reference: Element, same_node: bool) -> bool:
    """A newer start/stop/migration, or a newer monitor finding it stopped, on that node."""
    for op in ops:
        if op is reference:
            continue
        task = op.get("operation")
        counts = task in ("start", "stop", "migrate_to", "migrate_from") \
            or (task == "monitor" and op.get("rc-code") == "7")
        if counts and _is_newer(op, reference, same_node):
            return True
    return False


def apply_migrations(states: dict[str, RscState], nodes: list[NodeWork],
                     requests: list[tuple[str, str]], root: Element) -> None:
    by_name = {n.name: n for n in nodes}
    for rid, st in states.items():
        for source, migrate_to, succeeded, managed in list(st.migrate_to_results):
            if migrate_to.get("migrate_source", source) != source:
                continue
            if succeeded:
                target = migrate_to.get("migrate_target") or ""
                on_target = _target_history(st, rid, target, root)
                _migrate_to_success(rid, st, by_name, (source, on_target, managed), migrate_to,
                                    requests)
            else:
                _migrate_to_failure(st, by_name, (source, managed), migrate_to)


def _source_newer_op(st: RscState, source: str, migrate_to: Element) -> bool:
    """non_monitor_after: a newer non-monitor entry on the source itself."""
    return any(op.get("operation") != "monitor" and _is_newer(op, migrate_to, True)
               for op in st.history.get(source, []) if op is not migrate_to)


def _migrate_from(ops: list[Element], source: str) -> Element | None:
    return next((op for op in reversed(ops) if op.get("operation") == "migrate_from"
                 and op.get("migrate_source") == source), None)


def _target_history(st: RscState, rid: str, target: str, root: Element) -> list[Element]:
    """The target's entries for the resource. Pacemaker looks them up in the status section
    (find_lrm_op), so an offline target whose history was never unpacked (no fencing) still
    tells that the migration completed (seed 22: then only a stop remains on the source)."""
    if target in st.history:
        return st.history[target]
    for node_state in root.iterfind("status/node_state"):
        if node_state.get("uname") == target:
            for lrm_rsc in node_state.iterfind("lrm/lrm_resources/lrm_resource"):
                if lrm_rsc.get("id") == rid:
                    return sort_ops(list(lrm_rsc.iterfind("lrm_rsc_op")))
    return []


def _migrate_to_success(rid: str, st: RscState, by_name: dict[str, NodeWork],
                        ends: tuple[str, list[Element], bool], migrate_to: Element,
                        requests: list[tuple[str, str]]) -> None:
    """unpack_migrate_to_success as Debian's 2.1.5 build has it (upstream PR 3020 backported):
    the migrate_to still matters unless both ends have newer state, or the source does and
    the target already reported a migrate_from. `ends`: the source, the target's entries and
    whether the resource was managed when the source's history was read."""
    source, on_target, managed = ends
    target = migrate_to.get("migrate_target") or ""
    migrate_from = _migrate_from(on_target, source)
    source_newer = _source_newer_op(st, source, migrate_to)
    if migrate_from is not None and source_newer:
        return
    if migrate_from is not None and not _pending(migrate_from):
        # [sim] a failed migrate_from followed by a stop on the target leaves the resource
        # failed on the source; a newer probe finding it stopped there does not count.
        target_newer = any(op.get("operation") != "monitor"
                           and _is_newer(op, migrate_from, True) for op in on_target)
    else:
        target_newer = _newer_state(on_target, migrate_to, same_node=False)
    if source_newer and target_newer:
        return
    if migrate_from is not None and _ok(migrate_from):
        if source in st.running_on:  # dangling: only a stop remains on the source
            st.running_on.remove(source)
            # not active there, so no unmanaged stickiness there either (seed 12)
            st.locations = [loc for loc in st.locations
                            if loc != (source, INF, "not_managed_default")]
            st.dangling_sources.append(source)
            _refence_dangling_source(rid, by_name.get(source), requests)
            _manage_again(st, by_name, source, managed)
        return
    node = by_name.get(target)
    active_on_target = not target_newer and node is not None and node.online
    if migrate_from is not None and not _pending(migrate_from):
        if active_on_target and node is not None:
            _add_target(st, node, (source, managed), partial=False)
        else:  # cannot tell where it runs: recovered, never migrated further
            _fail(st)
        return
    if node is not None and node.online and not any(not _pending(op) for op in on_target):
        return  # nothing known on the target (cleaned): it is probed there first
    if active_on_target and node is not None:
        source_node = by_name.get(source)
        _add_target(st, node, (source, managed),
                    partial=source_node is not None and source_node.online)
    elif not source_newer:
        _fail(st)


def _migrate_to_failure(st: RscState, by_name: dict[str, NodeWork], source: tuple[str, bool],
                        migrate_to: Element) -> None:
    """unpack_migrate_to_failure: the resource may be active on a target whose state is
    known and has not changed since (the target is added before the source)."""
    target = migrate_to.get("migrate_target") or ""
    on_target = [op for op in st.history.get(target, []) if not _pending(op)]
    if not on_target:
        return  # never probed there: the probe will tell
    migrate_from = _migrate_from(on_target, source[0])
    if migrate_from is not None and not _ok(migrate_from):
        migrate_from = None  # only a successful migrate_from is looked for here
    reference = migrate_from if migrate_from is not None else migrate_to
    if _newer_state(on_target, reference, same_node=migrate_from is not None):
        return
    node = by_name.get(target)
    if node is not None and node.online:
        _add_target(st, node, source, partial=False)


def _fail(st: RscState) -> None:
    """Pacemaker cannot tell where it runs: treated as failed, so it is stopped (and
    recovered) rather than migrated any further."""
    st.failed = True
    st.stop_needed = True


def _add_target(st: RscState, target: NodeWork, source_managed: tuple[str, bool],
                partial: bool) -> None:
    """The target counts as running, like any node with an active entry. Pacemaker adds it
    (native_add_running) while reading the source's history, before the source itself and
    after the nodes read earlier; a target read before the source keeps its place.
    `source_managed`: the source, and whether the resource was still managed then (its
    "not_managed_default" stickiness goes to the target only if so; seed 431)."""
    source, managed = source_managed
    order = list(st.history)
    if target.name in st.running_on:
        # A partial migration to a node where the resource already runs is left alone
        # (as before; Pacemaker restarts a primitive migrating to its own node but not an
        # anonymous clone instance, differential seed 197: not understood yet).
        if partial or order.index(target.name) < order.index(source):
            return
        st.running_on.remove(target.name)
    before = set(order[:order.index(source)])
    at = sum(1 for name in st.running_on if name in before)
    st.running_on.insert(at, target.name)
    if partial:
        st.partial_migration = (source, target.name)
        # A stop on the source after its migrate_to does not make the partially migrated
        # resource stopped on the target (process_rsc_state).
        st.role = max(st.role, Role.STARTED)
    if target.maintenance:  # active on a node in maintenance: left alone there
        if st.managed:  # so where it is found active from the source on, it stays too
            later = set(order[order.index(source):]) - {target.name}
            st.locations.extend((name, INF, "not_managed_default")
                                for name in st.running_on if name in later)
        st.managed = managed = False
    if not managed:
        st.locations.append((target.name, INF, "not_managed_default"))


def _manage_again(st: RscState, by_name: dict[str, NodeWork], source: str,
                  managed: bool) -> None:
    """Pacemaker never adds a dangling source to the running nodes (native_add_running),
    so a source in maintenance leaves the resource managed (seed 2104)."""
    node = by_name.get(source)
    if managed and node is not None and node.maintenance \
            and not any(by_name[n].maintenance for n in st.running_on if n in by_name):
        st.managed = True


def _refence_dangling_source(rid: str, source: NodeWork | None,
                             requests: list[tuple[str, str]]) -> None:
    """A dangling source is not active (the migration left it stopped there), so an offline
    source is fenced because the stop it still needs cannot run, not for an active resource.
    That fencing comes from action creation, after every fencing found while unpacking."""
    active_reason = f"{rid} is thought to be active there"
    if source is None or source.fence_reason != active_reason:
        return
    requests.remove((source.name, active_reason))
    # Pacemaker's unpacking found the resource stopped on the source, so nothing else
    # fenced it there: crm_mon (which only unpacks) shows it clean (seed 1238)
    source.fenced_later = source.fence_calls == 1
    source.fence_reason = "stop is unrunnable"
    requests.append((source.name, source.fence_reason))
