"""The DC's startup grace (`crmd.startup_grace`): while a configured node was never seen,
the DC plans nothing until dc-deadtime after its controller started, as no Pacemaker
2.1.5 controller elects (so no scheduler runs) before its dc-deadtime has passed."""

from __future__ import annotations

from crmd.options import controller_timing
from crmd.startup_grace import STARTUP_GRACE_TIMER, StartupGrace
from crmd.timing import ControllerTiming
from messaging.effects import ArmTimer, Log


def test_nothing_is_held_when_every_node_was_seen() -> None:
    grace = StartupGrace(started=0.0)
    assert grace.holds(1.0, 20.0, []) == (False, [])
    assert not grace.holding


def test_within_the_grace_the_plan_waits_and_the_grace_end_is_armed_once() -> None:
    grace = StartupGrace(started=5.0)
    held, effects = grace.holds(6.0, 20.0, {"n3"})
    assert held and grace.holding
    assert [e for e in effects if isinstance(e, ArmTimer)] == [
        ArmTimer(STARTUP_GRACE_TIMER, 25.0)]
    assert [e.event for e in effects if isinstance(e, Log)] == ["startup_plan_held"]
    held, effects = grace.holds(24.9, 20.0, {"n3"})
    assert held and not [e for e in effects if isinstance(e, ArmTimer)]


def test_once_the_grace_is_over_the_plan_runs_and_fences_who_never_came() -> None:
    grace = StartupGrace(started=5.0)
    grace.holds(6.0, 20.0, {"n3"})
    assert grace.holds(25.0, 20.0, {"n3"}) == (False, [])
    assert not grace.holding


def test_a_node_seen_within_the_grace_releases_the_plan() -> None:
    grace = StartupGrace(started=5.0)
    grace.holds(6.0, 20.0, {"n3"})
    assert grace.holds(9.0, 20.0, set()) == (False, [])
    assert not grace.holding


def test_a_controller_that_never_started_holds_nothing() -> None:
    assert StartupGrace().holds(0.0, 20.0, {"n3"}) == (False, [])


def test_the_grace_is_pacemakers_dc_deadtime_default_or_the_configured_one() -> None:
    assert ControllerTiming().startup_grace == 20.0
    configured = controller_timing(
        '<crm_config><cluster_property_set id="cib-bootstrap-options">'
        '<nvpair id="d" name="dc-deadtime" value="7s"/></cluster_property_set></crm_config>')
    assert configured.startup_grace == 7.0
    assert configured.election.dc_deadtime == 7.0
