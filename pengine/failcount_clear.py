"""Which fail counts the scheduler clears (`clear_failcount` cluster actions), and why.

Pacemaker 2.1.5 schedules `<rsc>_clear_failcount_0` on a node for two reasons:
* "it expired": a history entry (of any operation) older than the resource's failure-timeout
  while the resource's fail count on the node (every operation's, or the legacy one) is set
  but no longer effective (its latest last-failure is older than the timeout too);
* "resource parameters have changed": an unexpired `<rsc>_last_failure_0` entry of a start
  or monitor (of any result, the resource active or not) recorded a digest that no longer matches;
* "action definition changed": the resource is active on the node, an entry since its last
  start (a recurring one, or a monitor/start/promote/migrate_from) no longer matches its
  definition (digest differs or was never recorded, or the recurring op is gone), and the
  resource still has an effective fail count there.

Invariants: pure; each (resource, node) pair appears at most once, expired ones first (they
are found while the status is unpacked, before any other check), then in resource order.
"""

from __future__ import annotations

from pengine.digests import check_entry, entries_since_last_start, recurring_changed
from pengine.failcounts import fail_count, raw_fail_count
from pengine.state import Unpacked
from pengine.unpack_nodes import NodeWork
from pengine.unpack_resources import RscConfig
from pengine.xmlin import Element

EXPIRED = "it expired"
DEFINITION_CHANGED = "action definition changed"
PARAMETERS_CHANGED = "resource parameters have changed"
ORPHANED = "it is orphaned"
_CHECKED_TASKS = ("monitor", "start", "promote", "migrate_from")


def failcount_clears(u: Unpacked) -> list[tuple[str, str, str]]:
    """[(resource, node, reason)] in the order Pacemaker creates the actions (not to be
    modified: computed once per unpacked CIB, which placement and the scheduler both ask,
    and kept beside Unpacked's other cached lookups)."""
    cached: list[tuple[str, str, str]] | None = u.__dict__.get(_CACHE_KEY)
    if cached is None:
        cached = u.__dict__[_CACHE_KEY] = _failcount_clears(u)
    return cached


_CACHE_KEY = "_failcount_clears"


def _failcount_clears(u: Unpacked) -> list[tuple[str, str, str]]:
    expired: dict[tuple[str, str], str] = {}
    changed: dict[tuple[str, str], str] = {}
    for rsc in u.primitives:
        st = u.states[rsc.id]
        for node_name, history in st.history.items():
            node = u.node(node_name)
            if node is None:
                continue
            expiring = rsc.failure_timeout_s > 0 and not st.block_failure
            if expiring and any(_op_expired(u, rsc, node, op) for op in history):
                expired[(rsc.id, node_name)] = EXPIRED
            if any(_failure_parameters_changed(rsc, op) for op in history
                   if not (expiring and _op_expired(u, rsc, node, op))):
                changed.setdefault((rsc.id, node_name), PARAMETERS_CHANGED)
            if node_name in st.running_on and (node.available or node.maintenance) \
                    and not rsc.orphan and _definition_changed(rsc, history) \
                    and fail_count(rsc, node, u.options, u.now,
                                   block_failure=st.block_failure)[0] > 0:
                changed.setdefault((rsc.id, node_name), DEFINITION_CHANGED)
    for key, reason in changed.items():
        expired.setdefault(key, reason)
    return [(rid, node, reason) for (rid, node), reason in expired.items()]


def orphan_clears(u: Unpacked) -> list[tuple[str, str, str]]:
    """clear_failcounts_if_orphaned: with stop-orphan-resources, a top-level orphan (an
    anonymous clone's orphan instance is the clone's child, so not one) gets its fail count
    cleared on every online node where it still has an effective one, "it is orphaned"."""
    if not u.options.stop_orphan_resources:
        return []
    return [(rsc.id, node.name, ORPHANED) for rsc in u.primitives
            if rsc.orphan and not u.anonymous_orphan(rsc.id) for node in u.nodes
            if node.online and fail_count(rsc, node, u.options, u.now,
                                          block_failure=u.states[rsc.id].block_failure)[0]]


def _op_expired(u: Unpacked, rsc: RscConfig, node: NodeWork, op: Element) -> bool:
    """The entry is past failure-timeout and so is the resource's fail count on the node
    (crm_simulate: a start entry alone, with an expired monitor fail count, clears it)."""
    changed = op.get("last-rc-change")
    if changed is None or not changed.lstrip("-").isdigit():
        return False
    now = u.now.timestamp()
    timeout = rsc.failure_timeout_s
    if now < int(changed) + timeout:
        return False
    count, last = raw_fail_count(rsc, node, u.options)
    return count > 0 and now > last + timeout


def _failure_parameters_changed(rsc: RscConfig, op: Element) -> bool:
    """A last-failure entry whose recorded digest differs (none recorded: unknown, kept)."""
    if op.get("id") != f"{rsc.id.split(':', 1)[0]}_last_failure_0" or op.get("op-digest") is None \
            or op.get("operation") not in ("start", "monitor"):
        return False
    interval = op.get("interval") or "0"
    interval_ms = int(interval) if interval.isdigit() else 0
    if interval_ms == 0:
        return check_entry(rsc, op, checked_tasks=None) is not None
    return recurring_changed(rsc, op, op.get("operation") or "", interval_ms)


def _definition_changed(rsc: RscConfig, history: list[Element]) -> bool:
    for op in entries_since_last_start(history):
        task = op.get("operation") or ""
        interval = op.get("interval") or "0"
        interval_ms = int(interval) if interval.isdigit() else 0
        if interval_ms == 0:
            if task in _CHECKED_TASKS and check_entry(rsc, op) is not None:
                return True
        elif recurring_changed(rsc, op, task, interval_ms):
            return True
    return False
