"""Agent reloads: a resource whose definition changed only in reloadable parameters.

Owns Pacemaker 2.1.5's schedule_reload: a required `reload-agent` action where the resource
runs (not for an unmanaged or failed one, nor while its start is pending), created with the
configuration checks (before the probes, whose ids it precedes), after the resource's
probes, before its recurring monitors, and cancelled by a required stop or demote of the
resource (pe_order_then_cancels_first: the resource restarts instead).
"""

from __future__ import annotations

from collections.abc import Mapping

from pengine.actions import OPTIONAL, ActionSet, PrimitiveActions
from pengine.order_links import Link
from pengine.sealed_actions import FlagsTable
from pengine.state import Unpacked

CANCELS_FIRST = "then_cancels_first"


def schedule_reloads(u: Unpacked, acts: ActionSet, pa: PrimitiveActions,
                     changes: Mapping[str, Mapping[str, str]]) -> None:
    """A reload-agent action for each (resource, node) whose change is a reload."""
    for rid, per_node in changes.items():
        st = u.states[rid]
        if not pa.p.managed.get(rid, True) or st.failed or st.start_pending:
            continue
        for node, change in per_node.items():
            if change != "reload":
                continue
            reload = pa.action(rid, "reload-agent", node, False)
            reload.reason = "resource definition change"
            for task in ("stop", "demote"):
                acts.order(rid, "reload-agent", rid, task, OPTIONAL, CANCELS_FIRST,
                           first_action=reload)
            # pcmk__probe_rsc_on_node orders each probe before any agent reload
            acts.order(rid, "monitor", rid, "reload-agent", OPTIONAL, then_action=reload)


def cancel_reloads(links: list[Link], flags: FlagsTable) -> FlagsTable:
    """A required 'then' makes its then_cancels_first 'first' optional (out of the graph)."""
    cancelled = {link.first.id for link in links
                 if CANCELS_FIRST in link.flags and not flags.optional[link.then.id]}
    if not cancelled:
        return flags
    optional = [value or index in cancelled for index, value in enumerate(flags.optional)]
    return FlagsTable(optional, flags.runnable, flags.reason)
