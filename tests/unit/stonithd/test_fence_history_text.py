"""A failed fencing that a later attempt made good, as Pacemaker 2.1.5 describes it in
stonith_admin --history and crm_mon's "Failed Fencing Actions" (`stonith__later_succeeded`,
`stonith__history_description`: "... at TIME (a later attempt from NODE succeeded)")."""

from __future__ import annotations

from crmd.mon.extras import fencing_lines
from stonithd.api import HistoryEntry, OpState, describe_event, later_success


def _entry(op: str, target: str, executioner: str, state: str, completed: float,
           action: str = "reboot") -> HistoryEntry:
    return HistoryEntry(op, target, action, "n1", "pacemaker-controld.1", executioner, state,
                        completed, "no route" if state == OpState.FAILED else "")


def test_the_same_executioner_is_preferred_else_the_first_other_one() -> None:
    failed = _entry("1", "n3", "n2", OpState.FAILED, 100.0)
    by_n4 = _entry("2", "n3", "n4", OpState.DONE, 300.0)
    by_n2 = _entry("3", "n3", "n2", OpState.DONE, 200.0)
    assert later_success(2, [by_n4, by_n2, failed]) == "n2"
    assert later_success(1, [by_n4, failed]) == "n4"
    nameless = _entry("4", "N3", "", OpState.DONE, 300.0)
    assert later_success(1, [nameless, failed]) == "some node"


def test_only_later_successes_of_the_same_target_and_action_count() -> None:
    failed = _entry("1", "n3", "n2", OpState.FAILED, 100.0)
    unrelated = [_entry("2", "n2", "n4", OpState.DONE, 300.0),
                 _entry("3", "n3", "n4", OpState.DONE, 300.0, action="off"),
                 _entry("4", "n3", "n4", OpState.FAILED, 300.0),
                 _entry("5", "n3", "n4", OpState.DONE, 50.0)]
    assert later_success(4, [*unrelated, failed]) is None
    # only entries listed before it (newer) are looked at
    assert later_success(0, [failed, _entry("6", "n3", "n4", OpState.DONE, 300.0)]) is None


def test_the_failure_line_names_who_succeeded_later() -> None:
    failed = _entry("1", "n3", "n2", OpState.FAILED, 100.0)
    assert describe_event(failed, later_succeeded="n4") == (
        "reboot of n3 by n2 for pacemaker-controld.1@n1 failed (no route) at "
        "1970-01-01 00:01:40Z (a later attempt from n4 succeeded)")
    done = _entry("2", "n3", "n4", OpState.DONE, 300.0)
    assert "later attempt" not in describe_event(done, later_succeeded="n4")


def test_crm_mon_failed_fencing_actions_say_a_later_attempt_succeeded() -> None:
    entries = (_entry("2", "n3", "n4", OpState.DONE, 300.0),
               _entry("1", "n3", "n2", OpState.FAILED, 100.0))
    assert fencing_lines(entries, 1, failed=True) == [
        "", "Failed Fencing Actions:",
        "  * reboot of n3 by n2 for pacemaker-controld.1@n1 last failed (no route) at "
        "1970-01-01 00:01:40Z (a later attempt from n4 succeeded)"]
