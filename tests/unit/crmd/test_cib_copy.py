"""The DC's kept CIB copy (`crmd.cib_copy.FollowedCopy`): a reader gets the copy with its
unanswered writes on top, applied as the cib applies them, and the kept tree never
changes under it (the scheduler may change what it is given)."""

from __future__ import annotations

from lxml import etree

from crmd.cib_copy import FollowedCopy
from crmd.cib_events import attribute_write, write_of
from crmd.join import node_state_xml
from crmd.messages import DeleteCib, ModifyCib

CIB = ('<cib epoch="3" num_updates="1" admin_epoch="0"><configuration><crm_config/>'
       '<nodes/><resources/><constraints/></configuration><status>'
       '<node_state id="1" uname="n1" in_ccm="true" crmd="online"/>'
       '<node_state id="2" uname="n2" in_ccm="true" crmd="online"/></status></cib>')


def _kept() -> tuple[FollowedCopy, etree._Element, bytes]:
    followed = FollowedCopy()
    base = followed.adopt(CIB)
    return followed, base, etree.tostring(base)


def test_the_writes_are_applied_in_order_on_a_copy_and_the_kept_tree_is_untouched() -> None:
    followed, base, before = _kept()
    writes = [write_of(ModifyCib("status", node_state_xml("2", "n2", "post_cache_update",
                                                          in_ccm=False, crmd_online=False))),
              attribute_write("1", "n1", "fail-count-x", "1"),
              attribute_write("1", "n1", "fail-count-x", "2"),  # merged run: the last wins
              write_of(DeleteCib("/cib/status/node_state[@id='1']/transient_attributes"
                                 "//nvpair[@value='2']")),
              attribute_write("1", "n1", "other", "3")]
    read = followed.with_writes(base, writes)
    assert etree.tostring(base) == before
    two = read.find("status/node_state[@id='2']")
    assert two is not None and (two.get("in_ccm"), two.get("crmd")) == ("false", "offline")
    names = [p.get("name") for p in read.iterfind("status/node_state[@id='1']//nvpair")]
    assert names == ["other"], "the delete came after the two values, the last write after"


def test_a_read_without_writes_or_with_only_failing_writes_is_still_a_copy() -> None:
    followed, base, before = _kept()
    for writes in ([], [write_of(ModifyCib("nodes", "<not-a-node"))]):
        read = followed.with_writes(base, writes)
        assert read is not base
        read.set("epoch", "99")  # the scheduler may change what it is given
        assert etree.tostring(base) == before


def test_one_parsed_patch_serves_the_copy_and_the_events_and_is_left_as_it_came() -> None:
    from cib.api import create_patchset, parse
    from crmd.cib_events import diff_events

    followed, base, _ = _kept()
    after = parse(CIB.replace('epoch="3"', 'epoch="4"').replace(
        '<node_state id="2" uname="n2" in_ccm="true" crmd="online"/>',
        '<node_state id="2" uname="n2" in_ccm="true" crmd="online"><lrm id="2">'
        '<lrm_resources><lrm_resource id="r" type="Dummy" class="ocf" provider="heartbeat">'
        '<lrm_rsc_op id="r_last_0" operation="start" rc-code="0"/></lrm_resource>'
        '</lrm_resources></lrm></node_state>').replace(
        '<node_state id="1" uname="n1" in_ccm="true" crmd="online"/>', ''))
    created = create_patchset(base, after)
    assert created is not None
    text = etree.tostring(created, encoding="unicode")
    patch = parse(text)
    followed.on_patch(patch, (0, 4, 0))
    assert followed.tree is not None and followed.applied == 1
    assert etree.tostring(followed.tree) == etree.tostring(after)
    assert etree.tostring(patch, encoding="unicode") == text, "the copy took nothing from it"
    events = diff_events(patch, (0, 4, 0), 1.0)
    assert events == diff_events(text, (0, 4, 0), 1.0)
    assert len(events) == 2 and events[0].history_removed is False
