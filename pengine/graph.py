"""Freeze the sealed actions and their settled flags (the FlagsTable) into public Actions,
and the edges of the transition graph.

Invariants: graph nodes are exactly the actions that are required and runnable; an edge
first -> then exists when an ordering links two such actions (each pair once, in link
order). No networkx here: the scheduler's hot path stays free of its import cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from messaging.types import Role
from pengine.actions import (
    ASYMMETRICAL,
    IMPLIES_THEN,
    OPTIONAL,
    PROMOTED_IMPLIES_FIRST,
    RESTART,
    RUNNABLE_LEFT,
    Work,
)
from pengine.anti_colocation import ANTI_COLOCATION
from pengine.graph_meta import collective_meta
from pengine.migration_orders import FIRST_NON_MIGRATABLE
from pengine.model import Action
from pengine.order_links import Link
from pengine.sealed_actions import FlagsTable
from pengine.state import Unpacked
from pengine.unpack_history import find_op_config
from pengine.unpack_resources import OpConfig, RscConfig


def freeze(u: Unpacked, works: Sequence[Work], flags: FlagsTable,
           meta: Mapping[int, Sequence[tuple[str, str]]] | None = None,
           priority: Mapping[int, int] | None = None,
           managed: Mapping[str, bool] | None = None) -> tuple[Action, ...]:
    """The public Actions: each sealed Work with the flags propagation settled for it;
    `meta`: extra attributes by action id (the notify_* variables of notifications),
    `priority`: synapse priorities by action id (post-notifications), `managed`: by
    resource (an unmanaged resource's required actions other than monitors stay out of
    the graph, as should_add_action_to_graph leaves them: they show as optional)."""
    node_ids = {n.name: n.id for n in u.nodes}
    configs = {r.id: r for r in u.resources if r.kind == "primitive"}
    agents = {rid: r.agent for rid, r in configs.items()}
    names = _anonymous_names(u)
    labels = _printed_names(u, names)
    optional, runnable, reason = flags.optional, flags.runnable, flags.reason
    migrated = _migrated_starts(works, runnable)
    migrations = _migration_meta(works)
    collective = collective_meta(u)
    out = []
    for w in works:
        pseudo = w.pseudo or w.id in migrated
        attrs = _attributes(w, configs.get(w.rsc or ""), node_ids, on_node=not pseudo)
        attrs += collective.get(w.rsc or "", [])
        if w.task == "stonith":
            attrs += _fence_meta(u, w)
        attrs += migrations.get(w.id, [])
        attrs += (meta or {}).get(w.id, ())
        out.append(Action(
            id=w.id, key=w.key, task=w.task, resource=w.rsc,
            node=w.node,
            node_id=node_ids.get(w.node) if w.node else None,
            interval_ms=w.interval_ms, pseudo=pseudo,
            optional=optional[w.id] or _unmanaged_action(w, managed or {}),
            runnable=runnable[w.id], attributes=tuple(sorted(attrs)), reason=reason[w.id],
            agent=agents.get(w.rsc or "") if not w.pseudo else None,
            name=names.get(w.rsc or ""), label=labels.get(w.rsc or ""),
            priority=(priority or {}).get(w.id) or _priority(u, w), print_always=w.print_always,
            graph_key=_graph_key(u, w), node_down=not pseudo and _on_down_node(u, w),
        ))
    return tuple(out)


# A collective's completion pseudo actions: Pacemaker gives them INFINITY priority so that
# they still fire after an abort (clone_create_pseudo_actions).
_COMPLETIONS = frozenset({"running", "stopped", "promoted", "demoted"})


def _priority(u: Unpacked, w: Work) -> int:
    """The synapse priority of an action: its resource's priority meta attribute (an
    action's priority is its resource's), INFINITY for a clone's completion actions."""
    from pengine.unpack_resources import meta_count

    if w.rsc is None or not u.has_rsc(w.rsc):
        return 0
    rsc = u.rsc(w.rsc)
    if rsc.kind == "clone" and w.pseudo and w.task in _COMPLETIONS:
        return 1_000_000
    return meta_count(rsc.meta, "priority", 0)


def _fence_meta(u: Unpacked, w: Work) -> list[tuple[str, str]]:
    """A fencing action carries its kind and the target's node attributes but those whose
    name has a '#' or ':' (fail counts of instances), as Pacemaker's graph writer adds
    them (meta names: '-' is '_')."""
    node = u.node(w.node) if w.node is not None else None
    attrs = [("CRM_meta_stonith_action", w.key.rsplit("-", 1)[-1])]
    if node is not None:
        attrs += [(f"CRM_meta_{name.replace('-', '_')}", value)
                  for name, value in node.attrs.items()
                  if "#" not in name and ":" not in name]
    return attrs


def _unmanaged_action(w: Work, managed: Mapping[str, bool]) -> bool:
    return w.rsc is not None and not managed.get(w.rsc, True) \
        and w.task not in ("monitor", "cancel")


def _graph_key(u: Unpacked, w: Work) -> str | None:
    """The operation key the graph gives an action: an instance found under another history
    id (its clone_name) has its actions keyed by that name, the instance's own key being only
    the internal one (pcmk__create_graph's action2xml); crm_simulate prints a pseudo action
    by it (`d_stop_0` for the stop of `d:1` implied by fencing)."""
    st = u.states.get(w.rsc) if w.rsc is not None else None
    name = st.clone_name if st is not None else None
    if name is None or name == w.rsc or not w.key.startswith(f"{w.rsc}_"):
        return None
    return name + w.key[len(w.rsc or ""):]


def _on_down_node(u: Unpacked, w: Work) -> bool:
    """A real action for a node that cannot run it: should_add_action_to_graph leaves out
    (as a bug it logs) anything but fencing and shutdown scheduled for an offline or unclean
    node; a history clean-up (lrm_delete) can run on the DC instead (pe_action_dc), so it
    stays."""
    if w.node is None or w.task in ("stonith", "do_shutdown", "lrm_delete"):
        return False
    node = u.node(w.node)
    return node is not None and (not node.online or node.unclean)


def _migrated_starts(works: Sequence[Work], runnable: Sequence[bool]) -> set[int]:
    """The starts a live migration stands in for: pseudo actions in the graph.

    Pacemaker makes the start of a planned migration a pseudo action when it creates the
    migration (pcmk__create_migration_actions) and makes it real again only when the
    migrate_from cannot run (its migrate_from -> start ordering is pseudo_left).
    """
    migrate_from = {(w.rsc, w.node) for w in works
                    if w.task == "migrate_from" and runnable[w.id]}
    return {w.id for w in works
            if w.task == "start" and w.migrating and (w.rsc, w.node) in migrate_from}


def _migration_meta(works: Sequence[Work]) -> dict[int, list[tuple[str, str]]]:
    """The source and target a migrate_to/migrate_from carries (add_migration_meta); a
    migrate_to also asks for its pending state to be recorded (record-pending)."""
    target = {w.rsc: w.node for w in works if w.task == "migrate_from" and w.node}
    source = {w.rsc: w.node for w in works if w.task == "stop" and w.migrating and w.node}
    source.update({w.rsc: w.node for w in works if w.task == "migrate_to" and w.node})
    out: dict[int, list[tuple[str, str]]] = {}
    for w in works:
        if w.task in ("migrate_to", "migrate_from") and w.rsc in source and w.rsc in target:
            out[w.id] = [("CRM_meta_migrate_source", source[w.rsc] or ""),
                         ("CRM_meta_migrate_target", target[w.rsc] or "")]
            if w.task == "migrate_to":
                out[w.id].append(("CRM_meta_record_pending", "true"))
    return out


def _anonymous_names(u: Unpacked) -> dict[str, str]:
    """Anonymous clone instances are named in the graph after their configured primitive
    (`d` for `d:1`); an orphan instance after the history it was found under when that
    history named it otherwise (pcmk__create_graph's add_resource_details: an orphan without
    a clone_name is named like any anonymous instance)."""
    out: dict[str, str] = {}
    anonymous = _anonymous_bases(u)
    for rsc in u.resources:
        if rsc.kind != "primitive" or ":" not in rsc.id:
            continue
        history = u.states[rsc.id].history_name
        if rsc.orphan and history is not None and history != rsc.id:
            out[rsc.id] = history
            continue
        base = rsc.id.split(":", 1)[0]
        if base in anonymous:
            out[rsc.id] = base
    return out


def _anonymous_bases(u: Unpacked) -> set[str]:
    """Configured primitives whose clone is anonymous (orphan instances, unpacked without a
    parent here, share their configured siblings' clone: Pacemaker creates them as its
    children)."""
    out: set[str] = set()
    for rsc in u.resources:
        if rsc.kind != "primitive" or ":" not in rsc.id or rsc.orphan:
            continue
        top = rsc
        while top.parent is not None and top.kind != "clone":
            top = u.rsc(top.parent)
        if top.kind == "clone" and not top.unique:
            out.add(rsc.id.split(":", 1)[0])
    return out


def _printed_names(u: Unpacked, names: dict[str, str]) -> dict[str, str]:
    """Anonymous instances crm_simulate prints by their long-id rather than the graph's id.

    Pacemaker's simulator prints an action's <primitive id> when its input's resource list
    finds that id (a resource's id, or a history id an instance was unpacked from, its
    clone_name), else the long-id: the instance's clone_name when it has another one, else
    its own id. So `d:1` prints as `d` only while some node's history knows it as `d`.
    """
    findable = {r.id for r in u.resources}
    findable.update(st.clone_name for st in u.states.values() if st.clone_name is not None)
    out: dict[str, str] = {}
    for rid, name in names.items():
        if name in findable or u.rsc(rid).orphan:
            continue
        clone_name = u.states[rid].clone_name
        out[rid] = clone_name if clone_name is not None and clone_name != name else rid
    return out


def _attributes(w: Work, rsc: RscConfig | None, node_ids: dict[str, str],
                on_node: bool = True) -> list[tuple[str, str]]:
    """CRM_meta_* (and the instance parameters) the graph writer puts in <attributes>;
    `on_node` False: a pseudo action (no node information)."""
    attrs: list[tuple[str, str]] = []
    if w.node is not None and on_node:
        attrs += [("CRM_meta_on_node", w.node),
                  ("CRM_meta_on_node_uuid", node_ids.get(w.node, w.node))]
    if w.interval_ms:
        attrs.append(("CRM_meta_interval", str(w.interval_ms)))
    if w.no_wait:
        attrs.append(("CRM_meta_op_no_wait", "true"))
    if w.rsc is None:
        return attrs
    # every resource action has a timeout, pseudo ones (a group's or clone's own, a stop
    # implied by fencing) included: the operation's, else the default
    task = _cancelled_task(w) if w.task == "cancel" else w.task
    op = find_op_config(rsc, task, w.interval_ms) if rsc is not None else None
    timed = op or (_shortest_monitor(rsc) if task == "monitor" and not w.interval_ms else None)
    attrs.append(("CRM_meta_timeout", str(timed.timeout_ms if timed is not None else 20000)))
    if rsc is None or w.pseudo:
        return attrs
    if w.task == "cancel":
        # pcmk__new_cancel_action names the cancelled task; pcmk__schedule_cancel (a
        # recorded operation no longer wanted) its call-id too
        attrs.append(("CRM_meta_operation", task))
        if w.call_id is not None:
            attrs.append(("CRM_meta_call_id", w.call_id))
    attrs += _op_meta(w, op)
    attrs += [(k, v) for k, v in rsc.params.items() if not k.startswith("CRM_meta")]
    return attrs


def _op_meta(w: Work, op: OpConfig | None) -> list[tuple[str, str]]:
    """What the action's configured operation adds: its name and role, and the result a
    monitor expects."""
    attrs: list[tuple[str, str]] = []
    if op is not None and op.role is not None and w.interval_ms:
        attrs.append(("CRM_meta_role", op.role.text))
    if w.task == "monitor" and w.interval_ms == 0:
        attrs.append(("CRM_meta_op_target_rc", "7"))
    elif op is not None:
        attrs.append(("CRM_meta_name", op.name))
        if w.task == "monitor" and op.role == Role.PROMOTED:
            # a Promoted-role monitor expects CRM_EX_PROMOTED (recurring_op_for_active)
            attrs.append(("CRM_meta_op_target_rc", "8"))
        elif w.task == "monitor" and op.role == Role.STOPPED:
            # a Stopped-role one expects CRM_EX_NOT_RUNNING (recurring_op_for_inactive)
            attrs.append(("CRM_meta_op_target_rc", "7"))
    return attrs


def _shortest_monitor(rsc: RscConfig | None) -> OpConfig | None:
    """A probe without a configuration of its own times out as the enabled recurring
    monitor of the shortest interval does (Pacemaker 2.1.5's find_min_interval_mon)."""
    monitors = [op for op in (rsc.ops if rsc is not None else ())
                if op.name == "monitor" and op.interval_ms > 0 and op.enabled]
    return min(monitors, key=lambda op: op.interval_ms, default=None)


def _cancelled_task(w: Work) -> str:
    """The task a cancel stops: its key is the cancelled operation's (`rsc_monitor_10000`)."""
    head = w.key[: -len(f"_{w.interval_ms}")]
    return head[len(w.rsc) + 1:] if w.rsc and head.startswith(w.rsc + "_") else "monitor"


def graph_edges(actions: tuple[Action, ...], links: list[Link]) -> tuple[tuple[int, int], ...]:
    """The (first id, then id) orderings that the transition graph keeps."""
    in_graph = {action.id for action in actions if action.in_graph}
    edges: dict[tuple[int, int], None] = {}
    by_id = {action.id: action for action in actions}
    pair_flags = _pair_flags(links)
    for link in links:
        if not _graph_link(link):
            continue
        first, then = link.first.id, link.then.id
        if first in in_graph and then in in_graph \
                and not _other_node(link, by_id[first], by_id[then]) \
                and not _migrating_first(link, pair_flags[(first, then)]):
            edges[(first, then)] = None
    for link in links:
        if "load" in link.flags and link.then.task == "migrate_to" \
                and (link.first.id, link.then.id) in edges \
                and _reaches(edges, link.then.id, link.first.id):
            # A load_stopped -> migrate_to ordering that closes a loop (two resources
            # migrating towards each other's nodes) is dropped (ordering_is_invalid).
            del edges[(link.first.id, link.then.id)]
    return tuple(edges)


def _pair_flags(links: list[Link]) -> dict[tuple[int, int], frozenset[str]]:
    """The flags of all graph orderings between each pair of actions together: Pacemaker
    merges an action's duplicate inputs before it judges them
    (pcmk__deduplicate_action_inputs)."""
    merged: dict[tuple[int, int], frozenset[str]] = {}
    for link in links:
        if _graph_link(link):
            pair = (link.first.id, link.then.id)
            merged[pair] = merged.get(pair, frozenset()) | link.flags
    return merged


def _migrating_first(link: Link, merged: frozenset[str]) -> bool:
    """An ordering the graph drops because its 'first' is part of a live migration
    (should_add_input_to_graph): one that applies only to an unmigratable first, and a
    merely optional one after a migrating resource's stop (the stop then waits for
    migrate_from, not for what the ordering put before it)."""
    if not link.first.migrating:
        return False
    if FIRST_NON_MIGRATABLE in link.flags:
        return True
    return link.first.task == "stop" and merged - {"user"} == {OPTIONAL}


def _other_node(link: Link, first: Action, then: Action) -> bool:
    """An anti-colocation ordering between actions of two different nodes: the graph drops
    it (should_add_input_to_graph)."""
    return ANTI_COLOCATION in link.flags and first.node is not None \
        and then.node is not None and first.node != then.node


def _graph_link(link: Link) -> bool:
    """An ordering of Pacemaker's, not a link that only carries flags to a collective."""
    return "nograph" not in link.flags and not (
        "member_flags" in link.flags
        and link.then.task in ("start", "stop", "promote", "demote"))


# Link flags that can change an action (ordering_can_change_actions): any but a plain
# optional ordering or the "printed" variants; the others here only describe our links.
_CHANGING = frozenset({IMPLIES_THEN, "implies_first", RUNNABLE_LEFT, RESTART, ASYMMETRICAL,
                       PROMOTED_IMPLIES_FIRST, "serialize", "load", ANTI_COLOCATION})


def held_inputs(actions: tuple[Action, ...], links: list[Link],
                optional: Sequence[bool] | None = None,
                printed: frozenset[int] = frozenset()) -> tuple[tuple[int, int], ...]:
    """The (first id, then id) inputs of graph actions that are themselves left out of the
    graph yet kept as inputs (should_add_input_to_graph), so 'then' can never fire.

    `optional`: the settled flags (an unmanaged resource's actions are required there,
    only left out of the graph); `printed`: the ids of actions Pacemaker prints always
    (pe_action_print_always), which it keeps as inputs even while optional, such as the
    start standing for an unmanaged resource's pending one.
    Pacemaker keeps an input that is required, unless it is unrunnable through an ordering
    that cannot change actions or needs only one of several firsts (one-or-more), or it
    is the stop of a failed unmanaged resource before a clone's action; the simulator then
    ends the transition with "Transition failed: terminated".
    """
    by_id = {action.id: action for action in actions}
    held: dict[tuple[int, int], None] = {}
    for link in links:
        first, then = by_id[link.first.id], by_id[link.then.id]
        # an unmanaged resource's required action is out of the graph, not optional; an
        # optional one printed always (a pending start) stays an input all the same
        first_optional = (first.optional if optional is None else optional[first.id]) \
            and not first.print_always and first.id not in printed
        if not then.in_graph or first.in_graph or first_optional or not _graph_link(link):
            continue
        if not first.runnable and (not _CHANGING & link.flags or "any_runnable" in link.flags):
            continue
        if _other_node(link, first, then):
            continue
        held[(first.id, then.id)] = None
    return tuple(held)


def _reaches(edges: dict[tuple[int, int], None], start: int, goal: int) -> bool:
    after: dict[int, list[int]] = {}
    for first, then in edges:
        after.setdefault(first, []).append(then)
    seen, todo = {start}, [start]
    while todo:
        for nxt in after.get(todo.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False
