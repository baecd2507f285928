"""The controller's timers come from crm_config, under Pacemaker's option names (the names
and defaults checked against `pacemaker-controld metadata` of Pacemaker 2.1.5)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from crmd.fsa import Controller
from crmd.options import controller_timing
from crmd.timing import ControllerTiming
from messaging.effects import ArmTimer

CONTROLD = Path("/usr/lib/pacemaker/pacemaker-controld")

CONFIG = """<crm_config>
  <cluster_property_set id="cib-bootstrap-options">
    <nvpair id="o1" name="election-timeout" value="2min"/>
    <nvpair id="o2" name="dc-deadtime" value="20s"/>
    <nvpair id="o3" name="join-integration-timeout" value="500ms"/>
    <nvpair id="o4" name="join-finalization-timeout" value="PT1M"/>
    <nvpair id="o5" name="cluster-recheck-interval" value="5min"/>
    <nvpair id="o6" name="stonith-max-attempts" value="3"/>
  </cluster_property_set>
  <cluster_property_set id="later">
    <nvpair id="o7" name="dc-deadtime" value="99s"/>
  </cluster_property_set>
</crm_config>"""


def test_every_timer_is_read_from_its_cluster_property() -> None:
    timing = controller_timing(CONFIG)
    assert timing.election.election_timeout == 120.0
    assert timing.election.dc_deadtime == 20.0, "the first set naming an option wins"
    assert timing.join.integration_timeout == 0.5
    assert timing.join.finalization_timeout == 60.0
    assert timing.recheck_interval == 300.0
    assert timing.stonith_max_attempts == 3


def test_unset_or_unparsable_options_keep_the_defaults() -> None:
    bad = CONFIG.replace('value="2min"', 'value="soon"').replace('value="3"', 'value="x"')
    timing = controller_timing(bad)
    assert timing.election.election_timeout == ControllerTiming().election.election_timeout
    assert timing.stonith_max_attempts == ControllerTiming().stonith_max_attempts
    assert controller_timing(None) == ControllerTiming()
    assert controller_timing("<crm_config/>") == ControllerTiming()


def test_a_retimed_controller_arms_its_dc_wait_with_the_new_deadtime() -> None:
    controller = Controller("alpha", {"alpha": "1"}, started=1.0)
    controller.retime(controller_timing(CONFIG))
    timers = [e for e in controller.start(now=10.0) if isinstance(e, ArmTimer)]
    assert ArmTimer("election:dc-wait", 30.0) in timers


@pytest.mark.oracle
def test_the_option_names_and_defaults_are_pacemakers() -> None:
    if not CONTROLD.exists():
        pytest.skip("Debian's pacemaker-controld is not installed")
    done = subprocess.run([str(CONTROLD), "metadata"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    root = etree.fromstring(done.stdout.encode())
    defaults = {p.get("name"): p.find("content").get("default")  # type: ignore[union-attr]
                for p in root.iter("parameter")}
    assert {name: defaults.get(name) for name in (
        "election-timeout", "dc-deadtime", "join-integration-timeout",
        "join-finalization-timeout", "cluster-recheck-interval", "stonith-max-attempts",
    )} == {"election-timeout": "2min", "dc-deadtime": "20s",
           "join-integration-timeout": "3min", "join-finalization-timeout": "30min",
           "cluster-recheck-interval": "15min", "stonith-max-attempts": "10"}
    # the controller reads every one of them: Pacemaker's defaults set explicitly give
    # Pacemaker's timers
    xml = "<crm_config><cluster_property_set id='p'>" + "".join(
        f"<nvpair id='{name}' name='{name}' value='{value}'/>"
        for name, value in defaults.items() if value) + "</cluster_property_set></crm_config>"
    timing = controller_timing(xml)
    assert (timing.election.election_timeout, timing.election.dc_deadtime) == (120.0, 20.0)
    assert (timing.join.integration_timeout, timing.join.finalization_timeout) == \
        (180.0, 1800.0)
