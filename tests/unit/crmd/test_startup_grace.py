"""The DC's startup grace (`crmd.startup_grace`): never-seen nodes are not fenced until
dc-deadtime after the DC's controller started, as no Pacemaker 2.1.5 controller elects (so
no scheduler runs) before its dc-deadtime has passed; the run then made sees them as
Pacemaker does under startup-fencing=false (OFFLINE, checked with Debian's crm_simulate)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from crmd.options import controller_timing
from crmd.startup_grace import STARTUP_GRACE_TIMER, StartupGrace, without_startup_fencing
from crmd.timing import ControllerTiming
from lab.sim.cluster import cluster_cib
from messaging.effects import ArmTimer, Log
from pengine import api as pengine
from tests.oracle import pacemaker_tool

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-e2e.xml"
CRM_SIMULATE = pacemaker_tool("crm_simulate")


def test_no_grace_is_needed_when_every_node_was_seen() -> None:
    assert StartupGrace(started=0.0).spares(1.0, 20.0, []) == (False, [])


def test_within_the_grace_unseen_nodes_are_spared_and_a_replan_is_armed_once() -> None:
    grace = StartupGrace(started=5.0)
    spared, effects = grace.spares(6.0, 20.0, {"n3"})
    assert spared
    assert [e for e in effects if isinstance(e, ArmTimer)] == [
        ArmTimer(STARTUP_GRACE_TIMER, 25.0)]
    assert [e.event for e in effects if isinstance(e, Log)] == ["startup_fencing_deferred"]
    assert grace.spares(24.9, 20.0, {"n3"}) == (True, [])


def test_once_the_grace_is_over_unseen_nodes_are_fenced_as_configured() -> None:
    assert StartupGrace(started=5.0).spares(25.0, 20.0, {"n3"}) == (False, [])


def test_a_controller_that_never_started_spares_nothing() -> None:
    assert StartupGrace().spares(0.0, 20.0, {"n3"}) == (False, [])


def test_the_grace_is_pacemakers_dc_deadtime_default_or_the_configured_one() -> None:
    assert ControllerTiming().startup_grace == 20.0
    configured = controller_timing(
        '<crm_config><cluster_property_set id="cib-bootstrap-options">'
        '<nvpair id="d" name="dc-deadtime" value="7s"/></cluster_property_set></crm_config>')
    assert configured.startup_grace == 7.0


def _quorate_cib_without_n3_state() -> etree._Element:
    root = etree.fromstring(cluster_cib(EXAMPLE, stonith=True))  # fencing, with fence_lab
    root.set("have-quorum", "1")
    options = root.find("configuration/crm_config/cluster_property_set")
    assert options is not None
    etree.SubElement(options, "nvpair", id="sf", name="startup-fencing", value="true")
    status = root.find("status")
    assert status is not None
    for node_id, name in (("1", "n1"), ("2", "n2")):  # n3 was never seen: no node_state
        etree.SubElement(status, "node_state", id=node_id, uname=name, in_ccm="true",
                         crmd="online", join="member", expected="member")
    return root


def _fenced(cib: etree._Element) -> list[str]:
    """The Transition Summary's fencing lines (as crm_simulate prints them)."""
    return [line for line in pengine.schedule(etree.tostring(cib)).summary if "Fence" in line]


def test_the_rewritten_cib_plans_no_startup_fencing() -> None:
    cib = _quorate_cib_without_n3_state()
    assert _fenced(cib) != []  # the unchanged CIB fences the never-seen nodes
    assert _fenced(without_startup_fencing(cib)) == []


def test_a_cib_without_crm_config_gets_the_option() -> None:
    root = without_startup_fencing("<cib><configuration><nodes/></configuration></cib>")
    pair = root.find("configuration/crm_config/cluster_property_set/nvpair")
    assert pair is not None and (pair.get("name"), pair.get("value")) == (
        "startup-fencing", "false")


def _pacemaker_plan(cib: etree._Element, tmp_path: Path) -> str:
    assert CRM_SIMULATE is not None
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(cib))
    done = subprocess.run([CRM_SIMULATE, "-LS"], capture_output=True, text=True,
                          check=False, env={**os.environ, "CIB_file": str(path)}, timeout=60)
    return done.stdout + done.stderr


@pytest.mark.oracle
@pytest.mark.skipif(CRM_SIMULATE is None,
                    reason="Debian's crm_simulate (pacemaker-cli-utils) absent")
def test_pacemaker_fences_the_never_seen_node_only_without_the_rewrite(
        tmp_path: Path) -> None:
    cib = _quorate_cib_without_n3_state()
    before = _pacemaker_plan(cib, tmp_path)
    assert "Node n3: UNCLEAN (offline)" in before and "Fence (reboot) n3" in before, before
    after = _pacemaker_plan(without_startup_fencing(cib), tmp_path)
    assert "OFFLINE: [ n3 ]" in after and "UNCLEAN" not in after, after
    assert "Fence" not in after, after
