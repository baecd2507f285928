"""The simulator: fire order against Pacemaker's own graphs, and what it writes into the CIB."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from lxml import etree

from pengine.model import Action
from pengine.simulate import (
    action_line,
    apply,
    fire_order,
    key_resource,
    operation_digest,
    simulate,
)
from tests.unit.pengine.exp_reader import read_exp, summary_section

CIB = b"""<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0">
  <configuration><crm_config/><nodes>
    <node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive id="rsc1" class="ocf" provider="heartbeat" type="Dummy"/>
      <primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="ip-ia"><nvpair id="ip-a" name="ip" value="10.0.0.5"/>
        </instance_attributes></primitive>
    </resources><constraints/></configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="1"/>
      <lrm id="1"><lrm_resources>
        <lrm_resource id="ip" class="ocf" provider="heartbeat" type="IPaddr2">
          <lrm_rsc_op id="ip_last_0" operation="start" call-id="7" rc-code="0" interval="0"/>
        </lrm_resource></lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status></cib>"""


def _action(aid: int, key: str, task: str, rsc: str | None, node: str | None,
            **kw: object) -> Action:
    values: dict[str, object] = {
        "id": aid, "key": key, "task": task, "resource": rsc, "node": node,
        "node_id": {"node1": "1", "node2": "2"}.get(node or ""), "interval_ms": 0,
        "pseudo": False, "optional": False, "runnable": True,
        "agent": "ocf:heartbeat:Dummy" if rsc == "rsc1" else "ocf:heartbeat:IPaddr2",
    }
    values.update(kw)
    return Action(**values)  # type: ignore[arg-type]


def _ops(cib: etree._Element, node: str) -> dict[str, etree._Element]:
    return {op.get("id", ""): op
            for op in cib.iterfind(f"status/node_state[@uname='{node}']//lrm_rsc_op")}


def _non_clone_cases(shared: Path) -> list[str]:
    with (shared / "conformance/scheduler/MANIFEST.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [row["name"] for row in rows if row["copied"] == "yes"
            and not {"clone", "promotable"} & set(row["features"].split(","))]


def test_fire_order_reproduces_pacemakers_executing_section(shared: Path) -> None:
    """For every non-clone corpus case, firing Pacemaker's own graph prints its lines."""
    base = shared / "conformance/scheduler"
    mismatched = []
    cases = _non_clone_cases(shared)
    assert len(cases) > 250
    for name in cases:
        want = [" ".join(line.split()) for line in
                summary_section(base / f"summary/{name}.summary", "Executing Cluster Transition:")
                if not line.startswith("Using the original")]
        fired = fire_order(read_exp(base / f"exp/{name}.exp"))
        got = [" ".join(line.split()) for line in map(action_line, fired) if line is not None]
        if got != want:
            mismatched.append(name)
    assert mismatched == []


def test_a_synapse_fires_in_the_same_pass_when_it_comes_after_its_input() -> None:
    first = _action(1, "rsc1_start_0", "start", "rsc1", "node1")
    later = _action(2, "rsc1_monitor_10000", "monitor", "rsc1", "node1", interval_ms=10000)
    stop = _action(3, "ip_stop_0", "stop", "ip", "node1")
    from pengine.graph_xml import Synapse
    # stop (no inputs) is first in document order, the monitor waits for the start
    order = fire_order((Synapse(0, later, (first,)), Synapse(1, stop, ()),
                        Synapse(2, first, ())))
    assert [a.id for a in order] == [3, 1, 2]
    order = fire_order((Synapse(0, first, ()), Synapse(1, later, (first,))))
    assert [a.id for a in order] == [1, 2]


def test_cycle_is_never_fired() -> None:
    from pengine.graph_xml import Synapse
    a = _action(1, "rsc1_start_0", "start", "rsc1", "node1")
    b = _action(2, "ip_start_0", "start", "ip", "node1")
    assert fire_order((Synapse(0, a, (b,)), Synapse(1, b, (a,)))) == ()


def test_line_shapes() -> None:
    assert action_line(_action(1, "rsc1_start_0", "start", "rsc1", "node1")) == \
        "  * Resource action: rsc1            start on node1"
    monitor = _action(2, "rsc1_monitor_10000", "monitor", "rsc1", "node1", interval_ms=10000)
    assert action_line(monitor) == "  * Resource action: rsc1            monitor=10000 on node1"
    assert action_line(_action(3, "grp_running_0", "running", "grp", None, pseudo=True)) == \
        "  * Pseudo action:   grp_running_0"
    fence = _action(4, "stonith-node2-reboot", "stonith", None, "node2",
                    attributes=(("CRM_meta_stonith_action", "reboot"),))
    assert action_line(fence) == "  * Fencing node2 (reboot)"
    assert action_line(_action(5, "do_shutdown-node1", "do_shutdown", None, "node1")) == \
        "  * Cluster action:  do_shutdown on node1"


def test_key_resource() -> None:
    assert key_resource("rsc:1_post_notify_demote_0") == "rsc:1"
    assert key_resource("vm_migrate_to_0") == "vm"
    assert key_resource("my_rsc_monitor_10000") == "my_rsc"
    assert key_resource("stonith-node1-reboot") is None


def test_results_are_recorded_like_the_controller_does() -> None:
    cib = etree.fromstring(CIB)
    probe = _action(10, "rsc1_monitor_0", "monitor", "rsc1", "node2",
                    attributes=(("CRM_meta_op_target_rc", "7"),))
    start = _action(11, "rsc1_start_0", "start", "rsc1", "node2")
    monitor = _action(12, "rsc1_monitor_10000", "monitor", "rsc1", "node2", interval_ms=10000,
                      attributes=(("CRM_meta_timeout", "20000"),))
    stop_ip = _action(13, "ip_stop_0", "stop", "ip", "node1")
    new = apply(cib, [probe, start, monitor, stop_ip], transition_id=3, now=1000)
    ops2 = _ops(new, "node2")
    assert set(ops2) == {"rsc1_last_0", "rsc1_monitor_10000"}  # start overwrote the probe
    last = ops2["rsc1_last_0"]
    assert (last.get("operation"), last.get("rc-code"), last.get("op-status")) == \
        ("start", "0", "0")
    # Pacemaker 2.1.5's crm_simulate -O: call ids count per resource history on the node
    # (probe 1, start 2, monitor 3) and the transition key is "<call-id>:-1:<target rc>"
    assert last.get("transition-key", "").startswith("2:-1:0:")
    assert (last.get("call-id"), ops2["rsc1_monitor_10000"].get("call-id")) == ("2", "3")
    assert _ops(new, "node1")["ip_last_0"].get("call-id") == "8"  # above the existing 7
    # op-digest of a primitive without parameters, as found in the corpus (simple4.xml)
    assert last.get("op-digest") == "f2317cad3d54cec5d7d7aa7d0bf35cf8"
    ip_last = _ops(new, "node1")["ip_last_0"]
    assert ip_last.get("operation") == "stop"
    assert ip_last.get("op-digest") == operation_digest({"ip": "10.0.0.5"})
    # the input tree is untouched
    assert _ops(cib, "node2") == {}
    assert _ops(cib, "node1")["ip_last_0"].get("operation") == "start"


def test_probe_result_keeps_target_rc() -> None:
    probe = _action(10, "rsc1_monitor_0", "monitor", "rsc1", "node2",
                    attributes=(("CRM_meta_op_target_rc", "7"),))
    new = apply(etree.fromstring(CIB), [probe])
    assert _ops(new, "node2")["rsc1_last_0"].get("rc-code") == "7"


def test_fencing_takes_node_down_and_drops_its_history() -> None:
    fence = _action(20, "stonith-node1-reboot", "stonith", None, "node1",
                    attributes=(("CRM_meta_stonith_action", "reboot"),))
    new = apply(etree.fromstring(CIB), [fence])
    state = new.find("status/node_state[@uname='node1']")
    assert state is not None
    assert (state.get("in_ccm"), state.get("crmd"), state.get("join"), state.get("expected")) == \
        ("false", "offline", "down", "down")
    assert state.find("lrm") is None and state.find("transient_attributes") is None


def test_digest_matches_corpus_entries_with_parameters(shared: Path) -> None:
    cib = etree.parse(str(shared / "conformance/scheduler/xml/bug-5143-ms-shuffle.xml")).getroot()
    primitive = cib.find(".//primitive[@id='vg1']")
    assert primitive is not None
    params = {p.get("name", ""): p.get("value", "")
              for p in primitive.iterfind("instance_attributes/nvpair")}
    digests = {op.get("op-digest") for op in cib.iterfind(".//lrm_resource[@id='vg1']/lrm_rsc_op")
               if op.get("operation") == "start"}
    assert operation_digest(params) in digests


def test_simulate_returns_lines_and_new_cib() -> None:
    from pengine.graph_xml import Synapse
    start = _action(1, "rsc1_start_0", "start", "rsc1", "node1")
    result = simulate(etree.fromstring(CIB), (Synapse(0, start, ()),))
    assert result.lines == ("  * Resource action: rsc1            start on node1",)
    assert "rsc1_last_0" in _ops(result.cib, "node1")


@pytest.mark.parametrize("key", ["rsc1_start_0"])
def test_unknown_node_state_is_created(key: str) -> None:
    action = _action(1, key, "start", "rsc1", "node3", node_id="3")
    new = apply(etree.fromstring(CIB), [action])
    assert "rsc1_last_0" in _ops(new, "node3")


def test_history_after_fencing_starts_fresh() -> None:
    fence = _action(20, "stonith-node1-reboot", "stonith", None, "node1",
                    attributes=(("CRM_meta_stonith_action", "reboot"),))
    start = _action(21, "ip_start_0", "start", "ip", "node1")
    new = apply(etree.fromstring(CIB), [fence, start])
    assert set(_ops(new, "node1")) == {"ip_last_0"}
    assert _ops(new, "node1")["ip_last_0"].get("operation") == "start"
