"""What a controller takes of each published CIB diff (`CibLink._on_diff`): the DC every
event `diff_events` gives; a non-DC only the version of a status change (Pacemaker's
controller handles diffs in `te_update_diff` only while DC), and still the configuration
changes that may move its timers; the DC's kept copy goes when a patch is skipped."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from lxml import etree

from cib.api import CibDiff, create_patchset, parse
from crmd.cib_link import CibLink
from crmd.messages import CibChanged, StatusUpdated
from messaging.logs import get_logger

BEFORE = ('<cib epoch="3" num_updates="1" admin_epoch="0"><configuration>'
          '<crm_config><cluster_property_set id="o"/></crm_config>'
          '<nodes/><resources/><constraints/></configuration><status>'
          '<node_state id="2" uname="n2" in_ccm="true" crmd="online"/></status></cib>')
RESULT = ('<node_state id="2" uname="n2" in_ccm="true" crmd="online"><lrm id="2"><lrm_resources>'
          '<lrm_resource id="r" type="Dummy" class="ocf" provider="heartbeat">'
          '<lrm_rsc_op id="r_last_0" operation="start" rc-code="0" op-status="0" '
          'transition-key="1:0:0:dc" call-id="3" interval="0"/></lrm_resource>'
          '</lrm_resources></lrm></node_state>')
STATUS_AFTER = BEFORE.replace('num_updates="1"', 'num_updates="2"').replace(
    '<node_state id="2" uname="n2" in_ccm="true" crmd="online"/>', RESULT)
CONFIG_AFTER = BEFORE.replace('epoch="3"', 'epoch="4"').replace(
    '<cluster_property_set id="o"/>', '<cluster_property_set id="o"><nvpair id="o-e" '
    'name="election-timeout" value="5s"/></cluster_property_set>')


def _diff(after: str) -> CibDiff:
    patch = create_patchset(parse(BEFORE), parse(after))
    assert patch is not None
    root = parse(after)
    version = (int(root.get("admin_epoch", "0")), int(root.get("epoch", "0")),
               int(root.get("num_updates", "0")))
    return CibDiff(etree.tostring(patch, encoding="unicode"), version)


def _taken(diffs: list[CibDiff], leading: bool, kept: bool = False) -> tuple[list[Any], bool]:
    """The events `leading` or following controller gets from `diffs`, and whether the
    link still keeps a copy (`kept`: it kept one of BEFORE to start with)."""

    async def run() -> tuple[list[Any], bool]:
        with tempfile.TemporaryDirectory() as directory:
            link = CibLink(Path(directory), get_logger(daemon="crmd", node="n1"))
            if kept:
                link.copy.adopt(BEFORE)
            events: list[Any] = []
            try:
                for diff in diffs:
                    link._on_diff(diff, events.append, 1.0, 2.0, leading)
            finally:
                link.close()
            return events, link.copy.tree is not None

    return asyncio.run(run())


def test_a_follower_takes_only_the_version_of_a_status_change() -> None:
    events, _ = _taken([_diff(STATUS_AFTER)], leading=False)
    assert events == [CibChanged((0, 3, 2), 1.0, wall=2.0, timing_changed=False)]
    assert events[0].abort_reason == ""


def test_the_dc_still_gets_the_results_a_status_change_carries() -> None:
    events, _ = _taken([_diff(STATUS_AFTER)], leading=True)
    assert [type(event) for event in events] == [CibChanged, StatusUpdated]
    assert "r_last_0" in events[1].status_xml


def test_a_follower_still_sees_a_configuration_change_that_may_move_its_timers() -> None:
    events, _ = _taken([_diff(CONFIG_AFTER)], leading=False)
    assert len(events) == 1 and events[0].config_changed and events[0].timing_changed
    assert events[0].version == (0, 4, 1)


def test_a_skipped_patch_drops_the_kept_copy_an_applied_one_keeps_it() -> None:
    assert _taken([_diff(STATUS_AFTER)], leading=True, kept=True)[1] is True
    assert _taken([_diff(STATUS_AFTER)], leading=False, kept=True)[1] is False
