"""The action stage: per-primitive actions, monitors (group pseudo actions: group_actions).

Invariants: an action is identified by (key, node); asking again for an existing action
returns it (and can only make it required). Runnability at creation follows
scheduler.md §3.2. Orderings are recorded here by resource/task and resolved later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messaging.types import Role
from pengine.digests import entries_since_last_start
from pengine.placement import Placement
from pengine.promotion import effective_quorum_policy
from pengine.state import Unpacked
from pengine.xmlin import Element, is_true

IMPLIES_THEN = "implies_then"
RUNNABLE_LEFT = "runnable_left"
RESTART = "restart"
# pe_order_promoted_implies_first: a required stop of a promoted resource requires its demote
# (and nothing about runnability: an unrunnable demote does not block the stop, seed 359).
PROMOTED_IMPLIES_FIRST = "promoted_implies_first"
ASYMMETRICAL = "asymmetrical"
OPTIONAL = "optional"
# An ordering made together with the actions, before any constraint's (order_actions)
WITH_ACTIONS = "with_actions"
# pcmk__order_vs_unfence orders unfencing before a probe or start at once (order_actions),
# before any ordering applied later: it is the oldest ordering before that action.
UNFENCE = "unfence"


@dataclass(slots=True)
class Work:
    """An action as the creating stages build it; sealing freezes it (sealed_actions), and
    flag propagation works on a writable copy."""

    id: int
    key: str
    task: str
    rsc: str | None
    node: str | None
    interval_ms: int = 0
    pseudo: bool = False
    optional: bool = True
    runnable: bool = True
    reason: str | None = None
    implied_by_fencing: bool = False
    print_pending: bool = False
    # pe_action_print_always: in the graph even while optional (should_add_action_to_graph),
    # unless its resource is unmanaged (which keeps every non-recurring action out of it)
    print_always: bool = False
    no_wait: bool = False  # the controller fires it and does not wait for its result
    migrating: bool = False  # a start/stop that a planned live migration stands in for
    dangling: bool = False  # the stop on a finished migration's source (never restarts it)
    rescheduled: bool = False  # a recurring op whose definition changed: sent again
    call_id: str | None = None  # a cancel of a recorded operation: that entry's call-id
    # made for an ordering's missing 'first' (rsc_order_first): not among its resource's
    # actions, which a group's action reads (pcmk__group_action_flags)
    unsaved: bool = False


@dataclass
class OrderSpec:
    """then waits for first; actions given by resource + task (+ node) or directly."""

    first_rsc: str | None
    first_task: str
    then_rsc: str | None
    then_task: str
    flags: frozenset[str]
    first_action: Work | None = None
    then_action: Work | None = None
    first_node: str | None = None
    then_node: str | None = None


@dataclass
class ActionSet:
    """All actions and orderings created so far (mutable only inside this stage)."""

    actions: list[Work] = field(default_factory=list)
    orders: list[OrderSpec] = field(default_factory=list)
    index: dict[tuple[str, str | None], Work] = field(default_factory=dict)
    by_rsc_task: dict[tuple[str | None, str], list[Work]] = field(default_factory=dict)
    min_runnable: dict[int, int] = field(default_factory=dict)
    # per order spec (by position), how many actions existed once resolve had looked its
    # actions up: Pacemaker applies orderings in creation order, and an action created
    # later (a missing "first" of a later ordering) is not in an earlier one
    resolved_sizes: list[int] = field(default_factory=list)

    def find(self, key: str, node: str | None) -> Work | None:
        return self.index.get((key, node))

    def require_any(self, key: str, task: str, rsc: str, interval_ms: int) -> Work:
        """custom_action on no node: the first action with that key on any node, made
        required, else a new required one on no node (the next one created with that key
        on a node is that one)."""
        for (found_key, _), existing in self.index.items():
            if found_key == key:
                existing.optional = False
                return existing
        action, _ = self.new(key, task, rsc, None, False, interval_ms=interval_ms)
        return action

    def new(self, key: str, task: str, rsc: str | None, node: str | None,
            optional: bool, **kw: object) -> tuple[Work, bool]:
        existing = self.index.get((key, node))
        if existing is not None:
            if existing.task != task:
                # pcmk__new_cancel_action: the cancel is the action the unpacker created
                # for the running monitor, with its task changed
                self.by_rsc_task[(existing.rsc, existing.task)].remove(existing)
                existing.task = task
                self.by_rsc_task.setdefault((rsc, task), []).append(existing)
            if not optional:
                existing.optional = False
            return existing, False
        floating = self.index.get((key, None)) if node is not None else None
        if floating is not None and floating.rsc is not None and not floating.pseudo:
            del self.index[(key, None)]
            floating.node = node
            self.index[(key, node)] = floating
            if not optional:
                floating.optional = False
            return floating, True
        # Pacemaker numbers actions from 1 (the working set starts its counter there).
        action = Work(len(self.actions) + 1, key, task, rsc, node, optional=optional)
        for name, value in kw.items():
            setattr(action, name, value)
        self.actions.append(action)
        self.index[(key, node)] = action
        self.by_rsc_task.setdefault((rsc, task), []).append(action)
        return action, True

    def of(self, rsc: str, task: str, node: str | None = None) -> list[Work]:
        """Non-recurring actions of a resource for a task (on a node), creation order."""
        return [a for a in self.by_rsc_task.get((rsc, task), ())
                if a.interval_ms == 0 and (node is None or a.node == node)]

    def order(self, first_rsc: str | None, first_task: str, then_rsc: str | None,
              then_task: str, *flags: str, **kw: object) -> None:
        spec = OrderSpec(first_rsc, first_task, then_rsc, then_task, frozenset(flags))
        for name, value in kw.items():
            setattr(spec, name, value)
        self.orders.append(spec)


def _next_role(frm: Role, to: Role) -> Role:
    """One step on the way from role `frm` to role `to` (Pacemaker's role matrix)."""
    level = {Role.STOPPED: 0, Role.STARTED: 1, Role.UNPROMOTED: 1, Role.PROMOTED: 2}
    if level[to] > level[frm]:
        if frm == Role.STOPPED:
            return Role.UNPROMOTED if to == Role.PROMOTED else to
        return Role.PROMOTED
    if level[to] < level[frm] or (frm, to) == (Role.UNPROMOTED, Role.STARTED):
        # rsc_state_matrix[Unpromoted][Started] is Stopped: a demoted instance of a clone
        # that is not promotable is stopped and started again (its start required from
        # the start, so an ordering names no reason for it: seed 359).
        return Role.UNPROMOTED if frm == Role.PROMOTED else Role.STOPPED
    return to


def op_key(rsc: str, task: str, interval_ms: int = 0) -> str:
    return f"{rsc}_{task}_{interval_ms}"


class PrimitiveActions:
    """Creates one primitive's actions (scheduler.md §3.1)."""

    def __init__(self, u: Unpacked, p: Placement, acts: ActionSet) -> None:
        self.u = u
        self.p = p
        self.acts = acts
        self.nodes = {n.name: n for n in u.nodes}
        # While the restart actions are scheduled (pe_rsc_restarting), the node where a
        # multiply active resource with multiple-active=stop_unexpected stays active
        self._expected: str | None = None

    def runnable_reason(self, rid: str, task: str, node: str | None,
                        moving_up: bool) -> tuple[bool, str | None]:
        if node is None:
            return False, None
        n = self.nodes.get(node)
        if n is None or not n.online or n.pending:
            return False, None
        if task in ("start", "promote") and self.u.requires.get(rid) != "nothing":
            policy = effective_quorum_policy(self.u, rid)
            if policy == "stop":
                return False, "no quorum"
            if policy == "freeze":
                st = self.u.states[rid]
                if not st.running_on or moving_up:
                    return False, "quorum freeze"
        return True, None

    def action(self, rid: str, task: str, node: str | None, optional: bool,
               moving_up: bool = False) -> Work:
        key = op_key(rid, task)
        floating = node is not None and self.acts.find(key, node) is None \
            and self.acts.find(key, None) is not None
        act, created = self.acts.new(key, task, rid, node, optional)
        runnable, reason = self.runnable_reason(rid, task, node, moving_up)
        if created and not (floating and self._frozen(rid, task)):
            # update_resource_action_runnable sets a nodeless action (a restart forced by
            # a definition change) runnable once it has a node, unless quorum is lost
            # under no-quorum-policy=freeze: then it neither clears nor sets the flag, and
            # the restart becomes a stop (seed 369)
            act.runnable = runnable
        if reason is not None:
            act.reason = reason
        elif runnable and (task not in ("start", "promote")
                           or self.u.requires.get(rid) == "nothing"):
            # update_resource_action_runnable: an action that requires nothing, on an
            # online node, has its reason cleared each time it is looked up (a restart
            # forced by a definition change of a requires=nothing resource prints none).
            act.reason = None
        if not self.p.managed.get(rid, True):
            act.optional = True
        return act

    def _frozen(self, rid: str, task: str) -> bool:
        return task in ("start", "promote") and self.u.requires.get(rid) != "nothing" \
            and effective_quorum_policy(self.u, rid) == "freeze"

    def stop(self, rid: str, optional: bool) -> None:
        st = self.u.states[rid]
        for node in st.running_on:
            if node == self._expected:
                continue  # stop_resource skips the expected node (is_expected_node)
            act = self.action(rid, "stop", node, optional)
            if self.p.assigned.get(rid) is None and rid not in self.p.inhibited:
                act.reason = "node availability"
            elif len(st.running_on) > 1 \
                    and self.u.rsc(rid).multiple_active == "stop_unexpected":
                act.reason = "being multiply active"
            if not self.p.managed.get(rid, True):
                act.runnable = False

    def start(self, rid: str, node: str | None, optional: bool) -> None:
        act = self.action(rid, "start", node, True)
        if node is not None and node == self._expected:
            act.pseudo = True  # start_resource: it stays active there
        if act.runnable and not optional and (self.p.managed.get(rid, True)
                                              or not self._start_looked_up_again(rid)):
            act.optional = False

    def _start_looked_up_again(self, rid: str) -> bool:
        """Does creating the recurring actions look the start up again? Each lookup of an
        unmanaged resource's action makes it optional again (custom_action), and
        pcmk__create_recurring_actions looks up the start of a resource assigned to a
        node, unless the resource is blocked or in maintenance, or that node is: there
        a required start stays required (and unmanaged, it stays out of the graph)."""
        st, rsc = self.u.states[rid], self.u.rsc(rid)
        node = self.nodes.get(self.p.assigned.get(rid) or "")
        return node is not None and not node.maintenance and not st.blocked \
            and not self.u.options.maintenance_mode \
            and not is_true(rsc.meta.get("maintenance"), False)

    def _step(self, rid: str, frm: Role, to: Role, chosen: str | None, optional: bool) -> None:
        if frm == Role.STOPPED:
            self.start(rid, chosen, optional)
        elif to == Role.STOPPED:
            self.stop(rid, optional)
        elif to == Role.PROMOTED:
            starts = self.acts.of(rid, "start", chosen)
            if any(not s.runnable for s in starts):
                # promote_resource creates no promote when a start there is unrunnable: the
                # summary's promote is then a bare unrunnable one ("blocked", no reason).
                act, _ = self.acts.new(op_key(rid, "promote"), "promote", rid, chosen, optional)
                act.runnable = False
            else:
                promote = self.action(rid, "promote", chosen, optional)
                promote.pseudo |= chosen is not None and chosen == self._expected
        elif frm == Role.PROMOTED:
            for node in self.u.states[rid].running_on:
                if node != self._expected:
                    self.action(rid, "demote", node, optional)

    def force_restart(self, rid: str) -> None:
        act, _ = self.acts.new(op_key(rid, "start"), "start", rid, None, False)
        act.runnable = False
        act.reason = "resource definition change"

    def create(self, rid: str) -> None:
        inhibited = self.p.inhibited.get(rid)
        if inhibited is None:
            self._create(rid, self.p.assigned.get(rid), self.p.next_role.get(rid, Role.STOPPED))
            return
        # An instance inhibited by an interleaved ordering has its actions created where it
        # was assigned; the ordering walk unassigns it when it reaches that ordering
        # (pengine.propagation.Context.unassign).
        self._create(rid, *inhibited)

    def _create(self, rid: str, chosen: str | None, next_role: Role) -> None:
        st = self.u.states[rid]
        # Found Stopped yet active (on a migration target), it keeps that role and gets
        # no stop: schedule_restart_actions brings it down from Stopped (seed 1032)
        role = st.role if st.running_on else Role.STOPPED
        # A partial migration that cannot continue forces the resource to stop (need_stop).
        abandoned = st.partial_migration is not None
        if abandoned and self._partial_migration(rid, chosen, role, next_role):
            return
        self._dangling_stops(rid)
        current = self.u.current_node(rid)
        if st.start_pending:
            # pe_rsc_start_pending: an optional start stands for the pending one, on no
            # node (so unrunnable) if the resource is not assigned; the stop -> start
            # ordering reaches it (a later group ordering would not create it).
            start = self.action(rid, "start", chosen, True)
            start.print_pending = True
            start.print_always = self.p.managed.get(rid, True)
        moving = current is not None and chosen is not None and current != chosen
        # [sim] found Stopped yet active on a migration target (a failed migrate_to, then a
        # stop on the source): stopped there and started again, like a partial migration
        # that cannot continue.
        need_stop = self._need_stop(rid, role, next_role, moving, current is not None) \
            or abandoned or (bool(st.running_on) and st.role == Role.STOPPED)
        self._role_steps(rid, role, next_role, chosen, need_stop)
        self._implicit_orders(rid)
        # pcmk__primitive_create_actions: the recurring actions, then a migration's actions
        if chosen is not None and rid not in self.p.unmanaged_over_limit \
                and self._monitored(rid, chosen, next_role):
            self._monitors(rid, chosen, next_role)
        if self._monitored(rid, chosen, Role.STARTED):
            from pengine.recurring import create_stopped_monitors

            create_stopped_monitors(self, rid, chosen)
        if moving and not abandoned and self._can_migrate(rid, current, chosen, role, next_role):
            self._migrate(rid, current or "", chosen or "")

    def _role_steps(self, rid: str, role: Role, next_role: Role, chosen: str | None,
                    need_stop: bool) -> None:
        """schedule_restart_actions: down to Stopped and up to the current role again (the
        restart, optional unless a stop is needed), then on to the next role."""
        r = role
        self._expected = chosen if self._stops_unexpected(rid, next_role) else None
        while r != Role.STOPPED:
            n = _next_role(r, Role.STOPPED)
            self._step(rid, r, n, chosen, not need_stop)
            r = n
        while role <= next_role and r != role and not self.u.states[rid].blocked:
            n = _next_role(r, role)
            self._step(rid, r, n, chosen, not need_stop)
            r = n
        self._expected = None
        r = role
        while r != next_role:
            n = _next_role(r, next_role)
            self._step(rid, r, n, chosen, False)
            r = n

    def _monitored(self, rid: str, node: str | None, next_role: Role) -> bool:
        """Pacemaker creates recurring actions where a resource is to be active, and where
        an unmanaged one is left; never when failure blocks it or in maintenance."""
        st, work_node = self.u.states[rid], self.u.node(node) if node else None
        if st.blocked or self.u.options.maintenance_mode \
                or is_true(self.u.rsc(rid).meta.get("maintenance"), False) \
                or (work_node is not None and work_node.maintenance) \
                or self.u.rsc(rid).orphan:  # an orphan is assigned nowhere: no monitors
            return False
        return next_role != Role.STOPPED or not self.p.managed.get(rid, True)

    def _dangling_stops(self, rid: str) -> None:
        """A required stop on each source of a finished migration that was never stopped."""
        for node in self.u.states[rid].dangling_sources:
            self.action(rid, "stop", node, False).dangling = True

    def _implicit_orders(self, rid: str) -> None:
        """Stop before start, start before promote, demote before stop: Pacemaker creates
        a primitive's implicit orderings only when the resource is managed."""
        if self.p.managed.get(rid, True):
            self.acts.order(rid, "stop", rid, "start", OPTIONAL, IMPLIES_THEN, RESTART)
            self.acts.order(rid, "start", rid, "promote", RUNNABLE_LEFT)
            self.acts.order(rid, "demote", rid, "stop", OPTIONAL, PROMOTED_IMPLIES_FIRST)
    def _need_stop(self, rid: str, role: Role, next_role: Role, moving: bool,
                   active: bool) -> bool:
        """Must the resource go down before it comes back (restart or move)?"""
        st = self.u.states[rid]
        chosen = self.p.assigned.get(rid)
        need_stop = (self._active_count(rid) > 1 and st.managed) or moving \
            or (st.failed and st.stop_needed) or st.blocked
        if role > Role.STARTED and (moving or not st.blocked) \
                and active and chosen is not None:
            # A resource above Started gets an optional start where it is assigned (Debian's
            # 2.1.5 also does so when it moves or failed: a failed promoted instance that
            # stays as Unpromoted is demoted, stopped and started again, seed 691; a promoted
            # instance moving to an unpromoted role is started there); when that cannot run
            # (no quorum, an unrunnable first) the restart ordering requires the stop.
            self.action(rid, "start", chosen, True)
        if role == Role.PROMOTED and (next_role == Role.STARTED or any(
                not a.optional for a in self.acts.of(rid, "start"))):
            # Pacemaker's role matrix goes Promoted -> Unpromoted -> Stopped -> Started: a
            # resource found promoted that is not promotable is demoted and restarted.
            need_stop = True
        return need_stop

    def _can_migrate(self, rid: str, current: str | None, chosen: str | None, role: Role,
                     next_role: Role, partial: bool = False) -> bool:
        rsc = self.u.rsc(rid)
        st = self.u.states[rid]
        if not is_true(rsc.meta.get("allow-migrate")) or not self.p.managed.get(rid, True):
            return False
        # The dangling stop, required but not part of the migration, is ordered after
        # migrate_from and makes it unrunnable: the resource moves instead.
        if st.failed or st.start_pending or role != next_role or st.dangling_sources \
                or len(st.running_on) != (2 if partial else 1):
            return False
        nodes = [self.nodes.get(current or ""), self.nodes.get(chosen or "")]
        return all(n is not None and n.online and not n.unclean for n in nodes)

    def _migrate(self, rid: str, current: str, chosen: str) -> None:
        from pengine.migration_orders import migration_graph_orders
        to, _ = self.acts.new(op_key(rid, "migrate_to"), "migrate_to", rid, current, False)
        frm, _ = self.acts.new(op_key(rid, "migrate_from"), "migrate_from", rid, chosen, False)
        self.acts.order(rid, "migrate_to", rid, "migrate_from", OPTIONAL,
                        first_action=to, then_action=frm)
        for action in self.acts.of(rid, "start", chosen) + self.acts.of(rid, "stop", current):
            action.migrating = True
        for start in self.acts.of(rid, "start", chosen):
            self.acts.order(rid, "start", rid, "migrate_from", RUNNABLE_LEFT, "nograph",
                            first_action=start, then_action=frm)
            self.acts.order(rid, "start", rid, "migrate_to", RUNNABLE_LEFT, "nograph",
                            first_action=start, then_action=to)
        for stop in self.acts.of(rid, "stop", current):
            self.acts.order(rid, "stop", rid, "migrate_to", RUNNABLE_LEFT, "nograph",
                            first_action=stop, then_action=to)
        migration_graph_orders(self.acts, (to, frm), current, chosen)

    def _partial_migration(self, rid: str, chosen: str | None, role: Role,
                           next_role: Role) -> bool:
        """Complete a partial migration to its still chosen target (True), or abandon it."""
        st = self.u.states[rid]
        assert st.partial_migration is not None
        source, target = st.partial_migration
        if chosen == target and self._can_migrate(rid, source, target, role, next_role,
                                                  partial=True):
            self._continue_migration(rid, source, target)
            return True
        # Pacemaker forgets an abandoned partial migration: both copies stop, and the
        # resource's current node is the first one it runs on again.
        st.partial_migration = None
        return False

    def _continue_migration(self, rid: str, source: str, target: str) -> None:
        """A partial migration whose target is still chosen: migrate_from, then the source's
        stop; the start on the target is only a pseudo action."""
        stop = self.action(rid, "stop", source, False)
        start = self.action(rid, "start", target, False)
        start.pseudo = True
        start.migrating = stop.migrating = True
        self._monitors(rid, target)  # created before the migration's actions, as Pacemaker
        frm, _ = self.acts.new(op_key(rid, "migrate_from"), "migrate_from", rid, target, False)
        frm.runnable = self.runnable_reason(rid, "migrate_from", target, False)[0]
        # with no migrate_to left to wait for them, the probes go before migrate_from
        # (crm_simulate: a probe elsewhere runs before a partial migration's migrate_from)
        self.acts.order(rid, "monitor", rid, "migrate_from", OPTIONAL, then_action=frm)
        self.acts.order(rid, "migrate_from", rid, "stop", OPTIONAL,
                        first_action=frm, then_action=stop)
        self.acts.order(rid, "migrate_from", rid, "start", OPTIONAL,
                        first_action=frm, then_action=start)
        # the primitive's own restart ordering (optional, implies_then, restart), which the
        # graph keeps: not merely optional, it is not dropped after a migrating stop
        self.acts.order(rid, "stop", rid, "start", OPTIONAL, IMPLIES_THEN, RESTART,
                        first_action=stop, then_action=start)

    def _stops_unexpected(self, rid: str, next_role: Role) -> bool:
        """native_add_running flags a managed resource active on several nodes with
        multiple-active=stop_unexpected; it keeps running where it is assigned."""
        st = self.u.states[rid]
        return len(st.running_on) > 1 and st.managed and next_role > Role.STOPPED \
            and self.u.rsc(rid).multiple_active == "stop_unexpected"

    def _active_count(self, rid: str) -> int:
        st = self.u.states[rid]
        if self.u.requires.get(rid) == "fencing":
            return len(st.running_on)
        return sum(1 for n in st.running_on
                   if self.nodes[n].online and not self.nodes[n].unclean)

    def _monitors(self, rid: str, node: str, next_role: Role = Role.STARTED) -> None:
        from pengine.recurring import create_monitors

        create_monitors(self, rid, node, next_role)


def active_recurring(history: list[Element]) -> list[Element]:
    """The recurring operations of one node's history (sorted by call id) that still run:
    those recorded since the last start, as Pacemaker's unpacker counts them
    (digests.entries_since_last_start). A monitor entry older than a restart belongs to the
    previous run and does not count."""
    return [op for op in entries_since_last_start(history) if op.get("interval", "0") != "0"]
