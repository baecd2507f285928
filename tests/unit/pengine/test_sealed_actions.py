"""The action set is sealed once the action-creating stages are over (issue 12, "Shape"):
no action or ordering can be added, no action changed; propagation returns its flags as a
FlagsTable computed on a working copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from messaging.errors import InternalError
from pengine.actions import ActionSet, op_key
from pengine.api import FALLBACK_NOW
from pengine.constraints import unpack_constraints
from pengine.placement import place
from pengine.scheduler import create_actions, settle_flags
from pengine.sealed_actions import ActionFlags, SettlingFlags, seal
from pengine.status import unpack_cib

CIBS = Path(__file__).parent / "cibs"


def _one_action_set() -> ActionSet:
    action_set = ActionSet()
    action_set.new(op_key("db", "start"), "start", "db", "n1", False)
    action_set.order("db", "stop", "db", "start", "optional")
    return action_set


def test_sealed_view_refuses_new_actions_and_orderings() -> None:
    sealed = seal(_one_action_set())
    with pytest.raises(InternalError, match="db_stop_0 created after"):
        sealed.new(op_key("db", "stop"), "stop", "db", "n1", False)
    with pytest.raises(InternalError, match="sealed"):
        sealed.order("db", "start", "web", "start")
    assert [a.key for a in sealed.actions] == ["db_start_0"]
    assert len(sealed.orders) == 1


def test_sealed_collections_cannot_be_grown_directly() -> None:
    sealed = seal(_one_action_set())
    with pytest.raises(AttributeError):
        sealed.actions.append(sealed.actions[0])  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        sealed.index[("x", None)] = sealed.actions[0]  # type: ignore[index]
    with pytest.raises(AttributeError):
        sealed.extra = 1  # type: ignore[attr-defined]


def test_sealed_view_does_not_follow_its_source() -> None:
    action_set = _one_action_set()
    sealed = seal(action_set)
    action_set.new(op_key("db", "stop"), "stop", "db", "n1", False)
    assert sealed.find("db_stop_0", "n1") is None
    assert [a.key for a in sealed.of("db", "start", "n1")] == ["db_start_0"]


def test_scheduler_hands_later_stages_a_sealed_set() -> None:
    unpacked = unpack_cib((CIBS / "group-move.xml").read_bytes(), None, FALLBACK_NOW)
    constraints = unpack_constraints(unpacked)
    created = create_actions(unpacked, constraints, place(unpacked, constraints))
    assert created.actions.actions, "the run created actions"
    first = created.actions.actions[0]
    with pytest.raises(InternalError):
        created.actions.new("late_start_0", "start", first.rsc, first.node, False)
    with pytest.raises(InternalError):
        created.actions.order(first.rsc, first.task, first.rsc, "stop")


def test_a_sealed_action_refuses_late_flag_writes() -> None:
    sealed = seal(_one_action_set())
    start = sealed.actions[0]
    with pytest.raises(InternalError, match=r"db_start_0 \(optional\) changed after"):
        start.optional = True
    with pytest.raises(InternalError, match="runnable"):
        start.runnable = False
    with pytest.raises(InternalError, match="reason"):
        start.reason = "late"
    assert (start.optional, start.runnable, start.reason) == (False, True, None)


def test_settling_flags_start_from_creation_and_freeze_into_a_table() -> None:
    sealed = seal(_one_action_set())
    flags = SettlingFlags(sealed.actions)
    start = sealed.actions[0]
    flags.runnable[start.id] = False
    flags.reason[start.id] = "unrunnable web start"
    assert start.runnable and start.reason is None
    table = flags.settled()
    assert table[start.id] == ActionFlags(False, False, "unrunnable web start")
    assert len(table) == 1
    flags.optional[start.id] = True  # the table is a copy: later changes do not show
    assert table[start.id].optional is False
    with pytest.raises(KeyError):
        table[0]
    with pytest.raises(AttributeError):
        table.optional = (True, True)


def test_settling_flags_does_not_touch_the_sealed_actions() -> None:
    """group-move.xml moves group db: Pacemaker's graph (crm_simulate -G) holds the
    group's pseudo actions db_start_0, db_running_0, db_stop_0 and db_stopped_0, which are
    created optional and become required only through the members' orderings. The table
    says so; the sealed actions stay as created."""
    unpacked = unpack_cib((CIBS / "group-move.xml").read_bytes(), None, FALLBACK_NOW)
    constraints = unpack_constraints(unpacked)
    placement = place(unpacked, constraints)
    created = create_actions(unpacked, constraints, placement)
    before = [(a.optional, a.runnable, a.reason) for a in created.actions.actions]
    flags = settle_flags(unpacked, constraints, placement, created)
    assert [(a.optional, a.runnable, a.reason) for a in created.actions.actions] == before
    assert len(flags) == len(created.actions.actions)
    for key in ("db_start_0", "db_running_0", "db_stop_0", "db_stopped_0"):
        group_action = created.actions.find(key, None)
        assert group_action is not None and group_action.optional, key
        assert not flags[group_action.id].optional and flags[group_action.id].runnable, key
