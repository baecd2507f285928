"""The recorder writes lrm_rsc_op entries as Pacemaker does; Pacemaker's tools read them back.

Oracle tests build a CIB from examples/cib-3node.xml plus a recorded sequence of results and
ask Debian's crm_verify and crm_simulate what they see; the expected states are written out
by hand from the sequence (what ran where), not taken from our output.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from crmd.graph import transition_key
from crmd.recorder import Recorder, merge_status, timeout_record
from lrmd.api import AgentSpec, OpCompleted, op_digest
from pengine.api import GraphAction, GraphResource
from tests.oracle import pacemaker_tool

ROOT = Path(__file__).resolve().parents[3]
DUMMY = AgentSpec("ocf", "Dummy", "heartbeat")
IPADDR = AgentSpec("ocf", "IPaddr2", "heartbeat")
WALL = 1_700_000_000.0
DC = "1"


PARAMS = {"service-ip": {"ip": "10.77.0.100", "cidr_netmask": "24"},
          "app-data": {"state": "/run/hacluster/app-data.state"}}


def result(call_id: int, resource: str, action: str, rc: int, *, interval: int = 0,
           status: int = 0, agent: AgentSpec = DUMMY, reason: str = "") -> OpCompleted:
    params = PARAMS.get(resource, {})
    return OpCompleted(call_id=call_id, resource=resource, agent=agent, action=action,
                       interval_ms=interval, rc=rc, status=status, exit_reason=reason,
                       exec_time_ms=12, queue_time_ms=0, last_run=WALL + call_id,
                       last_rc_change=WALL + call_id, params=params,
                       op_digest=op_digest(params, interval, 20000))


def key(action_id: int, target: int = 0) -> str:
    return transition_key(action_id, 1, target, DC)


def ops_of(xml: str) -> dict[str, dict[str, str]]:
    root = etree.fromstring(xml)
    return {str(op.get("id")): dict(op.attrib) for op in root.iter("lrm_rsc_op")}


def test_successful_start_is_last_0_with_pacemakers_attributes() -> None:
    recorder = Recorder("alpha", "1")
    xml = recorder.record(result(5, "r", "start", 0), key(3))
    assert xml is not None
    root = etree.fromstring(xml)
    assert (root.tag, root.get("id"), root.get("uname")) == ("node_state", "1", "alpha")
    assert root.get("crm-debug-origin") == "do_update_resource"
    assert [e.tag for e in root.iter()] == ["node_state", "lrm", "lrm_resources",
                                            "lrm_resource", "lrm_rsc_op"]
    rsc = root.find("lrm/lrm_resources/lrm_resource")
    assert rsc is not None and dict(rsc.attrib) == {"id": "r", "type": "Dummy",
                                                   "class": "ocf", "provider": "heartbeat"}
    op = ops_of(xml)["r_last_0"]
    assert list(op) == ["id", "operation_key", "operation", "crm-debug-origin",
                        "crm_feature_set", "transition-key", "transition-magic",
                        "exit-reason", "on_node", "call-id", "rc-code", "op-status",
                        "interval", "last-rc-change", "exec-time", "queue-time", "op-digest"]
    padded = "1" + " " * 35
    assert op["transition-key"] == f"3:1:0:{padded}"
    assert op["transition-magic"] == f"0:0;3:1:0:{padded}"
    assert op["operation_key"] == "r_start_0" and op["call-id"] == "5"
    assert op["last-rc-change"] == str(int(WALL) + 5) and op["exit-reason"] == ""


def test_failed_one_shot_writes_last_failure_and_last() -> None:
    recorder = Recorder("alpha", "1")
    xml = recorder.record(result(5, "r", "start", 1, reason="boom"), key(3))
    assert xml is not None
    ops = ops_of(xml)
    assert set(ops) == {"r_last_failure_0", "r_last_0"}
    assert ops["r_last_0"]["rc-code"] == "1" and ops["r_last_0"]["exit-reason"] == "boom"


def test_failed_recurring_monitor_only_writes_last_failure() -> None:
    recorder = Recorder("alpha", "1")
    xml = recorder.record(result(9, "r", "monitor", 1, interval=10000), key(4))
    assert xml is not None and set(ops_of(xml)) == {"r_last_failure_0"}


def test_probe_not_running_is_success_against_target_7() -> None:
    recorder = Recorder("alpha", "1")
    xml = recorder.record(result(2, "r", "monitor", 7), key(1, target=7))
    assert xml is not None and set(ops_of(xml)) == {"r_last_0"}
    assert ops_of(xml)["r_last_0"]["transition-magic"].startswith("0:7;1:1:7:")


def test_cancel_notify_and_cancelled_results_are_not_recorded() -> None:
    recorder = Recorder("alpha", "1")
    recorder.record(result(3, "r", "monitor", 0, interval=10000), key(2))
    assert recorder.record(result(4, "r", "notify", 0), key(5)) is None
    assert recorder.record(result(3, "r", "monitor", 0, interval=10000, status=1)) is None
    assert "r_monitor_10000" not in recorder.lrm_xml()


def test_rebuilt_lrm_holds_failure_last_and_recurring_in_that_order() -> None:
    recorder = Recorder("alpha", "1")
    recorder.record(result(1, "r", "monitor", 7), key(1, 7))
    recorder.record(result(2, "r", "start", 0), key(2))
    recorder.record(result(3, "r", "monitor", 0, interval=10000), key(3))
    recorder.record(result(4, "r", "monitor", 1, interval=10000), key(3))
    lrm = etree.fromstring(recorder.lrm_xml())
    ids = [op.get("id") for op in lrm.iter("lrm_rsc_op")]
    # failure first; its one-shot copy is not made for a recurring op; then last; recurring
    # monitor's newest result was the failure, written under last_failure (already there)
    assert ids == ["r_last_failure_0", "r_last_0"]
    last = next(op for op in lrm.iter("lrm_rsc_op") if op.get("id") == "r_last_0")
    assert last.get("operation") == "start"
    assert all(op.get("crm-debug-origin") == "build_active_RAs"
               for op in lrm.iter("lrm_rsc_op"))


def test_stop_drops_recurring_entries_from_memory() -> None:
    recorder = Recorder("alpha", "1")
    recorder.record(result(2, "r", "start", 0), key(2))
    recorder.record(result(3, "r", "monitor", 0, interval=10000), key(3))
    assert "r_monitor_10000" in recorder.lrm_xml()
    recorder.record(result(5, "r", "stop", 0), key(4))
    assert "r_monitor_10000" not in recorder.lrm_xml()


def test_pending_record_and_synthesized_timeout() -> None:
    recorder = Recorder("alpha", "1")
    op = ops_of(recorder.pending("r", DUMMY, "start", 0, key(2), WALL))["r_last_0"]
    assert (op["call-id"], op["rc-code"], op["op-status"]) == ("-1", "193", "-1")
    action = GraphAction(id=7, kind="rsc_op", operation="start", operation_key="r_start_0",
                         on_node="alpha", on_node_uuid="1",
                         resource=GraphResource("r", None, "ocf", "heartbeat", "Dummy"),
                         attributes=())
    xml = timeout_record("alpha", "1", action, key(7), "Controller on alpha did not return "
                         "result in time", WALL)
    ops = ops_of(xml)
    assert set(ops) == {"r_last_failure_0", "r_last_0"}
    failure = ops["r_last_failure_0"]
    assert (failure["op-status"], failure["rc-code"], failure["call-id"]) == ("2", "1", "-1")
    assert failure["crm-debug-origin"] == "controld_record_action_event"


def test_a_synthesized_timeout_records_an_anonymous_instance_under_its_primitive_id() -> None:
    """controld_record_action_timeout names the lrm_resource (and its entries) after the
    action's <primitive id>: an anonymous clone instance d:0 is recorded as "d"."""
    action = GraphAction(id=7, kind="rsc_op", operation="start", operation_key="d_start_0",
                         on_node="alpha", on_node_uuid="1",
                         resource=GraphResource("d", "d:0", "ocf", "heartbeat", "Dummy"),
                         attributes=())
    xml = timeout_record("alpha", "1", action, key(7), "timed out", WALL)
    resources = etree.fromstring(xml).findall("lrm/lrm_resources/lrm_resource")
    assert [r.get("id") for r in resources] == ["d"]
    assert set(ops_of(xml)) == {"d_last_failure_0", "d_last_0"}


# --- oracle: Pacemaker's tools read what we recorded ---------------------------------------


def _recorded_cib() -> bytes:
    """Probes everywhere, heartbeat-probe on alpha, service-ip and app-data on beta, and
    app-data's monitor failing with a generic error on beta; app-daemon never started."""
    cib = etree.parse(str(ROOT / "examples" / "cib-3node.xml")).getroot()
    status = cib.find("status")
    assert status is not None
    agents = {"heartbeat-probe": DUMMY, "service-ip": IPADDR, "app-data": DUMMY,
              "app-daemon": DUMMY}
    call = 0
    for node, node_id in (("alpha", "1"), ("beta", "2"), ("gamma", "3")):
        recorder = Recorder(node, node_id)
        for rsc, agent in agents.items():
            call += 1
            merge_status(status, str(recorder.record(
                result(call, rsc, "monitor", 7, agent=agent), key(call, 7))))
        plan = {"alpha": [("heartbeat-probe", "start", 0, 0), ("heartbeat-probe", "monitor",
                                                                10000, 0)],
                "beta": [("service-ip", "start", 0, 0), ("service-ip", "monitor", 15000, 0),
                         ("app-data", "start", 0, 0), ("app-data", "monitor", 20000, 0),
                         ("app-data", "monitor", 20000, 1)]}.get(node, [])
        for rsc, action, interval, rc in plan:
            call += 1
            merge_status(status, str(recorder.record(
                result(call, rsc, action, rc, interval=interval, agent=agents[rsc]),
                key(call))))
    return etree.tostring(cib)


def _run(tool: str, args: list[str], path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIB_file": str(path), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.run([tool, *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


@pytest.mark.oracle
def test_crm_verify_accepts_recorded_status(tmp_path: Path) -> None:
    tool = pacemaker_tool("crm_verify")
    if tool is None:
        pytest.skip("Debian's crm_verify is not installed")
    path = tmp_path / "cib.xml"
    path.write_bytes(_recorded_cib())
    done = _run(tool, ["-x", str(path)], path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.oracle
def test_crm_simulate_reads_the_state_we_recorded(tmp_path: Path) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    path = tmp_path / "cib.xml"
    path.write_bytes(_recorded_cib())
    done = _run(tool, ["-x", str(path), "-S"], path)
    assert done.returncode == 0, done.stderr
    current = done.stdout.split("Current cluster status:", 1)[1].split("Transition Summary", 1)[0]
    lines = {re.sub(r"\s+", " ", line.strip()) for line in current.splitlines()}
    assert "* heartbeat-probe (ocf:heartbeat:Dummy): Started alpha" in lines
    assert "* service-ip (ocf:heartbeat:IPaddr2): Started beta" in lines
    assert "* app-data (ocf:heartbeat:Dummy): FAILED beta" in lines
    assert "* app-daemon (ocf:heartbeat:Dummy): Stopped" in lines
    assert "* Online: [ alpha beta gamma ]" in lines
    # digests match the configuration, so the only plan is to recover the failed monitor
    # and start the group's second member behind it
    summary = done.stdout.split("Transition Summary:", 1)[1].split("Executing", 1)[0]
    planned = {re.sub(r"\s+", " ", line.strip()) for line in summary.splitlines()} - {""}
    assert planned == {"* Recover app-data ( beta )", "* Start app-daemon ( beta )"}


def test_results_in_decodes_what_the_recorder_wrote() -> None:
    from crmd.recorder import results_in

    recorder = Recorder("alpha", "1")
    xml = recorder.record(result(5, "r", "start", 1, reason="boom"), key(3))
    assert xml is not None
    found = results_in(xml, 7.0)
    assert len(found) == 2  # _last_failure_0 and _last_0 copies
    first = found[0]
    assert (first.transition_key, first.node, first.rc, first.status) == (key(3), "alpha", 1, 0)
    assert (first.resource, first.task, first.exit_reason) == ("r", "start", "boom")
    assert results_in(recorder.pending("r", DUMMY, "stop", 0, key(4), WALL), 8.0) == []
