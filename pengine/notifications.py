"""Clone notifications: the `notify` actions of a notifying clone's instances.

Pacemaker creates them while expanding a clone into the graph, after the orderings have
settled every action's flags (clone_expand -> pe_notif.c), so this stage runs after flag
propagation and changes no other action's flags: it only makes a phase's notification
pseudo actions (created with the clone's, collective_actions.notification_phase) required
when some instance performs that phase's action, and adds the instances' notify actions,
their orderings and the notify_* meta attributes every agent of the clone receives.

Invariants: new actions get ids after every created action, in Pacemaker's creation
order (phase by phase: start, stop, promote, demote; instance by instance; stop/demote
notifications before start/promote ones); a notify action is optional exactly when its
clone pseudo action is; nothing is created for an offline node or an unrunnable phase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from messaging.types import Role
from pengine.actions import OPTIONAL, Work
from pengine.glib_order import node_name_key
from pengine.order_links import Link
from pengine.placement import Placement
from pengine.scores import INF
from pengine.sealed_actions import FlagsTable, SealedActions
from pengine.state import Unpacked
from pengine.xmlin import is_true

_PHASES = (("start", "running"), ("stop", "stopped"), ("promote", "promoted"),
           ("demote", "demoted"))
_ACTIVITY = ("start", "stop", "promote", "demote")
Pairs = tuple[tuple[str, str], ...]


class Expansion(NamedTuple):
    """Every action (created ones first), their flags, links and extra meta attributes."""

    works: tuple[Work, ...]
    flags: FlagsTable
    links: list[Link]
    meta: Mapping[int, Pairs]  # action id -> CRM_meta_notify_* attributes it carries
    # action id -> synapse priority: post-notifications are INF, so that they still run
    # after the controller aborts the transition (pe_notif.c sets their priority)
    priority: Mapping[int, int]


@dataclass
class _Entry:
    rsc: str
    node: str | None


@dataclass
class _Data:
    """One clone's notification data (collect_resource_data): states and activity."""

    state: dict[str, list[_Entry]] = field(default_factory=dict)
    activity: dict[str, list[_Entry]] = field(default_factory=dict)


@dataclass
class _Expander:
    u: Unpacked
    placement: Placement
    actions: SealedActions
    flags: FlagsTable
    optional: list[bool] = field(default_factory=list)
    runnable: list[bool] = field(default_factory=list)
    reason: list[str | None] = field(default_factory=list)
    works: list[Work] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    meta: dict[int, dict[str, str]] = field(default_factory=dict)
    priority: dict[int, int] = field(default_factory=dict)
    created: dict[tuple[str, str], Work] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.optional = list(self.flags.optional)
        self.runnable = list(self.flags.runnable)
        self.reason = list(self.flags.reason)
        self.works = list(self.actions.actions)

    def required(self, w: Work) -> bool:
        return not self.optional[w.id] and (self.runnable[w.id] or self._unclean_stop(w))

    def _unclean_stop(self, w: Work) -> bool:
        node = self.u.node(w.node or "")
        return w.task == "stop" and node is not None and node.unclean

    def collect(self, cid: str) -> _Data:
        data = _Data({k: [] for k in ("inactive", "active", "unpromoted", "promoted")},
                     {k: [] for k in _ACTIVITY})
        by_role = {Role.STOPPED: ("inactive",), Role.STARTED: ("active",),
                   Role.UNPROMOTED: ("unpromoted", "active"),
                   Role.PROMOTED: ("promoted", "active")}
        for p in self.u.instance_primitives(cid):
            st = self.u.states[p]
            node = st.running_on[0] if st.running_on else None  # the first is enough
            for kind in by_role.get(st.role, ()):
                data.state[kind].append(_Entry(p, node))
            for task in _ACTIVITY:
                for w in self.actions.of(p, task):
                    if w.node is not None and self.required(w):
                        data.activity[task].append(_Entry(p, w.node))
        return data

    def keys(self, cid: str, data: _Data) -> dict[str, str]:
        """The notify_* variables (add_notif_keys); lists sorted by instance, then node id."""
        out: dict[str, str] = {}
        for kind in _ACTIVITY:
            out.update(self._pair(kind, data.activity[kind]))
        out.update(self._pair("active", data.state["active"]))
        for kind, old in (("unpromoted", "slave"), ("promoted", "master")):
            pair = self._pair(kind, data.state[kind])
            out.update(pair)
            out.update((k.replace(kind, old), v) for k, v in pair)
        out["notify_inactive_resource"] = self._pair("inactive", data.state["inactive"],
                                                     with_nodes=False)[0][1]
        # The clone's allowed nodes: each instance's table starts as a copy of them (not
        # an orphan instance's, banned from every node); crm_simulate sorts them with
        # pe__cmp_node_name (node2 before node10)
        allowed = sorted({n for p in self.u.instance_primitives(cid)
                          if not self.u.rsc(p).orphan
                          for n in self.placement.tables.get(p, {})}, key=node_name_key)
        out["notify_available_uname"] = " ".join(allowed) or " "
        names = " ".join(n.name for n in self.u.nodes) or " "
        if self.u.rsc(cid).meta.get("container-attribute-target") == "host":
            out["notify_all_hosts"] = names
        out["notify_all_uname"] = names
        return {f"CRM_meta_{k}": v for k, v in out.items()}

    def _pair(self, kind: str, entries: list[_Entry],
              with_nodes: bool = True) -> list[tuple[str, str]]:
        ids = {n.name: n.id for n in self.u.nodes}
        rscs: list[str] = []
        unames: list[str] = []
        # compare_notify_entries: by instance, then node id, an entry without a node last
        for e in sorted(entries, key=lambda e: (e.rsc, e.node is None, ids.get(e.node or ""))):
            if (with_nodes and e.node is None) or (rscs and rscs[-1] == e.rsc):
                continue  # one entry per instance; a listed node is required
            rscs.append(e.rsc)
            if e.node is not None:
                unames.append(e.node)
        pairs = [(f"notify_{kind}_resource", " ".join(rscs) or " ")]
        if with_nodes:
            pairs.append((f"notify_{kind}_uname", " ".join(unames) or " "))
        return pairs

    def phase(self, cid: str, op: str, done: str, data: _Data, keys: dict[str, str]) -> None:
        """One phase: make its pseudo actions required when some instance performs `op`,
        then notify each instance (create_notify_actions)."""
        find = self.actions.find
        pre, pre_done = find(f"{cid}_pre_notify_{op}_0", None), \
            find(f"{cid}_confirmed-pre_notify_{op}_0", None)
        post, post_done = find(f"{cid}_post_notify_{done}_0", None), \
            find(f"{cid}_confirmed-post_notify_{done}_0", None)
        if pre is None or pre_done is None or post is None or post_done is None:
            return
        # A clone of groups also pre-notifies a phase that a group instance's own pseudo
        # action requires when no member's action can run (crm_simulate: a group instance
        # stopping for no quorum, or after an unrunnable first, still gets
        # c_pre_notify_start_0; a clone of primitives in the same spot does not).
        # For the stop phase only an active instance's counts: a required g:N_stop_0 of
        # instances active nowhere pre-notifies nothing (seed 6115: the clone stopped
        # everywhere, fencing elsewhere); an active one whose members cannot stop does
        # (seed 7264: its unmanaged last member blocks the others' stops).
        group_requires = any(
            not self.optional[w.id] for inst in self.u.rsc(cid).children
            if self.u.rsc(inst).kind == "group"
            and (op == "start" or self._active(inst)) for w in self.actions.of(inst, op))
        for w, kind, key_type, key_op in ((pre, "pre", "pre", op),
                                          (pre_done, "pre", "confirmed-pre", op),
                                          (post, "post", "post", done),
                                          (post_done, "post", "confirmed-post", done)):
            if data.activity[op] or (kind == "pre" and group_requires):
                self.optional[w.id] = False
            if kind == "post":
                self.priority[w.id] = INF
            self.meta[w.id] = {"CRM_meta_notify_type": kind, "CRM_meta_notify_operation": op,
                               "CRM_meta_notify_key_type": key_type,
                               "CRM_meta_notify_key_operation": key_op}
        for p in self.u.instance_primitives(cid):
            self._add_meta(self._instance_actions(p), keys)
            if op in ("start", "promote", "demote") and not data.activity[op]:
                continue  # no instance starts (promotes, demotes): nothing to tell
            ends = ((pre, pre_done), (post, post_done))
            if op in ("stop", "demote"):
                self._current(p, op, ends, keys)
            else:
                self._next(p, op, ends, keys)

    def _active(self, inst: str) -> bool:
        return any(self.u.states[m].running_on for m in self.u.primitives_under(inst))

    def after_fencing(self, cid: str, p: str, stop: Work) -> None:
        """A stop implied by fencing gets its own post-notification after the fencing
        (pe__order_notifs_after_fencing): pseudo actions named after the instance and the
        fencing, telling every other instance only that `p` stopped on the fenced node.
        Pacemaker does this before expanding the clone: these values win over the phase's
        (meta attributes are never overwritten)."""
        fence = next((w for w in self.actions.by_rsc_task.get((None, "stonith"), ())
                      if w.node == stop.node), None)
        if fence is None:
            return
        required = not self.optional[fence.id]
        # (the graph keys them by the instance's history name when it has one, graph.py)
        post = self._pseudo(f"{p}_post_notify_stonith_0", "notify", p, required,
                            self.runnable[fence.id])
        done = self._pseudo(f"{p}_confirmed-post_notify_stonith_0", "notified", p,
                            required, self.runnable[fence.id])
        for w, key_type in ((post, "post"), (done, "confirmed-post")):
            self.priority[w.id] = INF
            self.meta[w.id] = {"CRM_meta_notify_type": "post",
                               "CRM_meta_notify_operation": "stop",
                               "CRM_meta_notify_key_type": key_type,
                               "CRM_meta_notify_key_operation": "stonith"}
        self.links += [Link(fence, post, frozenset({OPTIONAL})),
                       Link(post, done, frozenset({OPTIONAL}))]
        keys = {"CRM_meta_notify_stop_resource": p,
                "CRM_meta_notify_stop_uname": stop.node or ""}
        for q in self.u.instance_primitives(cid):
            self._add_meta(self._instance_actions(q), keys)
            self._current(q, "stop", ((post, done), (post, done)), keys, pre=False)

    def _pseudo(self, key: str, task: str, rsc: str, required: bool, runnable: bool) -> Work:
        act = Work(len(self.works) + 1, key, task, rsc, None, pseudo=True,
                   optional=not required)
        self.works.append(act)
        self.optional.append(not required)
        self.runnable.append(runnable)
        self.reason.append(None)
        return act

    def _add_meta(self, works: list[Work], keys: dict[str, str]) -> None:
        for w in works:
            meta = self.meta.setdefault(w.id, {})
            meta.update({k: v for k, v in keys.items() if k not in meta})

    def _instance_actions(self, p: str) -> list[Work]:
        return [w for task in _ACTIVITY for w in self.actions.of(p, task)
                if w.node is not None and not self.optional[w.id]]

    def _current(self, p: str, op: str, ends: tuple[tuple[Work, Work], ...],
                 keys: dict[str, str], pre: bool = True) -> None:
        """Stop or demote: notify every node the instance runs on, except a node being
        fenced when its stop is implied by that fencing; post-notify it there only when it
        is not stopping (or it is the demote phase)."""
        st = self.u.states[p]
        if st.role == Role.STOPPED:
            return
        stops = self.actions.of(p, "stop")
        stop = stops[0] if stops else None
        for name in st.running_on:
            node = self.u.node(name)
            if stop is not None and (stop.pseudo or stop.implied_by_fencing) \
                    and node is not None and node.unclean:
                continue
            if pre:
                self._notify(p, name, ends[0], keys)
            # after fencing, the stop is as created: Pacemaker orders notifications after
            # fencing before the orderings make a restart's stop required
            stopping = stop is not None and not (self.optional[stop.id] if pre else stop.optional)
            if op == "demote" or not stopping:
                self._notify(p, name, ends[1], keys, post=True)

    def _next(self, p: str, op: str, ends: tuple[tuple[Work, Work], ...],
              keys: dict[str, str]) -> None:
        """Start or promote: notify the instance where it is going (pre-notify not the one
        being started: its agent is not running yet)."""
        next_role = self.placement.next_role.get(p, Role.STOPPED)
        target = self.placement.assigned.get(p)
        if next_role == Role.STOPPED or target is None:
            return
        starts = self.actions.of(p, "start")
        if op != "start" or not starts or self.optional[starts[0].id]:
            self._notify(p, target, ends[0], keys)
        self._notify(p, target, ends[1], keys, post=True)

    def _notify(self, p: str, node_name: str, ends: tuple[Work, Work], keys: dict[str, str],
                post: bool = False) -> None:
        pseudo, confirmed = ends
        node = self.u.node(node_name)
        # a pending node runs no resource action, a notification neither (crm_simulate:
        # no pre-notify on a pending node where an instance runs)
        if node is None or not node.online or node.pending or not self.runnable[pseudo.id]:
            return
        meta = self.meta[pseudo.id]
        kind, operation = meta["CRM_meta_notify_type"], meta["CRM_meta_notify_operation"]
        key = f"{p}_{kind}_notify_{operation}_0"
        optional = self.optional[pseudo.id] or not self.placement.managed.get(p, True)
        act = self.created.get((key, node_name))
        if act is None:
            act = Work(len(self.works) + 1, key, "notify", p, node_name, optional=optional)
            self.works.append(act)
            self.created[(key, node_name)] = act
            self.optional.append(optional)
            self.runnable.append(True)
            self.reason.append(None)
            self.meta[act.id] = {"CRM_meta_notify_type": kind,
                                 "CRM_meta_notify_operation": operation,
                                 "CRM_meta_notify_key_type": kind,
                                 "CRM_meta_notify_key_operation":
                                     meta["CRM_meta_notify_key_operation"],
                                 **keys}
        else:  # made once already (after fencing): its values stay, missing ones are added
            self.optional[act.id] = self.optional[act.id] and optional
            self._add_meta([act], {"CRM_meta_notify_type": kind,
                                   "CRM_meta_notify_operation": operation, **keys})
        if post:
            self.priority[act.id] = INF
        self.links.append(Link(pseudo, act, frozenset({OPTIONAL})))
        self.links.append(Link(act, confirmed, frozenset({OPTIONAL})))
        if post:  # recurring monitors wait for every post-notification
            for w in self.actions.by_rsc_task.get((p, "monitor"), ()):
                if w.interval_ms:
                    self.links.append(Link(confirmed, w, frozenset({OPTIONAL})))


def expand_notifications(u: Unpacked, placement: Placement, actions: SealedActions,
                         links: Sequence[Link], flags: FlagsTable) -> Expansion:
    """The notify actions of every notifying clone (clone_expand), in resource order."""
    ex = _Expander(u, placement, actions, flags)
    clones = [r.id for r in u.resources if r.kind == "clone" and is_true(r.meta.get("notify"))]
    for cid in clones:
        for p in u.instance_primitives(cid):
            for stop in actions.of(p, "stop"):
                if stop.implied_by_fencing:
                    ex.after_fencing(cid, p, stop)
    for rsc in (u.rsc(cid) for cid in clones):
        data = ex.collect(rsc.id)
        keys = ex.keys(rsc.id, data)
        for op, done in _PHASES:
            ex.phase(rsc.id, op, done, data, keys)
    meta = {aid: tuple(sorted(m.items())) for aid, m in ex.meta.items()}
    table = FlagsTable(ex.optional, ex.runnable, ex.reason)
    return Expansion(tuple(ex.works), table, [*links, *ex.links], meta, ex.priority)
