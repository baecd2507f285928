"""Which recorded recurring monitors still run: only those since the last start.

Found in the lab: db ran on n3, stopped, and started there again (call 31); its monitor
entry (call 26) was from the first run. Pacemaker 2.1.5 ignores a recurring entry older
than the last start and schedules the monitor again (`crm_simulate -S` on
cibs/monitor-older-than-restart.xml: "Resource action: db monitor=10000 on n1"); ours took
the old entry for a running monitor, so the restarted db ran unmonitored.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from pengine.actions import active_recurring
from pengine.api import schedule
from tests.oracle import pacemaker_tool

CIB = Path(__file__).with_name("cibs") / "monitor-older-than-restart.xml"


def _op(call_id: int, operation: str, interval: str = "0", rc: str = "0") -> etree._Element:
    return etree.Element("lrm_rsc_op", {"call-id": str(call_id), "operation": operation,
                                        "interval": interval, "rc-code": rc,
                                        "op-status": "0"})


def test_a_monitor_older_than_the_last_start_is_not_running() -> None:
    transition = schedule(CIB.read_bytes())
    monitors = [a for a in transition.actions if a.in_graph and a.task == "monitor"]
    assert [(a.resource, a.node, a.interval_ms) for a in monitors] == [("db", "n1", 10000)]


def test_active_recurring_follows_pacemakers_start_index() -> None:
    restarted = [_op(20, "start"), _op(26, "monitor", "10000"), _op(28, "stop"),
                 _op(31, "start")]
    assert active_recurring(restarted) == []
    running = [_op(31, "start"), _op(32, "monitor", "10000")]
    assert [op.get("call-id") for op in active_recurring(running)] == ["32"]
    stopped = [_op(31, "start"), _op(32, "monitor", "10000"), _op(33, "stop")]
    assert active_recurring(stopped) == []
    probed = [_op(2, "monitor"), _op(5, "monitor", "10000")]  # a probe found it running
    assert [op.get("call-id") for op in active_recurring(probed)] == ["5"]


@pytest.mark.oracle
def test_pacemaker_schedules_the_same_monitor() -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    done = subprocess.run([tool, "-x", str(CIB), "-S"], capture_output=True, text=True,
                          check=True, timeout=60)
    assert "Resource action: db              monitor=10000 on n1" in done.stdout
