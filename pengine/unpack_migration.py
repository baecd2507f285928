"""Cross-node effects of live-migration history (unpack.c: unpack_migrate_to_success).

Invariants: runs after every node's history is unpacked; only a successful migrate_to that is
the newest entry on its source is considered. A successful migrate_from from that source on the
target makes the migration "dangling" (the source no longer counts as running); otherwise the
target counts as running too when it is online and holds some non-pending entry for the
resource (Debian's 2.1.5 backports upstream's rule that a target with only pending entries is
not a partial-migration target); it is a partial migration when the migrate_from is missing or
pending and the source is online too. A target that is not online leaves the resource failed
(stopped and recovered, never migrated further).
"""

from __future__ import annotations

from messaging.types import Role
from pengine.scores import INF
from pengine.state import RscState
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
                     requests: list[tuple[str, str]]) -> None:
    by_name = {n.name: n for n in nodes}
    for rid, st in states.items():
        for source, ops in list(st.history.items()):
            if not ops or ops[-1].get("operation") != "migrate_to" or not _ok(ops[-1]):
                continue
            migrate_to = ops[-1]
            target = migrate_to.get("migrate_target") or ""
            on_target = st.history.get(target, [])
            migrate_from = next((op for op in reversed(on_target)
                                 if op.get("operation") == "migrate_from"
                                 and op.get("migrate_source") == source), None)
            reference = migrate_from if migrate_from is not None else migrate_to
            if _newer_state(on_target, reference, same_node=migrate_from is not None):
                # Newer state on the target: the migration no longer matters there, but
                # without a migrate_from result Pacemaker cannot tell where the resource
                # runs, so it is failed on the source (recovered, never migrated).
                if migrate_from is None or _pending(migrate_from):
                    _fail(st)
                continue
            if migrate_from is not None and _ok(migrate_from):
                if source in st.running_on:  # dangling: only a stop remains on the source
                    st.running_on.remove(source)
                    st.dangling_sources.append(source)
                    _refence_dangling_source(rid, by_name.get(source), requests)
                continue
            node = by_name.get(target)
            if node is None or not node.online:
                if migrate_from is None or _pending(migrate_from):
                    _fail(st)
                continue
            settled = [op for op in on_target if not _pending(op)]
            if settled and target not in st.running_on:
                # native_add_running(target) happens while the source's entries are read,
                # before the source itself is added: the target comes first.
                at = st.running_on.index(source) if source in st.running_on \
                    else len(st.running_on)
                _add_target(st, node, at)
                source_node = by_name.get(source)
                if (migrate_from is None or _pending(migrate_from)) \
                        and source_node is not None and source_node.online:
                    st.partial_migration = (source, target)


def _fail(st: RscState) -> None:
    """Pacemaker cannot tell where it runs: treated as failed, so it is stopped (and
    recovered) rather than migrated any further."""
    st.failed = True
    st.stop_needed = True


def _add_target(st: RscState, target: NodeWork, at: int) -> None:
    """The target counts as running, like any node with an active entry."""
    st.running_on.insert(at, target.name)
    st.role = max(st.role, Role.STARTED)
    if target.maintenance:  # active on a node in maintenance: left alone there
        st.managed = False
    if not st.managed:
        st.locations.append((target.name, INF, "not_managed_default"))


def _refence_dangling_source(rid: str, source: NodeWork | None,
                             requests: list[tuple[str, str]]) -> None:
    """A dangling source is not active (the migration left it stopped there), so an offline
    source is fenced because the stop it still needs cannot run, not for an active resource.
    That fencing comes from action creation, after every fencing found while unpacking."""
    active_reason = f"{rid} is thought to be active there"
    if source is None or source.fence_reason != active_reason:
        return
    requests.remove((source.name, active_reason))
    source.fence_reason = "stop is unrunnable"
    requests.append((source.name, source.fence_reason))
