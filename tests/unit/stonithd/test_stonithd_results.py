"""results.interpret: the fence-agents exit-code and output rules."""

from __future__ import annotations

import pytest

from stonithd.results import AgentOutput, interpret


@pytest.mark.parametrize(("action", "rc", "ok"), [
    ("reboot", 0, True), ("off", 1, False), ("on", 3, False),
    ("status", 0, True), ("status", 2, True), ("status", 1, False), ("status", 42, False),
    ("monitor", 0, True), ("monitor", 1, False),
])
def test_exit_codes(action: str, rc: int, ok: bool) -> None:
    assert interpret(action, AgentOutput(rc, "", "Failed: boom\n")).ok is ok


def test_status_reports_power_and_failures_carry_the_agent_reason() -> None:
    assert interpret("status", AgentOutput(0)).powered_on is True
    assert interpret("status", AgentOutput(2)).powered_on is False
    failed = interpret("off", AgentOutput(1, "noise\n", "Failed: Unable to connect\n"))
    assert "rc=1" in failed.reason and "Unable to connect" in failed.reason
    odd = interpret("status", AgentOutput(42, "", "x"))
    assert "unexpected code 42" in odd.reason


def test_list_ports_and_na() -> None:
    outcome = interpret("list", AgentOutput(0, "n1,alias1\nn2\n\n  n3 , x\nN/A\n"))
    assert outcome.ok and outcome.ports == ("n1", "n2", "n3")


@pytest.mark.parametrize("stdout", [",alias\n", "n1\n\x00\x01binary\n", "ok\n\ufffd\ufffd\n"])
def test_garbage_list_output_is_a_failure_naming_the_line(stdout: str) -> None:
    outcome = interpret("list", AgentOutput(0, stdout))
    assert not outcome.ok and "list output line" in outcome.reason


def test_timeouts_signals_and_missing_agents() -> None:
    assert "timed out after 2.0s" in interpret("off", AgentOutput(None, timed_out=True,
                                                                  elapsed=2.0)).reason
    assert "killed by a signal" in interpret("off", AgentOutput(-9)).reason
    assert interpret("off", AgentOutput(None, error="cannot run x")).reason == "cannot run x"
