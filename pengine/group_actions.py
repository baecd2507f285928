"""A group's own pseudo actions and the orderings that bracket its members' actions.

A group (also a clone's group instance) gets start/running/stop/stopped pseudo actions, and
inside a promotable clone demote/demoted/promote/promoted ones too
(pcmk__group_create_actions creates them when the group is "stateful"); its members'
actions are ordered between them, and one after another when the group is ordered.

Invariants: orderings only, in Pacemaker's creation order; no flags are settled here.
"""

from __future__ import annotations

import itertools

from pengine.actions import (
    IMPLIES_THEN,
    OPTIONAL,
    RESTART,
    RUNNABLE_LEFT,
    ActionSet,
    op_key,
)
from pengine.order_links import FIRST_PRINTED
from pengine.state import Unpacked
from pengine.xmlin import is_true


def group_actions(u: Unpacked, acts: ActionSet, gid: str) -> None:
    """Pseudo start/running/stop/stopped actions of a group and its internal orderings;
    inside a promotable clone also demote/demoted/promote/promoted (Debian's crm_simulate
    runs a group instance's promotion as `g:1_promote_0`, the members' promotes,
    `g:1_promoted_0`: corpus bug-pm-11, promoted-group)."""
    promotable = _in_promotable_clone(u, gid)
    for task in ("start", "running", "stop", "stopped") + (
            ("demote", "demoted", "promote", "promoted") if promotable else ()):
        acts.new(op_key(gid, task), task, gid, None, True, pseudo=True)
    members = list(u.rsc(gid).children)
    # An unordered group (ordered=false) orders no member after another
    # (pcmk__group_internal_constraints): only the group's own actions bracket them.
    ordered = is_true(u.rsc(gid).meta.get("ordered"), True)
    if promotable:
        _bracket_members(acts, gid, members, ordered, ("promote", "promoted"),
                         ("demote", "demoted"), (OPTIONAL,))
    # a member's start may be created by the ordering to running ("phantom"); the stop of
    # a later member before an earlier one's is a restart ordering
    _bracket_members(acts, gid, members, ordered, ("start", "running", "phantom"),
                     ("stop", "stopped"), (OPTIONAL, RESTART))
    if ordered:
        _stops_across_inactive_members(u, acts, members)
    # a group's (and a clone's) completion actions wait for its own start/stop to be
    # runnable (group_internal_constraints: runnable-left)
    acts.order(gid, "stop", gid, "stopped", RUNNABLE_LEFT)
    acts.order(gid, "stopped", gid, "start", OPTIONAL)
    acts.order(gid, "start", gid, "running", RUNNABLE_LEFT)


def _bracket_members(acts: ActionSet, gid: str, members: list[str], ordered: bool,
                     up: tuple[str, ...], down: tuple[str, str],
                     down_chain: tuple[str, ...]) -> None:
    """The group's `up` action (start, promote) before each member's, each member's before
    the group's completion (running, promoted; `up[2:]`: extra flags of that ordering), and
    likewise down (stop, demote); in an ordered group each member goes up after the
    previous one and down before it (`down_chain`: that ordering's flags)."""
    task, done = up[0], up[1]
    down_task, down_done = down
    for m in members:
        acts.order(gid, task, m, task, RUNNABLE_LEFT, FIRST_PRINTED)
        acts.order(m, task, gid, done, IMPLIES_THEN, RUNNABLE_LEFT, *up[2:])
        acts.order(gid, down_task, m, down_task, OPTIONAL, FIRST_PRINTED)
        # group_action_flags: a group's stopped cannot complete if a member's stop cannot
        # run, even an optional one (the completion task differs from the member's)
        acts.order(m, down_task, gid, down_done, IMPLIES_THEN, RUNNABLE_LEFT)
        acts.order(m, task, gid, task, "member_flags")
        acts.order(m, down_task, gid, down_task, "member_flags")
    for prev, cur in itertools.pairwise(members if ordered else ()):
        acts.order(prev, task, cur, task, IMPLIES_THEN, RUNNABLE_LEFT)
        acts.order(cur, down_task, prev, down_task, *down_chain)


def _stops_across_inactive_members(u: Unpacked, acts: ActionSet, members: list[str]) -> None:
    """An active member that follows an inactive one stops before the last active member
    before it (pcmk__group_internal_constraints), so active members still stop in reverse
    order across the gap: corpus group-fail (rsc4's stop before rsc2's, rsc3 stopped)."""
    last_active: str | None = None
    for index, cur in enumerate(members):
        if not u.states[cur].running_on:
            continue
        after_inactive = index > 0 and not u.states[members[index - 1]].running_on
        if after_inactive and last_active is not None:
            acts.order(cur, "stop", last_active, "stop", OPTIONAL)
        last_active = cur


def _in_promotable_clone(u: Unpacked, gid: str) -> bool:
    parent = u.rsc(gid).parent
    return parent is not None and u.rsc(parent).promotable
