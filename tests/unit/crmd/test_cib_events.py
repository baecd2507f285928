"""crmd.cib_events: the controller's CIB effects as cib writes (applied here by the cib's own
operations), and the cib's change notifications as controller events."""

from __future__ import annotations

from lxml import etree

from cib.model import empty_cib
from cib.ops import perform
from cib.request import Op, Request
from cib.xmlio import Element, element_text
from crmd.api import (
    CibChanged,
    ClearFailures,
    DeleteCib,
    ModifyCib,
    StatusUpdated,
    results_in,
    transition_key,
)
from crmd.cib_events import (
    attribute_write,
    diff_events,
    failure_names,
    incremented,
    merged_status,
    write_of,
)
from crmd.recorder import Recorder
from lrmd.api import AgentSpec, OpCompleted
from messaging.errors import HAError

DUMMY = AgentSpec("ocf", "Dummy", "heartbeat")


class Cib:
    """A CIB changed by wire requests, keeping the last patch as the daemon publishes it."""

    def __init__(self) -> None:
        self.tree: Element = empty_cib(epoch=1)
        self.patch = ""

    def apply(self, request: object) -> None:
        outcome = perform(self.tree, request.request())  # type: ignore[attr-defined]
        self.tree = outcome.cib
        self.patch = element_text(outcome.patch) if outcome.patch is not None else ""

    def events(self) -> list[CibChanged | StatusUpdated]:
        version = tuple(int(self.tree.get(k, "0"))
                        for k in ("admin_epoch", "epoch", "num_updates"))
        return diff_events(self.patch, version, 5.0)


def _start_record(rc: int, call_id: int) -> str:
    key = transition_key(3, 7, 0, "1")
    result = OpCompleted(call_id, "d1", DUMMY, "start", 0, rc, 0, last_run=100.0,
                         last_rc_change=100.0)
    xml = Recorder("n1", "1").record(result, key)
    assert xml is not None
    return xml


def test_a_recorded_result_reaches_the_dc_as_a_status_update() -> None:
    cib = Cib()
    cib.apply(write_of(ModifyCib("status", _start_record(0, 4))))
    changed, status = cib.events()
    assert isinstance(changed, CibChanged) and isinstance(status, StatusUpdated)
    assert not changed.config_changed and not changed.attributes_changed
    [result] = results_in(status.status_xml, 5.0)
    assert (result.transition_key, result.node, result.rc, result.resource, result.task) == (
        transition_key(3, 7, 0, "1"), "n1", 0, "d1", "start")


def test_a_changed_record_names_its_resource_from_the_path() -> None:
    cib = Cib()
    cib.apply(write_of(ModifyCib("status", _start_record(0, 4))))
    cib.apply(write_of(ModifyCib("status", _start_record(1, 5))))
    assert "operation=\"modify\"" in cib.patch  # the record changed in place
    results = results_in(cib.events()[1].status_xml, 5.0)  # type: ignore[union-attr]
    # the failed start changes _last_0 and creates _last_failure_0: both carry the result
    assert [(r.resource, r.rc) for r in results] == [("d1", 1), ("d1", 1)]


def test_configuration_and_attribute_changes_are_told_apart() -> None:
    cib = Cib()
    cib.apply(write_of(ModifyCib("cib", '<cib have-quorum="1" dc-uuid="1"/>')))
    [changed] = cib.events()  # root attributes: neither configuration nor attributes
    assert isinstance(changed, CibChanged)
    assert not changed.config_changed and not changed.attributes_changed
    primitive = '<primitive id="d2" class="ocf" provider="heartbeat" type="Dummy"/>'
    from cib.api import WireRequest

    cib.apply(WireRequest("create", primitive, "resources"))
    [changed] = cib.events()
    assert isinstance(changed, CibChanged) and changed.config_changed
    cib.apply(attribute_write("1", "n1", "fail-count-d1#start_0", "INFINITY"))
    [changed] = cib.events()
    assert isinstance(changed, CibChanged) and changed.attributes_changed
    assert not changed.config_changed


def test_attributes_are_written_as_attrd_writes_them() -> None:
    cib = Cib()
    cib.apply(attribute_write("1", "n1", "fail-count-d1#start_0", "INFINITY"))
    pair = cib.tree.find("status/node_state[@id='1']/transient_attributes[@id='1']"
                         "/instance_attributes[@id='status-1']/nvpair")
    assert pair is not None
    assert (pair.get("id"), pair.get("name"), pair.get("value")) == (
        "status-1-fail-count-d1.start_0", "fail-count-d1#start_0", "INFINITY")


def test_clearing_failures_removes_only_that_resources_counts() -> None:
    cib = Cib()
    for name in ("fail-count-d1#start_0", "last-failure-d1#start_0",
                 "fail-count-d10#start_0", "master-d1"):
        cib.apply(attribute_write("1", "n1", name, "1"))
    cib.apply(write_of(ClearFailures("n1", "d1")))
    left = [p.get("name") for p in cib.tree.iter("nvpair")]
    assert left == ["fail-count-d10#start_0", "master-d1"]


def test_the_names_to_forget_in_attrd_are_those_the_clearing_delete_matches() -> None:
    cib = Cib()
    for name in ("fail-count-d1#start_0", "last-failure-d1#monitor_10000",
                 "fail-count-d10#start_0", "master-d1"):
        cib.apply(attribute_write("1", "n1", name, "1"))
    xpath = write_of(ClearFailures("n1", "d1")).xpath
    several = perform(cib.tree, Request(Op.QUERY, xpath=xpath)).output
    assert several is not None
    assert failure_names(element_text(several)) == [
        "fail-count-d1#start_0", "last-failure-d1#monitor_10000"]
    one = failure_names('<nvpair id="x" name="fail-count-d1#start_0" value="2"/>')
    assert one == ["fail-count-d1#start_0"]
    assert failure_names("not xml") == []


def test_deleted_resource_history_asks_the_dc_to_replan() -> None:
    cib = Cib()
    cib.apply(write_of(ModifyCib("status", _start_record(0, 4))))
    assert [e.abort_reason for e in cib.events() if isinstance(e, CibChanged)] == [""]
    cib.apply(write_of(DeleteCib("/cib/status/node_state[@id='1']/lrm")))
    changed = [e for e in cib.events() if isinstance(e, CibChanged)]
    assert [(e.abort_reason, e.removals) for e in changed] == [
        ("", (("1", "Resource state removal"),))], "aborts unless node 1 goes down"
    cib.apply(attribute_write("1", "n1", "fail-count-d1#start_0", "1"))
    cib.apply(write_of(ClearFailures("n1", "d1")))
    changed = [e for e in cib.events() if isinstance(e, CibChanged)]
    assert [(e.abort_reason, e.removals) for e in changed] == [
        ("", (("1", "Transient attribute: removal"),))]
    cib.apply(write_of(ModifyCib("status", _start_record(0, 4))))
    cib.apply(write_of(DeleteCib("//lrm_rsc_op[@id='d1_last_0']")))
    changed = [e for e in cib.events() if isinstance(e, CibChanged)]
    assert [(e.history_removed, e.abort_reason) for e in changed] == [
        (True, "Resource operation removal")]


def test_a_delete_that_matches_nothing_changes_nothing() -> None:
    cib = Cib()
    before = etree.tostring(cib.tree)
    cib.apply(write_of(DeleteCib("/cib/status/node_state[@id='9']/lrm")))
    assert etree.tostring(cib.tree) == before and cib.patch == ""


def test_status_merges_combine_in_order_and_refuse_other_writes() -> None:
    first = write_of(ModifyCib("status", '<node_state id="1" uname="n1" in_ccm="true"/>'))
    second = write_of(ModifyCib("status", '<node_state id="1" uname="n1" crmd="online"/>'))
    merged = merged_status([first, second])
    assert merged is not None
    cib = Cib()
    cib.apply(merged)
    state = cib.tree.find("status/node_state")
    assert state is not None and (state.get("in_ccm"), state.get("crmd")) == ("true", "online")
    assert merged_status([first, write_of(DeleteCib("/cib/status"))]) is None
    assert merged_status([first]) is None


def test_increments_follow_attrd() -> None:
    assert incremented(None, "value++") == "1"
    assert incremented("2", "value++") == "3"
    assert incremented("INFINITY", "value++") == "INFINITY"
    assert incremented("2", "value+=5") == "7"
    assert incremented("2", "INFINITY") == "INFINITY"


def test_a_patch_that_does_not_parse_means_nothing() -> None:
    assert diff_events("<diff", (0, 1, 2), 1.0) == []


def test_unanswered_writes_read_ahead_as_the_cib_applies_them() -> None:
    """cib.api.with_writes (the DC's scheduler input) holds what the cib's own operations
    make of the same writes, refused ones left out."""
    from cib.api import WireRequest, with_writes

    writes = [write_of(ModifyCib("status", _start_record(0, 4))),
              attribute_write("1", "n1", "fail-count-d1#start_0", "3"),
              WireRequest("create", '<primitive id="x"/>', "nowhere"),  # refused
              write_of(ClearFailures("n1", "d1")),
              write_of(ModifyCib("cib", '<cib have-quorum="1"/>'))]
    cib = Cib()
    start = element_text(cib.tree, pretty=False)
    for write in writes:
        try:
            cib.apply(write)
        except HAError:  # the refused write
            continue
    ahead = etree.fromstring(with_writes(start, writes).encode())
    assert etree.tostring(ahead.find("status")) == etree.tostring(cib.tree.find("status"))
    assert ahead.get("have-quorum") == "1"


def test_only_a_write_whose_outcome_the_view_change_left_unknown_is_sent_again() -> None:
    from crmd.cib_events import resend_refused

    assert resend_refused(102)  # DISCONNECT: the view or master changed before confirming
    assert not resend_refused(0)
    assert not resend_refused(78)  # a schema refusal would be refused again
    assert not resend_refused(105)


def test_only_a_change_that_may_move_a_timing_option_asks_to_re_read_them() -> None:
    from cib.api import WireRequest

    cib = Cib()
    options = ('<cluster_property_set id="opts"><nvpair id="o1" name="bench-w0" value="1"/>'
               '<nvpair id="o2" name="dc-deadtime" value="5s"/></cluster_property_set>')
    cib.apply(WireRequest("create", options, "crm_config"))
    [created] = cib.events()
    assert isinstance(created, CibChanged) and created.timing_changed
    cib.apply(WireRequest("modify", '<nvpair id="o1" name="bench-w0" value="2"/>',
                          "crm_config"))
    [other] = cib.events()
    assert isinstance(other, CibChanged) and other.config_changed
    assert not other.timing_changed
    cib.apply(WireRequest("modify", '<nvpair id="o2" name="dc-deadtime" value="9s"/>',
                          "crm_config"))
    [timing] = cib.events()
    assert isinstance(timing, CibChanged) and timing.timing_changed
    cib.apply(WireRequest("delete", '<nvpair id="o1"/>', "crm_config"))
    [deleted] = cib.events()  # a deletion names only the id: it may have been an option
    assert isinstance(deleted, CibChanged) and deleted.timing_changed
