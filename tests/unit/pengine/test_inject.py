"""Synthetic events written into the CIB, and -F failures in the simulator (no Pacemaker needed).

Expected values are what Debian's crm_simulate 2.1.5 wrote for the same requests on
examples/cib-3node.xml (its -I/-O files and its "Performing Requested Modifications").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from messaging.errors import NotFoundError
from pengine.graph_xml import Synapse
from pengine.inject import Injections, inject
from pengine.model import Action
from pengine.opspec import OpSpec, parse_op_spec, parse_operation_key
from pengine.simulate import simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples/cib-3node.xml"
NOW = 1796521652


def _cib() -> etree._Element:
    return etree.parse(str(EXAMPLE)).getroot()


@pytest.mark.parametrize(("text", "fields"), [
    ("bogus", "Only found 1 fields"), ("@alpha=1", "Only found 0 fields"),
    ("rsc_start_0@=1", "Only found 1 fields"), ("rsc_start_0@alpha", "Only found 2 fields"),
    ("rsc_start_0@alpha=abc", "Only found 2 fields")])
def test_malformed_specs_are_messages_naming_the_option(text: str, fields: str) -> None:
    message = parse_op_spec(text)
    assert isinstance(message, str)
    assert message.startswith(f"Invalid operation spec: {text}.  {fields}")
    assert "-i/--op-inject" in message


def test_spec_and_key_parsing() -> None:
    assert parse_op_spec("memcached:0_monitor_20000@bart=7 ") == OpSpec(
        "memcached:0_monitor_20000@bart=7 ", "memcached:0", "monitor", 20000, "bart", 7)
    assert parse_operation_key("vm_migrate_to_0") == ("vm", "migrate_to", 0)
    assert parse_operation_key("service-ip_start") is None


def test_nodes_tickets_quorum_and_watchdog() -> None:
    requested = Injections(quorum="0", watchdog="1", node_up=("delta",), node_down=("beta",),
                           node_fail=("gamma",), ticket_grant=("t1",), ticket_standby=("t3",))
    result = inject(_cib(), requested, NOW)
    assert [step.text() for step in result.modifications] == [
        "Setting quorum: 0", "Setting watchdog: 1", "Bringing node delta online",
        "Taking node beta offline", "Failing node gamma", "Granting ticket t1",
        "Making ticket t3 standby"]
    cib = result.cib
    assert cib.get("have-quorum") == "0"
    watchdog = cib.find(".//nvpair[@id='cib-bootstrap-options-have-watchdog']")
    assert watchdog is not None and watchdog.get("value") == "1"
    assert cib.find("configuration/nodes/node[@uname='delta']") is not None
    states = {s.get("uname"): s for s in cib.iterfind("status/node_state")}
    assert (states["beta"].get("in_ccm"), states["beta"].get("crmd"),
            states["beta"].get("expected")) == ("false", "offline", "down")
    assert (states["gamma"].get("in_ccm"), states["gamma"].get("crmd")) == ("false", "online")
    assert states["delta"].get("id") == "delta" and states["delta"].get("join") == "member"
    tickets = {t.get("id"): dict(t.attrib) for t in cib.iterfind("status/tickets/ticket_state")}
    assert tickets == {"t1": {"id": "t1", "granted": "true"},
                       "t3": {"id": "t3", "standby": "true"}}


def test_quorum_alone_changes_nothing() -> None:
    result = inject(_cib(), Injections(quorum="0"), NOW)
    assert result.modifications == () and result.cib.get("have-quorum") == "1"


def test_injected_failures_and_fail_counts() -> None:
    spec = "service-ip_monitor_15000@alpha=7"
    result = inject(_cib(), Injections(op_inject=(spec, spec, "app-data_stop_0@beta=1")), NOW)
    state = result.cib.find("status/node_state[@uname='alpha']")
    assert state is not None
    ops = {op.get("id"): op for op in state.iter("lrm_rsc_op")}
    assert set(ops) == {"service-ip_last_failure_0"}  # a failed recurring op: no _last_0
    failure = ops["service-ip_last_failure_0"]
    assert (failure.get("call-id"), failure.get("rc-code"), failure.get("exit-reason"),
            failure.get("transition-key")) == (
        "2", "7", "Simulated action result", "2:-1:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    counts = {p.get("name"): p.get("value") for p in state.iter("nvpair")}
    assert counts["fail-count-service-ip#monitor_15000"] == "2"  # value++ twice
    assert counts["last-failure-service-ip#monitor_15000"] == str(NOW)
    beta = result.cib.find("status/node_state[@uname='beta']")
    assert beta is not None
    assert {op.get("id") for op in beta.iter("lrm_rsc_op")} == \
        {"app-data_last_failure_0", "app-data_last_0"}
    assert [step.kind for step in result.modifications] == ["spec", "attr", "attr"] * 3


def test_unknown_node_is_refused_before_anything_changes() -> None:
    cib = _cib()
    before = etree.tostring(cib)
    with pytest.raises(NotFoundError, match="-f/--node-fail: no node named 'nonode'"):
        inject(cib, Injections(node_up=("delta",), node_fail=("nonode",)), NOW)
    assert etree.tostring(cib) == before


def _action(aid: int, key: str, task: str, node: str) -> Action:
    return Action(id=aid, key=key, task=task, resource="rsc1", node=node, node_id="1",
                  interval_ms=0, pseudo=False, optional=False, runnable=True,
                  agent="ocf:heartbeat:Dummy")


def test_op_fail_stops_the_transition_and_counts_the_failure() -> None:
    start = _action(1, "rsc1_start_0", "start", "alpha")
    monitor = _action(2, "rsc1_monitor_0", "monitor", "alpha")
    after = _action(3, "rsc1_stop_0", "stop", "alpha")
    synapses = (Synapse(0, start, ()), Synapse(1, monitor, (start,)), Synapse(2, after, (start,)))
    cib = etree.fromstring(b"<cib><configuration><resources/></configuration><status>"
                           b'<node_state id="1" uname="alpha"/></status></cib>')
    result = simulate(cib, synapses, now=100, op_fail=("RSC1_start_0@alpha=1",),
                      failure_now=NOW)
    assert result.failed == start and result.fired == (start,)
    assert result.lines == (
        "  * Resource action: rsc1            start on alpha",
        "Pretending action 1 failed with rc=1",
        "  * Injecting attribute fail-count-rsc1#start_0=value++ into /node_state '1'",
        f"  * Injecting attribute last-failure-rsc1#start_0={NOW} into /node_state '1'")
    ops = {op.get("id"): op.get("exit-reason") for op in result.cib.iter("lrm_rsc_op")}
    assert ops == {"rsc1_last_failure_0": "User-injected result",
                   "rsc1_last_0": "User-injected result"}
