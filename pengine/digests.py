"""Configuration-change detection: compare history digests with the current definition.

Invariants: pure; returns, per primitive, the nodes where it must be restarted ("restart",
reason `resource definition change`), reloaded ("reload") or stopped because its agent
changed ("agent"). Digest text is `' <parameters' + ' name="value"'... + '/>\\n'`, MD5 hex.
"""

from __future__ import annotations

from collections.abc import Mapping

from messaging.digest import parameters_digest
from pengine.state import RscState, Unpacked, history_entry, recorded_agent
from pengine.unpack_history import find_op_config
from pengine.unpack_nodes import NodeWork
from pengine.unpack_resources import RscConfig
from pengine.xmlin import Element, is_true

_START_LIKE = ("start", "migrate_from")
RESCHEDULE = "reschedule"
RERUN = "rerun"
CLEANUP = "cleanup"
_CHECKED = ("monitor", "start", "promote", "migrate_from")


def digest(params: Mapping[str, str]) -> str:
    """MD5 of Pacemaker's canonical parameter text (messaging.digest)."""
    return parameters_digest(params)


def check_entry(rsc: RscConfig, op: Element,
                checked_tasks: tuple[str, ...] | None = _CHECKED) -> str | None:
    """How a non-recurring entry's definition changed (None: unchanged or not checked)."""
    task = op.get("operation") or ""
    interval = int(op.get("interval") or 0)
    if interval > 0 or (checked_tasks is not None and task not in checked_tasks):
        return None
    conf = find_op_config(rsc, task, interval)
    params = {k: v for k, v in rsc.params.items() if not k.startswith("CRM_meta")}
    own = dict(conf.params) if conf is not None else {}
    params.update(own)
    restart_digest = op.get("op-restart-digest")
    if restart_digest is not None:
        # Without an op-force-restart list Pacemaker's restart digest covers every
        # parameter (nothing is filtered out): params-6 reloads because that digest still
        # matches, params-5 restarts because it does not.
        force = op.get("op-force-restart")
        names = set(force.split()) if force is not None else set(params)
        if digest({k: v for k, v in params.items() if k in names}) != restart_digest:
            return "restart"
    recorded = op.get("op-digest")
    if recorded is not None and digest(params) == recorded:
        return None
    if recorded is not None and _secure_digest_matches(op, params):
        return None
    if op.get("op-status") == "-1":
        return "agent"  # a pending operation cannot be reloaded: plain stop and start
    if restart_digest is not None and not own:
        return "reload"
    return "restart"


def recurring_changed(rsc: RscConfig, op: Element, task: str, interval_ms: int) -> bool:
    """A recurring entry's digest covers the parameters and the op's timeout (in ms)."""
    conf = find_op_config(rsc, task, interval_ms)
    if conf is None or not conf.enabled:  # a disabled op counts as no longer configured
        return True
    params = {k: v for k, v in rsc.params.items() if not k.startswith("CRM_meta")}
    params.update(conf.params)
    recorded = op.get("op-digest")
    if recorded is not None and _secure_digest_matches(op, params):
        return False
    params["CRM_meta_timeout"] = str(conf.timeout_ms)
    return recorded is None or recorded != digest(params)


def _secure_digest_matches(op: Element, params: dict[str, str]) -> bool:
    """crm_simulate compares the digest of the parameters that are not secret where the
    entry records one (its CIB shows the secret ones masked): the op-secure-params and the
    fencing pcmk_* ones left out, and for a recurring op without its timeout (confirmed
    with crm_simulate: a monitor whose secure digest matches is not sent again)."""
    secure = op.get("op-secure-digest")
    if secure is None:
        return False
    hidden = set((op.get("op-secure-params") or "").split())
    return digest({k: v for k, v in params.items()
                   if k not in hidden and not k.startswith("pcmk_")}) == secure


def config_changes(u: Unpacked) -> dict[str, dict[str, str]]:
    """{rsc: {node: "restart" | "reload" | "agent"}} for active primitives."""
    result: dict[str, dict[str, str]] = {}
    for rsc in u.primitives:
        if rsc.orphan:
            continue
        st: RscState = u.states[rsc.id]
        for node_name in st.running_on:
            node = u.node(node_name)
            if node is None or not (node.available or node.maintenance):
                continue
            change = _node_change(rsc, st, node_name)
            if change is not None:
                result.setdefault(rsc.id, {})[node_name] = change
    return result


def orphan_recurring(u: Unpacked) -> list[tuple[str, str, str, int, str]]:
    """Recurring operations to cancel or send again: (resource, node, task, interval ms, why).

    On every node that can run actions (or is in maintenance), each active resource's
    recurring operations since its last start are cancelled when the resource or node is
    in maintenance, or (with stop-orphan-actions) when the operation is no longer
    configured or is disabled (process_rsc_history, pcmk__check_action_config). One still
    configured whose definition changed is sent again ("reschedule": Pacemaker marks it
    pe_action_reschedule rather than restarting the resource, and the recurring action it
    creates later for the resource there is then required). One whose failure expired is
    run again ("rerun": its restart digest no longer matches, so force_restart requires it).
    """
    out: list[tuple[str, str, str, int, str]] = []
    for node in u.nodes:
        if not (node.available or node.maintenance):
            continue
        agents = history_agents(u, node.name)
        for rsc in u.primitives:
            st: RscState = u.states[rsc.id]
            if rsc.orphan:
                out += _orphan_cleanup(u, rsc, st, node)
                continue
            out += _agent_changed_cleanup(rsc, st, node, agents)
            if node.name not in st.running_on:
                continue
            maintenance = node.maintenance or u.options.maintenance_mode \
                or is_true(rsc.meta.get("maintenance"), False)
            for op in entries_since_last_start(st.history.get(node.name, [])):
                task, interval = op.get("operation") or "", int(op.get("interval") or 0)
                if interval <= 0:
                    continue
                conf = find_op_config(rsc, task, interval)
                if maintenance:
                    out.append((rsc.id, node.name, task, interval, "maintenance mode"))
                elif (conf is None or not conf.enabled) and u.options.stop_orphan_actions:
                    out.append((rsc.id, node.name, task, interval, "orphan"))
                elif conf is not None and conf.enabled \
                        and history_entry(node.name, op) in st.expired_recurring:
                    out.append((rsc.id, node.name, task, interval, RERUN))
                elif conf is not None and conf.enabled \
                        and recurring_changed(rsc, op, task, interval):
                    out.append((rsc.id, node.name, task, interval, RESCHEDULE))
    return out


def recorded_call_id(st: RscState, node: str, task: str, interval_ms: int) -> str | None:
    """The call-id of the newest entry of the resource's current activity on the node
    for that recurring operation (what pcmk__schedule_cancel passes on)."""
    found = None
    for op in entries_since_last_start(st.history.get(node, [])):
        if op.get("operation") == task and op.get("interval") == str(interval_ms):
            found = op.get("call-id")
    return found


def _orphan_cleanup(u: Unpacked, rsc: RscConfig, st: RscState,
                    node: NodeWork) -> list[tuple[str, str, str, int, str]]:
    """process_rsc_history checks no operation of an orphan (so cancels none); it schedules
    the clean-up (`delete`) of its history on the node instead, except for an anonymous
    clone's orphan instance, a failed resource or a node that is down or unclean
    (pcmk__schedule_cleanup)."""
    if u.anonymous_orphan(rsc.id) or not st.history.get(node.name):
        return []
    if st.failed or not node.online or node.unclean:
        return []
    if not st.managed:  # an unmanaged resource's delete stays optional: out of the graph
        return []
    return [(rsc.id, node.name, "delete", 0, CLEANUP)]


def history_agents(u: Unpacked, node: str) -> dict[str, str]:
    """The agent each <lrm_resource> with operations in the node's history records, by
    the entry's id (the first entry of an id wins)."""
    out: dict[str, str] = {}
    for state in u.root.iterfind("status/node_state"):
        if state.get("uname") != node:
            continue
        for entry in state.iterfind("lrm/lrm_resources/lrm_resource"):
            if entry.find("lrm_rsc_op") is not None:
                out.setdefault(entry.get("id") or "", recorded_agent(entry))
        break
    return out


def _agent_changed_cleanup(rsc: RscConfig, st: RscState, node: NodeWork,
                           agents: Mapping[str, str]) -> list[tuple[str, str, str, int, str]]:
    """pcmk__rsc_agent_changed: a history recorded with another class, provider or type
    than the configured agent is cleaned up (`delete`) on that node, whether the resource
    is active there or not (confirmed with crm_simulate); as for an orphan, not for a
    failed or unmanaged resource, nor on a node that is down or unclean.

    Pacemaker checks each history entry against every resource whose id or clone_name is
    the entry's id (pcmk__rscs_matching_id), not only the one it was unpacked into: an
    anonymous instance's entry unpacked into an orphan (its number already active
    elsewhere) still cleans up the configured instance of that number (corpus
    order_constraint_stops_promoted; confirmed with crm_simulate on made-up CIBs)."""
    recorded = [agents.get(name) for name in (rsc.id, st.clone_name) if name is not None]
    if not any(agent is not None and agent != rsc.agent for agent in recorded):
        return []
    if st.failed or not st.managed:
        return []
    if not node.online or node.unclean:
        return []
    return [(rsc.id, node.name, "delete", 0, CLEANUP)]


def entries_since_last_start(history: list[Element]) -> list[Element]:
    """calculate_active_ops: the entries of the resource's current activity on a node.

    They run from the last start (of any result; failing that the last promote/demote, or the
    first successful monitor after the last stop); none when a later stop ended it. With no
    start-like entry and no stop every entry counts (process_rsc_history and
    process_recurring skip only entries before start_index, -1 here). The one walker for
    recurring-op history (actions.active_recurring) and configuration checks.
    """
    start = stop = implied_monitor = implied_clone = -1
    for index, op in enumerate(history):
        task = op.get("operation")
        if task == "stop" and op.get("op-status") == "0":
            stop = index  # a stop without an op-status is not a stop here (pcmk__str_eq)
        elif task in _START_LIKE:
            start = index
        elif task == "monitor" and implied_monitor <= stop:
            if op.get("rc-code") in ("0", "8"):
                implied_monitor = index
        elif task in ("promote", "demote"):
            implied_clone = index
    if start == -1:
        start = implied_clone if implied_clone != -1 else implied_monitor
    return [] if start < stop else history[max(start, 0):]


def _node_change(rsc: RscConfig, st: RscState, node: str) -> str | None:
    agent = st.agent_on.get(node)
    if agent is not None and agent != rsc.agent:
        return "agent"
    found: str | None = None
    for op in entries_since_last_start(st.history.get(node, [])):
        change = check_entry(rsc, op)
        if change in ("restart", "agent"):
            return change
        if change == "reload":
            found = "reload"
    return found
