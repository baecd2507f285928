"""Cross-node effects of live-migration history (unpack.c: unpack_migrate_to_success).

Invariants: runs after every node's history is unpacked; only a successful migrate_to that is
the newest entry on its source is considered. A successful migrate_from from that source on the
target makes the migration "dangling" (the source no longer counts as running); otherwise the
target counts as running too when it is online and holds some non-pending entry for the
resource (Debian's 2.1.5 backports upstream's rule that a target with only pending entries is
not a partial-migration target).
"""

from __future__ import annotations

from messaging.types import Role
from pengine.state import RscState
from pengine.unpack_nodes import NodeWork
from pengine.xmlin import Element


def _ok(op: Element) -> bool:
    return op.get("rc-code") == "0" and op.get("op-status") == "0"


def _pending(op: Element) -> bool:
    return op.get("op-status") == "-1" or op.get("call-id") == "-1"


def _when(op: Element) -> int:
    try:
        return int(op.get("last-rc-change") or 0)
    except ValueError:
        return 0


def apply_migrations(states: dict[str, RscState], nodes: list[NodeWork]) -> None:
    by_name = {n.name: n for n in nodes}
    for st in states.values():
        for source, ops in list(st.history.items()):
            if not ops or ops[-1].get("operation") != "migrate_to" or not _ok(ops[-1]):
                continue
            migrate_to = ops[-1]
            target = migrate_to.get("migrate_target") or ""
            on_target = st.history.get(target, [])
            if any(_when(op) > _when(migrate_to) and op.get("operation") != "migrate_from"
                   for op in on_target):
                continue  # newer state on the target: this migrate_to no longer matters
            migrate_from = next((op for op in reversed(on_target)
                                 if op.get("operation") == "migrate_from"
                                 and op.get("migrate_source") == source), None)
            if migrate_from is not None and _ok(migrate_from):
                if source in st.running_on:  # dangling: only a stop remains on the source
                    st.running_on.remove(source)
                continue
            node = by_name.get(target)
            settled = [op for op in on_target if not _pending(op)]
            if node is not None and node.online and settled and target not in st.running_on:
                # native_add_running(target) happens while the source's entries are read,
                # before the source itself is added: the target comes first.
                at = st.running_on.index(source) if source in st.running_on \
                    else len(st.running_on)
                st.running_on.insert(at, target)
                st.role = max(st.role, Role.STARTED)
