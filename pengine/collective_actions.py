"""Actions that clones add around their instances: the clone's pseudo actions and instance
orderings, probe orderings, notifications.

Invariants: a probe is ordered before the start of its clone (or, uncloned, of itself) and,
through the clone, before every instance's start; a notifying clone's phase completes with
its confirmed post-notification pseudo action.
"""

from __future__ import annotations

from collections.abc import Sequence

from pengine.actions import (
    IMPLIES_THEN,
    OPTIONAL,
    RUNNABLE_LEFT,
    WITH_ACTIONS,
    ActionSet,
    OrderSpec,
    Work,
    op_key,
)
from pengine.order_links import REMAPPED
from pengine.state import Unpacked
from pengine.xmlin import is_true


def _primitives(u: Unpacked, rid: str) -> list[str]:
    rsc = u.rsc(rid)
    if rsc.kind == "primitive":
        return [rid]
    return [p for child in rsc.children for p in _primitives(u, child)]


def clone_instances(u: Unpacked, cid: str) -> list[str]:
    """A clone's instances, with the orphans of a clone of primitives: Pacemaker adds each
    orphan instance to the clone's children (create_child_clone), so the clone's stop and
    stopped order it too (seed 161)."""
    children = list(u.rsc(cid).children)
    if any(u.rsc(c).kind != "primitive" for c in children):
        return children + [g.id for g in u.orphan_groups.get(cid, ())]
    return children + [p for p in u.instance_primitives(cid) if p not in children]


def clone_actions(u: Unpacked, acts: ActionSet, cid: str) -> None:
    """Pseudo start/running/stop/stopped actions of a clone and its instance orderings."""
    notify, promotable = is_true(u.rsc(cid).meta.get("notify")), u.rsc(cid).promotable
    for task in ("start", "running", "stop", "stopped") + (
            ("promote", "promoted", "demote", "demoted") if promotable else ()):
        act, _ = acts.new(op_key(cid, task), task, cid, None, True, pseudo=True)
        if task not in ("demote", "demoted"):
            # summary_action_flags: runnable only if some instance's action is (a group
            # instance's completion action for a completion action)
            acts.min_runnable[act.id] = 1
        if notify and task in ("running", "stopped", "promoted", "demoted"):
            notification_phase(u, acts, cid, task)
    # ordered=true: clone_internal_constraints (and promotable_constraints) first sort the
    # children by instance number (sort_rsc_id), then each instance starts (promotes) after
    # the previous one and stops (demotes) before it, as optional orderings.
    chain = is_true(u.rsc(cid).meta.get("ordered"))
    if promotable:
        group_instances = {i for i in clone_instances(u, cid) if u.rsc(i).kind == "group"}
        _promotable_orders(acts, cid, _chained(clone_instances(u, cid), chain), chain,
                           group_instances)
    previous = None
    for inst in _chained(clone_instances(u, cid), chain):
        acts.order(cid, "start", inst, "start", RUNNABLE_LEFT)
        if chain and previous is not None:
            # The first of an ordering between two instances of a cloned group is the
            # group's completion (action_for_ordering): g:0 running -> g:1 start,
            # g:1 stopped -> g:0 stop.
            grouped = u.rsc(inst).kind == "group"
            acts.order(previous, "running" if grouped else "start", inst, "start", OPTIONAL)
            acts.order(inst, "stopped" if grouped else "stop", previous, "stop", OPTIONAL)
        previous = inst
        _instance_orders(u, acts, cid, inst)
    acts.order(cid, "stop", cid, "stopped", RUNNABLE_LEFT)
    acts.order(cid, "stopped", cid, "start", OPTIONAL)
    acts.order(cid, "start", cid, "running", RUNNABLE_LEFT)


def ordered_instance_chain(u: Unpacked, acts: ActionSet, cid: str) -> None:
    """An ordered clone's orderings between the instances' own actions, made as soon as
    they exist (clone_create_actions' child_ordering_constraints): by instance number,
    each instance's one required start after the previous such start, and its one
    required stop before the previous such stop; an instance with none (or several) is
    passed over, so the chain bridges it. A group instance's pseudo actions are created
    optional, so only instances of primitives are chained. These orderings are older
    than any the constraints make (order_actions at once, not pcmk__new_ordering)."""
    if not is_true(u.rsc(cid).meta.get("ordered")):
        return
    specs: list[OrderSpec] = []
    last: dict[str, Work] = {}
    for inst in _chained(clone_instances(u, cid), True):
        if u.rsc(inst).kind != "primitive":
            continue
        for task in ("stop", "start"):
            required = [act for act in acts.of(inst, task) if not act.optional]
            if len(required) != 1:
                continue
            act, previous = required[0], last.get(task)
            if previous is not None:
                first, then = (previous, act) if task == "start" else (act, previous)
                specs.append(OrderSpec(first.rsc, task, then.rsc, task,
                                       frozenset({OPTIONAL, WITH_ACTIONS}),
                                       first_action=first, then_action=then))
            last[task] = act
    acts.orders[0:0] = specs


def _chained(instances: Sequence[str], chain: bool) -> list[str]:
    """The instances by number when the clone is ordered, else as they are."""
    if not chain:
        return list(instances)
    return sorted(instances, key=lambda inst: int(inst.rsplit(":", 1)[1]))


def _promotable_orders(acts: ActionSet, cid: str, instances: list[str], chain: bool,
                       grouped: set[str]) -> None:
    """`grouped`: the group instances, whose completion (promoted, demoted) the clone's
    completion waits for, as with running and stopped (action_for_ordering)."""
    previous = None
    for inst in instances:
        promoted, demoted = ("promoted", "demoted") if inst in grouped else ("promote", "demote")
        acts.order(cid, "promote", inst, "promote", RUNNABLE_LEFT)
        acts.order(inst, promoted, cid, "promoted", "member_flags", "any_runnable")
        acts.order(cid, "demote", inst, "demote", OPTIONAL)
        acts.order(inst, demoted, cid, "demoted", "member_flags")
        acts.order(inst, "promote", cid, "promote", "member_flags", "any_runnable")
        acts.order(inst, "demote", cid, "demote", "member_flags")
        acts.order(inst, "demote", inst, "promote", OPTIONAL)
        if chain and previous is not None:
            acts.order(previous, "promote", inst, "promote", OPTIONAL)
            acts.order(inst, "demote", previous, "demote", OPTIONAL)
        previous = inst
    # pcmk__promotable_restart_ordering: start and promote after every instance stopped,
    # stop, start and promote after every demotion, promote after every start
    for first, then in (("stopped", "promote"), ("demoted", "stop"), ("demoted", "start"),
                        ("demoted", "promote"), ("running", "promote"), ("demote", "demoted")):
        acts.order(cid, first, cid, then, OPTIONAL)


def _instance_orders(u: Unpacked, acts: ActionSet, cid: str, inst: str) -> None:
    group = ("nograph",) if u.rsc(inst).kind == "group" else ()
    if group:
        # A group instance can start only if all its members can (group_action_flags);
        # the graph waits for its running/stopped, not its start/stop (seed 10), and
        # the clone's summary flags read those too, not the instance's start/stop.
        # Pacemaker orders the instance's start/stop and remaps it to running/stopped
        # when the walk first meets it, which counts as a change of the clone's action
        # (seed 1348: c15_stopped_0 then updates c15_start_0 before c15_stop_0).
        acts.order(inst, "running", cid, "running", "member_flags", REMAPPED, *group)
        acts.order(inst, "running", cid, "running", "any_runnable", REMAPPED)
        acts.order(inst, "stopped", cid, "stopped", OPTIONAL, "any_runnable", REMAPPED)
        acts.order(inst, "stopped", cid, "stopped", "member_flags", REMAPPED, *group)
    else:
        acts.order(inst, "start", cid, "running", "member_flags", "any_runnable")
        acts.order(inst, "stop", cid, "stopped", "member_flags", "any_runnable")
    acts.order(cid, "stop", inst, "stop", OPTIONAL)
    acts.order(inst, "start", cid, "start", "member_flags", "any_runnable")
    acts.order(inst, "stop", cid, "stop", "member_flags", "any_runnable")


def order_probe(u: Unpacked, acts: ActionSet, probe: Work,
                rid: str) -> list[tuple[Work, str, str]]:
    """The probe comes before the start of its clone (when cloned), else of itself.

    An unrunnable probe blocks that start unless the clone is already active somewhere
    (Pacemaker's pcmk__probe_rsc_on_node). Returns the instance starts the clone's start
    passes the ordering on to.
    """
    top = rid
    while u.rsc(top).parent is not None:
        top = u.rsc(top).parent or top
    if u.rsc(top).kind != "clone":
        top = rid
    # Pacemaker 2.1.5 asks whether the probed resource itself (not its clone) is active
    # (pcmk__probe_rsc_on_node tests rsc->running_on; later versions test the clone's):
    # an unrunnable probe of an inactive instance blocks the whole clone's start.
    flag = RUNNABLE_LEFT if (not probe.runnable and not u.states[rid].running_on) else OPTIONAL
    acts.order(rid, "monitor", top, "start", flag, first_action=probe)
    if top == rid:
        return []
    return [(probe, member, flag) for member in _primitives(u, top)]


_PHASE_OF = {"running": "start", "stopped": "stop", "promoted": "promote",
             "demoted": "demote"}


def notification_phase(u: Unpacked, acts: ActionSet, cid: str, done: str) -> None:
    """One phase of a notifying clone, created right after the clone's completion action
    `done` (running, stopped, promoted, demoted) as Pacemaker does.

    Pacemaker's four pseudo actions (pe_notif.c, create_notification_boundaries):
    pre-notify -> confirmed-pre -> the clone's action, and the clone's completion ->
    post-notify -> confirmed-post (implies_then), confirmed-pre -> post. The notify
    actions of the instances come later, once flags are settled (notifications.py).
    """
    op = _PHASE_OF[done]
    pre, _ = acts.new(f"{cid}_pre_notify_{op}_0", "notify", cid, None, True, pseudo=True)
    pre_done, _ = acts.new(f"{cid}_confirmed-pre_notify_{op}_0", "notified", cid, None,
                           True, pseudo=True)
    post = _post_notify(acts, cid, done)
    notified_action(acts, cid, done)
    acts.order(cid, "notify", cid, "notified", OPTIONAL, first_action=pre,
               then_action=pre_done)
    acts.order(cid, "notified", cid, op, OPTIONAL, first_action=pre_done)
    acts.order(cid, "notified", cid, "notify", OPTIONAL, first_action=pre_done,
               then_action=post)
    if done == ("demoted" if u.rsc(cid).promotable else "stopped"):  # the last phase
        notification_links(u, acts, cid)


def notification_links(u: Unpacked, acts: ActionSet, cid: str) -> None:
    """The orderings between a notifying clone's phases: a restart's stop notifications
    end before the start's begin; promotion waits for every other phase, demotion's come
    before the stop's and the start's (clone_create_pseudo_actions,
    create_promotable_actions)."""
    _after(acts, cid, "stopped", "start")
    if u.rsc(cid).promotable:
        for done in ("stopped", "running", "demoted"):
            _after(acts, cid, done, "promote")
        for op in ("start", "stop"):
            _after(acts, cid, "demoted", op)


def _after(acts: ActionSet, cid: str, done: str, op: str) -> None:
    post_done = notified_action(acts, cid, done)
    pre = acts.find(f"{cid}_pre_notify_{op}_0", None)
    acts.order(cid, "notified", cid, "notify", OPTIONAL, first_action=post_done,
               then_action=pre)


def _post_notify(acts: ActionSet, cid: str, done: str) -> Work:
    """The post-notification pseudo action: required with the clone's completion, and
    runnable only when it is."""
    act, created = acts.new(f"{cid}_post_notify_{done}_0", "notify", cid, None, True,
                            pseudo=True)
    if created:
        acts.order(cid, done, None, "notify", IMPLIES_THEN, RUNNABLE_LEFT, then_action=act)
    return act


def notified_action(acts: ActionSet, cid: str, done: str) -> Work:
    """The confirmed post-notification pseudo action of a clone's phase (task "notified").

    An ordering after a notifying clone's phase waits for it (action_uuid_for_ordering),
    so it is what the reason of a dependent's action names. It follows the post-notify
    pseudo action (implies_then).
    """
    act, created = acts.new(f"{cid}_confirmed-post_notify_{done}_0", "notified", cid, None,
                            True, pseudo=True)
    if created:
        post = _post_notify(acts, cid, done)
        acts.order(cid, "notify", None, "notified", IMPLIES_THEN, RUNNABLE_LEFT,
                   first_action=post, then_action=act)
    return act
