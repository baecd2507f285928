"""What flag propagation reads about the sealed actions besides the links themselves.

Built once per run by the scheduler from the sealed action set (propagation.Context holds
the results): which instance actions stand for a clone's pseudo action, which member
actions a group's pseudo action reads, and where a group's pseudo actions are located.
Invariant: pure functions of the sealed set, except read_group_action, which changes only
the settling flags of the group action it reads (as Pacemaker's read does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pengine.actions import Work
from pengine.sealed_actions import SealedActions, SettlingFlags
from pengine.state import Unpacked


def collective_children(u: Unpacked, acts: SealedActions) -> dict[int, list[Work]]:
    """Clone pseudo action id -> the instances' primitive actions of the matching task.

    An ordering reads a clone "first" action's flags on the 'then' action's node
    (action_flags_for_ordering -> the clone's summary over instance actions on that node),
    so promote/promoted and demote/demoted count only the instances promoted or demoted
    there, like start/running and stop/stopped.
    """
    base = {"running": "start", "start": "start", "stopped": "stop", "stop": "stop",
            "promoted": "promote", "promote": "promote", "demoted": "demote", "demote": "demote"}
    out: dict[int, list[Work]] = {}
    for act in acts.actions:
        # clone_child_action reads a clone of primitives' notification pseudo actions (pre,
        # post and their confirmations) as the task their key names: its
        # post_notify_running is required once an instance's start is (seed 6052), as the
        # confirmed one is (seed 23). A clone of groups reads only the confirmed post one
        # here (reduced case clone-of-groups-pre-notifies-no-stop-while-no-instance-is-active)
        task = act.task
        if task in ("notify", "notified") and (
                "_confirmed-post_" in act.key or not _of_groups(u, act.rsc)):
            task = notified_task(act)
        if act.node is None and act.rsc is not None and task in base \
                and u.has_rsc(act.rsc) and u.rsc(act.rsc).kind == "clone":
            out[act.id] = [a for p in u.instance_primitives(act.rsc)
                           for a in acts.of(p, base[task]) if a.node is not None]
    return out


def clone_instance_actions(u: Unpacked, acts: SealedActions) -> dict[int, list[Work]]:
    """Clone pseudo action id -> each instance's first action of the task the clone's
    summary without a node reads (summary_action_flags): a primitive instance's start for
    the clone's start or running, a group instance's own pseudo action of the same task
    (its running is read from its members); unplaced instances' nodeless ones too."""
    atomic = {"running": "start", "stopped": "stop", "promoted": "promote",
              "demoted": "demote"}
    out: dict[int, list[Work]] = {}
    for act in acts.actions:
        read = notified_task(act) if act.task in ("notify", "notified") else act.task
        if act.node is not None or act.rsc is None or not u.has_rsc(act.rsc) \
                or u.rsc(act.rsc).kind != "clone" or read not in _TASKS:
            continue
        found: list[Work] = []
        for child in _instances(u, act.rsc):
            primitive = u.rsc(child).kind == "primitive"
            task = atomic.get(read, read) if primitive else read
            own = acts.of(child, task)[:1]
            if not own and not primitive:
                # a group instance of a clone that is not promotable has no promote or
                # demote pseudo actions: its members' stand for them
                own = [a for p in u.primitives_under(child)
                       for a in acts.of(p, atomic.get(read, read))[:1]]
            found.extend(own)
        out[act.id] = found
    return out


def notified_task(act: Work) -> str:
    """The task a clone's notification pseudo action is read as: the word before the
    key's interval (clone_child_action: <clone>_confirmed-post_notify_running_0 reads
    the instances' running, folded into their start; seed 23)."""
    return act.key.rsplit("_", 2)[-2]


_TASKS = ("start", "running", "stop", "stopped", "promote", "promoted", "demote", "demoted")


def _of_groups(u: Unpacked, rid: str | None) -> bool:
    """Is rid a clone whose instances are groups?"""
    if rid is None or not u.has_rsc(rid) or u.rsc(rid).kind != "clone":
        return False
    return any(u.rsc(c).kind == "group" for c in u.rsc(rid).children)


def _instances(u: Unpacked, cid: str) -> list[str]:
    """A clone's children, its orphan instances included (create_child_clone): a clone of
    groups' orphans are group instances too."""
    groups = u.orphan_groups.get(cid, ())
    inside = set(u.primitives_under(cid)) | {m for g in groups for m in g.children}
    return list(u.rsc(cid).children) + [g.id for g in groups] + [
        p for p in u.instance_primitives(cid) if p not in inside]


def group_locations(u: Unpacked, acts: SealedActions, assigned: Mapping[str, str | None]
                    ) -> dict[int, str | None]:
    """A group's start/stop pseudo actions are located where the group is assigned."""
    out: dict[int, str | None] = {}
    for act in acts.actions:
        if act.pseudo and act.rsc is not None and act.task == "start":
            rsc = u.rsc(act.rsc)
            if rsc.kind == "group" and rsc.children:
                out[act.id] = assigned.get(u.primitives_under(rsc.id)[0])
    return out


_COMPLETION = ("running", "stopped", "promoted", "demoted")


def group_member_actions(u: Unpacked, acts: SealedActions) -> dict[int, list[Work]]:
    """Group pseudo action id -> each member's first action of the matching task (a
    group's running reads its members' starts), as pcmk__group_action_flags finds them."""
    base = {"running": "start", "start": "start", "stopped": "stop", "stop": "stop",
            "promoted": "promote", "promote": "promote", "demoted": "demote",
            "demote": "demote"}
    out: dict[int, list[Work]] = {}
    for act in acts.actions:
        if act.node is not None or act.rsc is None or act.task not in base \
                or not u.has_rsc(act.rsc) or u.rsc(act.rsc).kind != "group":
            continue
        members = [acts.of(m, base[act.task])[:1] for m in u.rsc(act.rsc).children]
        out[act.id] = [found[0] for found in members if found]
    return out


def read_group_action(act: Work, members: Sequence[Work], flags: SettlingFlags,
                      listed: Callable[[Work], bool]) -> None:
    """Reading a group action's flags for an ordering changes the action itself
    (pcmk__group_action_flags), before the ordering applies and without counting as a
    change: it becomes required if a member's matching action is (one `listed` among the
    member's actions), and a completion action (running, stopped, ...) unrunnable if a
    member's action is (seeds 691, 1393)."""
    optional, runnable = flags.optional, flags.runnable
    if optional[act.id] and any(not optional[m.id] and listed(m) for m in members):
        optional[act.id] = False
    if runnable[act.id] and act.task in _COMPLETION \
            and any(not runnable[m.id] for m in members):
        runnable[act.id] = False
