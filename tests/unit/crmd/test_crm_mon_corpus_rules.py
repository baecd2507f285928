"""crm_mon's finer rules on corpus CIBs, without Debian's binary at hand.

Each expected line was read from Debian's Pacemaker 2.1.5 crm_mon (CIB_file=... crm_mon -1
with the option named) on the same corpus file; the oracle test compares whole outputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crmd.cibaccess import ENV_VAR


def _view(shared: Path, case: str):  # type: ignore[no-untyped-def]
    from crmd.mon.cli import gather

    os.environ[ENV_VAR] = str(shared / "conformance" / "scheduler" / "xml" / f"{case}.xml")
    try:
        return gather()
    finally:
        del os.environ[ENV_VAR]


def _text(shared: Path, case: str, **switches: bool) -> list[str]:
    from crmd.mon.text import Display, render

    return render(_view(shared, case), Display(**switches))


def _xml(shared: Path, case: str) -> str:
    from crmd.mon.text import Display
    from crmd.mon.xml_out import render_xml

    return render_xml(_view(shared, case), Display(), "crm_mon")


def test_clone_active_only_through_a_blocked_instance_on_an_offline_node_is_not_listed(
        shared: Path) -> None:
    for inactive in (False, True):
        assert not [line for line in _text(shared, "stop-failure-no-fencing", inactive=inactive)
                    if "clvm" in line]
    assert "clvm-clone" not in _xml(shared, "stop-failure-no-fencing")


def test_clone_stopped_list_names_the_offline_node_of_a_blocked_instance(shared: Path) -> None:
    lines = _text(shared, "stop-failure-no-quorum", inactive=True)
    assert "    * Stopped: [ pcmk-1 pcmk-3 pcmk-4 ]" in lines


def test_anonymous_instance_fail_count_sums_every_instance(shared: Path) -> None:
    lines = _text(shared, "clone-anon-failcount", failcounts=True)
    counts = [line.split(" last-failure")[0] for line in lines if "clnUMdummy01:" in line
              and "migration-threshold" in line]
    assert counts == ["    * clnUMdummy01:1: migration-threshold=5 fail-count=3",
                      "    * clnUMdummy01:0: migration-threshold=5 fail-count=3",
                      "    * clnUMdummy01:0: migration-threshold=5 fail-count=6",
                      "    * clnUMdummy01:1: migration-threshold=5 fail-count=6"]


def test_failed_probe_text_keeps_pacemakers_trailing_space(shared: Path) -> None:
    lines = _text(shared, "failed-probe-primitive", inactive=True)
    assert "  * dummy-1\t(ocf:pacemaker:Dummy):\t Stopped (not installed) " in lines
    # an old CIB's probe entry has no on_node: Pacemaker does not find it to show
    lines = _text(shared, "promoted-demote", inactive=True)
    assert "  * cyrus_volgroup\t(ocf:heartbeat:VolGroup):\t Stopped" in lines


def test_pending_action_names_its_node(shared: Path) -> None:
    lines = _text(shared, "735", inactive=True)
    assert "  * rsc_hadev3\t(ocf:heartbeat:IPaddr):\t Starting hadev2" in lines


@pytest.mark.parametrize(("case", "fragment"), [
    ("bug-lf-2361", '<resource_history id="service2:1" orphan="false"'),
    ("force-anon-clone-max", '<resource id="dummy1:1" resource_agent="ocf:pacemaker:Dummy"'),
    ("failcount", '<resource id="re-openfire-lsb" resource_agent="lsb:openfire" role="Stopped" '
                  'target_role="Started"'),
])
def test_xml_ids_and_attributes(shared: Path, case: str, fragment: str) -> None:
    assert fragment in _xml(shared, case)
