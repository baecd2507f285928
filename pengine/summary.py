"""The Transition Summary: which lines, in what order, and how each is worded.

Invariants: lines follow Pacemaker's order (fencing in reverse creation order, then
resources in resource order, group members in order); verbs and details follow
scheduler.md §5.3-5.5; unmanaged resources print nothing.
"""

from __future__ import annotations

from messaging.types import Role
from pengine.model import Action
from pengine.placement import Placement
from pengine.state import Unpacked
from pengine.unpack_resources import template_members
from pengine.xmlin import is_true


class Item:
    """One line of the Transition Summary: verb, resource, details and trailing reason.

    A plain slotted class, not a dataclass: generating a dataclass's methods costs
    crm_simulate's start-up about half a millisecond each, and an Item is only read.
    """

    __slots__ = ("details", "rsc", "tail", "verb")

    def __init__(self, verb: str, rsc: str, details: str, tail: str) -> None:
        self.verb = verb
        self.rsc = rsc
        self.details = details
        self.tail = tail


def _tail(source: Action | None, action: Action | None) -> str:
    reason = source.reason if source is not None else None
    blocked = action is not None and not action.runnable
    if reason and blocked:
        return f"due to {reason} (blocked)"
    if reason:
        return f"due to {reason}"
    return "blocked" if blocked else ""


def _details(role: Role, next_role: Role, origin: str | None, dest: str | None) -> str:
    need_role = role > Role.STARTED or next_role == Role.PROMOTED
    if origin is None:
        return f"{role.text} -> {next_role.text} {dest}" if need_role else f"{dest}"
    if dest is None:
        return f"{role.text} {origin}" if need_role else f"{origin}"
    if origin == dest and role == next_role:
        return f"{role.text} {origin}" if need_role else origin
    if role == next_role:
        return f"{origin} -> {dest} {role.text}" if need_role else f"{origin} -> {dest}"
    if origin == dest:
        return f"{role.text} -> {next_role.text} {origin}"
    return f"{role.text} {origin} -> {next_role.text} {dest}"


class _Summariser:
    def __init__(self, u: Unpacked, p: Placement, actions: tuple[Action, ...],
                 reloads: set[str]) -> None:
        self.reloads = reloads
        self.u = u
        self.p = p
        self.actions = actions
        self.by_rsc_task: dict[tuple[str | None, str], list[Action]] = {}
        for act in actions:
            self.by_rsc_task.setdefault((act.resource, act.task), []).append(act)

    def _find(self, rid: str, task: str, node: str | None) -> Action | None:
        for a in self.by_rsc_task.get((rid, task), ()):
            if a.interval_ms == 0 and (node is None or a.node == node):
                return a
        return None

    def items(self, rid: str) -> list[Item]:
        st = self.u.states[rid]
        if not self.p.managed.get(rid, True):
            return []
        current = self.u.current_node(rid)
        chosen = self.p.assigned.get(rid)
        if current is None and chosen is None:
            return []
        role = st.role if st.running_on else Role.STOPPED
        if st.running_on and role == Role.STOPPED:
            role = Role.STARTED
        next_role = self.p.next_role.get(rid, Role.STOPPED)
        start = self._find(rid, "start", chosen) if chosen else self._find(rid, "start", None)
        if start is not None and start.runnable:
            # multiple-active=stop_unexpected skips the stop on the node it stays on (which
            # may be the current one): then the stop that names the reason is another's
            # (stop-unexpected: "Recover dummy (node2) due to being multiply active")
            stop = self._find(rid, "stop", current) or self._find(rid, "stop", None)
        else:
            stop = self._find(rid, "stop", None)
        # A required stop (or demote) cancels the reload (pe_order_then_cancels_first): the
        # resource restarts instead (reload-becomes-restart).
        if role == next_role and rid in self.reloads and current == chosen \
                and (stop is None or stop.optional):
            return [Item("Reload", rid, _details(role, role, current, chosen), "")]
        if role == next_role:
            return self._same_role(rid, st.failed, role, current, chosen, start, stop)
        return self._role_change(rid, st, role, next_role, current, chosen, start, stop)

    def _same_role(self, rid: str, failed: bool, role: Role, current: str | None,
                   chosen: str | None, start: Action | None, stop: Action | None) -> list[Item]:
        if current is not None and chosen is not None and current != chosen:
            migrate = self._find(rid, "migrate_from", chosen)
            migrate_to = self._find(rid, "migrate_to", current)
            partial = self.u.states[rid].partial_migration is not None
            if migrate is not None and migrate.runnable and (partial or (
                    migrate_to is not None and migrate_to.runnable)):
                return [Item("Migrate", rid, _details(role, role, current, chosen), "")]
        if start is None or start.optional:
            demote = self._find(rid, "demote", current)
            promote = self._find(rid, "promote", chosen)
            if demote is not None and promote is not None and not demote.optional \
                    and not promote.optional:
                return [Item("Re-promote", rid, _details(role, role, current, chosen),
                             _tail(promote, promote))]
            return []
        if not start.runnable:
            source = stop if stop is not None and stop.reason else start
            return [Item("Stop", rid, _details(role, role, current, None),
                         _tail(source, stop))]
        if current is not None and chosen is not None and current != chosen:
            verb = "Recover" if failed else "Move"
            return [Item(verb, rid, _details(role, role, current, chosen), _tail(stop, stop))]
        if failed:
            return [Item("Recover", rid, _details(role, role, current, None), _tail(stop, stop))]
        return [Item("Restart", rid, _details(role, role, current, chosen), _tail(start, start))]

    def _role_change(self, rid: str, st: object, role: Role, next_role: Role,
                     current: str | None, chosen: str | None, start: Action | None,
                     stop: Action | None) -> list[Item]:
        from pengine.state import RscState
        assert isinstance(st, RscState)
        if stop is not None and (next_role == Role.STOPPED or (
                start is not None and not start.runnable)):
            out = []
            for node in st.running_on:
                node_stop = self._find(rid, "stop", node)
                source = node_stop if node_stop is not None and node_stop.reason else start
                out.append(Item("Stop", rid, _details(role, next_role, node, None),
                                _tail(source, node_stop)))
            return out
        if stop is not None and st.failed and st.stop_needed:
            return [Item("Recover", rid, _details(role, next_role, current, chosen),
                         _tail(start, stop))]
        if current is not None and chosen is not None and current != chosen:
            return [Item("Move", rid, _details(role, next_role, current, chosen),
                         _tail(stop, stop))]
        if stop is not None and not stop.optional:
            source = start if start is not None else self._find(rid, "start", None)
            return [Item("Restart", rid, _details(role, next_role, current, chosen),
                         _tail(source, start))]
        if role == Role.PROMOTED:
            demote = self._find(rid, "demote", current)
            return [Item("Demote", rid, _details(role, next_role, current, current),
                         _tail(demote, demote))]
        if next_role == Role.PROMOTED:
            promote = self._find(rid, "promote", chosen)
            return [Item("Promote", rid, _details(role, next_role, current, chosen),
                         _tail(promote, promote))]
        if role == Role.STOPPED and next_role > Role.STOPPED:
            return [Item("Start", rid, _details(role, next_role, None, chosen),
                         _tail(start, start))]
        return []


def summarise(u: Unpacked, p: Placement, actions: tuple[Action, ...],
              reloads: set[str]) -> tuple[str, ...]:
    """The Transition Summary lines (without the header)."""
    lines: list[str] = []
    for act in reversed(actions):
        if act.task == "stonith" and not act.optional and act.reason:
            action = act.key.rsplit("-", 1)[-1]
            lines.append(f"  * Fence ({action}) {act.node} '{act.reason}'")
    summariser = _Summariser(u, p, actions, reloads)
    items: list[Item] = []
    rank = {rid: i for i, rid in enumerate(p.order)}
    top: dict[str, str] = {}
    for rsc in u.resources:
        top[rsc.id] = top[rsc.parent] if rsc.parent is not None else rsc.id
    orphan_slot = _orphan_instances(u)
    for rid, (clone, _, _) in orphan_slot.items():
        top[rid] = clone
    within = _instance_positions(u, p)
    ordered = sorted(u.resources, key=lambda r: (rank.get(top[r.id], len(rank)),
                                                 within.get(r.id, len(within) + 1
                                                            if r.id in orphan_slot else 0),
                                                 orphan_slot.get(r.id, ("", 0, 0))[1:]))
    for rsc in ordered:
        if rsc.kind == "primitive":
            items.extend(summariser.items(rsc.id))
    rw = dw = 5
    for item in items:
        if len(item.rsc) > rw:
            rw = len(item.rsc) + 2
        if len(item.details) > dw:
            dw = len(item.details)
    for item in items:
        text = f"  * {item.verb:<8}   {item.rsc:<{rw}}   ( {item.details:>{dw}} )"
        if item.tail:
            text += f"  {item.tail}"
        lines.append(text)
    return tuple(lines)


def _instance_positions(u: Unpacked, p: Placement) -> dict[str, int]:
    """Each clone instance's (and its members') place in its clone's final children list.

    The probe stage re-sorts every clone's children by instance number as soon as it
    probes one node (startup probes on, a node online and clean), and ordered=true clones
    are always in number order; otherwise the list keeps the order assignment and
    promotion left it in. Number order is the resources' own order, so only the
    other case needs positions.
    """
    probing = u.options.startup_probes and any(
        n.online and not n.unclean and not n.maintenance for n in u.nodes)
    out: dict[str, int] = {}
    if probing:
        return out
    members: dict[str, list[str]] = {}
    for rsc in u.resources:
        if rsc.parent is not None:
            members.setdefault(rsc.parent, []).append(rsc.id)
    for clone in u.resources:
        if clone.kind != "clone" or is_true(clone.meta.get("ordered")):
            continue
        for position, inst in enumerate(p.instance_order.get(clone.id, ())):
            for rid in (inst, *members.get(inst, ())):
                out[rid] = position
    return out


def _orphan_instances(u: Unpacked) -> dict[str, tuple[str, int, int]]:
    """Orphaned anonymous-clone instance primitives -> (clone, instance number, member).

    Pacemaker makes them extra instances of their clone, listed after the configured ones.
    """
    members: dict[str, tuple[str, int]] = {}
    for clone in u.resources:
        if clone.kind != "clone" or clone.unique:
            continue
        for index, prim in enumerate(template_members(clone)):
            members[prim] = (clone.id, index)
    out: dict[str, tuple[str, int, int]] = {}
    for rsc in u.resources:
        base, _, number = rsc.id.partition(":")
        if rsc.orphan and base in members and number.isdigit():
            clone_id, index = members[base]
            out[rsc.id] = (clone_id, int(number), index)
    return out
