"""``hacluster lrm``: direct execution (no daemon), through a daemon, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from lrmd_harness import Daemon

from lrmd.cli import TIMEOUT_EXIT, lrm, parse_duration_ms
from messaging.errors import ExitCode


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(lrm, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_direct_exec_exits_with_agent_rc(tmp_path: Path) -> None:
    state = f"state={tmp_path / 'd'}"
    no_daemon = ["--state-dir", str(tmp_path / "none")]
    assert _run("exec", "ocf:hacluster:Dummy", "monitor", state, *no_daemon)[0] == 7
    code, out, _ = _run("exec", "ocf:hacluster:Dummy", "start", state, *no_daemon)
    assert code == 0 and "Dummy_start_0: rc=0 (SUCCESS) status=DONE" in out
    assert (tmp_path / "d").exists()
    code, out, _ = _run("exec", "ocf:hacluster:Dummy", "monitor", state, "--json", *no_daemon)
    assert code == 0 and json.loads(out)["rc"] == 0


def test_direct_exec_timeout_exits_124(tmp_path: Path) -> None:
    code, out, _ = _run(
        "exec",
        "ocf:hacluster:Dummy",
        "start",
        "op_sleep=30",
        "--timeout",
        "500ms",
        "--state-dir",
        str(tmp_path),
    )
    assert code == TIMEOUT_EXIT == 124
    assert "status=TIMEOUT" in out


def test_cli_bad_input_is_one_line_and_usage_code(tmp_path: Path) -> None:
    code, _, err = _run("exec", "Dummy", "start", "--state-dir", str(tmp_path))
    assert code == ExitCode.USAGE and err.startswith("error: agent 'Dummy'")
    code, _, err = _run(
        "exec", "ocf:hacluster:Dummy", "start", "novalue", "--state-dir", str(tmp_path)
    )
    assert code == ExitCode.USAGE and "name=value" in err
    code, _, err = _run(
        "exec", "ocf:hacluster:Dummy", "start", "--timeout", "soon", "--state-dir", str(tmp_path)
    )
    assert code == ExitCode.USAGE and "--timeout" in err
    code, _, err = _run(
        "exec", "ocf:hacluster:Dummy", "start", "--timeout", "0", "--state-dir", str(tmp_path)
    )
    assert code == ExitCode.USAGE and "longer than 0" in err
    code, _, err = _run("exec", "ocf:nobody:Thing", "start", "--state-dir", str(tmp_path))
    assert code == 5
    code, _, err = _run("history", "--state-dir", str(tmp_path))
    assert code != 0 and "no lrmd control socket" in err and "Traceback" not in err


def test_cli_through_daemon_and_history(lrmd: Daemon, tmp_path: Path) -> None:
    state_dir = ["--state-dir", str(lrmd.state_dir)]
    code, out, _ = _run(
        "exec",
        "ocf:hacluster:Dummy",
        "start",
        f"state={tmp_path / 'x'}",
        "--resource",
        "web",
        *state_dir,
    )
    assert code == 0
    code, out, _ = _run("history", "--json", *state_dir)
    records = json.loads(out)
    assert [(r["resource"], r["action"], r["rc"]) for r in records] == [("web", "start", 0)]
    code, out, _ = _run("metadata", "ocf:hacluster:Stateful", *state_dir)
    assert code == 0 and '<resource-agent name="Stateful"' in out


def test_list_and_durations() -> None:
    code, out, _ = _run("list", "ocf:hacluster")
    assert code == 0
    assert out.split() == ["ocf:hacluster:Dummy", "ocf:hacluster:IPaddr", "ocf:hacluster:Stateful"]
    assert "ocf" in _run("list", "--classes")[1].split()
    assert [parse_duration_ms(t, "x") for t in ("20", "20s", "500ms", "2m")] == [
        20_000,
        20_000,
        500,
        120_000,
    ]


def test_cli_recurring_monitor_then_cancel(lrmd: Daemon, tmp_path: Path) -> None:
    state_dir = ["--state-dir", str(lrmd.state_dir)]
    state = f"state={tmp_path / 'm'}"
    assert (
        _run("exec", "ocf:hacluster:Dummy", "start", state, "--resource", "m", *state_dir)[0] == 0
    )
    code, _, _ = _run(
        "exec",
        "ocf:hacluster:Dummy",
        "monitor",
        state,
        "--resource",
        "m",
        "--interval",
        "30s",
        *state_dir,
    )
    assert code == 0
    code, out, _ = _run("cancel", "m", "monitor", "--interval", "30s", *state_dir)
    assert code == 0 and "m_monitor_30000" in out
    code, _, err = _run("cancel", "m", "monitor", "--interval", "30s", *state_dir)
    assert code == ExitCode.NOSUCH and "no m_monitor_30000" in err
