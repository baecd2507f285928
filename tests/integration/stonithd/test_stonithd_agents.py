"""Real fence agent processes: fence_hacluster_dummy through both calling conventions, and
the runner's handling of failing, hanging, garbage and missing agents."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree
from stonithd_helpers import AGENT_BIN, environment

from stonithd.results import interpret
from stonithd.runner import find_agent, run_agent_sync

DUMMY = str(AGENT_BIN / "fence_hacluster_dummy")
RNG = Path("/usr/share/cluster/relaxng/metadata.rng")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in environment().items():
        monkeypatch.setenv(key, value)


def stdin_run(tmp_path: Path, action: str, plug: str = "n1", timeout: float = 30,
              **extra: str) -> tuple[int | None, str, str]:
    pairs = [("action", action), ("port", plug), ("nodename", plug),
             ("state_file", str(tmp_path / "power.json")), ("plugs", "n1,n2"), *extra.items()]
    out = run_agent_sync(DUMMY, pairs, timeout)
    return out.rc, out.stdout, out.stderr


def test_dummy_power_cycle_through_stdin(tmp_path: Path) -> None:
    assert stdin_run(tmp_path, "status")[:2] == (0, "Status: ON\n")
    assert stdin_run(tmp_path, "off")[:2] == (0, "Success: Powered OFF\n")
    assert stdin_run(tmp_path, "status")[:2] == (2, "Status: OFF\n")
    assert stdin_run(tmp_path, "status", plug="n2")[0] == 0
    assert json.loads((tmp_path / "power.json").read_text()) == {"n1": "off"}
    assert stdin_run(tmp_path, "on")[:2] == (0, "Success: Powered ON\n")
    rc, out, _ = stdin_run(tmp_path, "reboot")
    assert rc == 0 and "Powered OFF" in out and "Powered ON" in out
    rc, out, _ = stdin_run(tmp_path, "list")
    assert rc == 0 and out.splitlines() == ["n1,n1", "n2,n2"]
    assert stdin_run(tmp_path, "monitor")[0] == 0
    assert stdin_run(tmp_path, "validate-all")[0] == 0


def test_dummy_command_line_options(tmp_path: Path) -> None:
    state = str(tmp_path / "s.json")
    base = [DUMMY, "--state-file", state]
    off = subprocess.run([*base, "-o", "off", "-n", "n7"], capture_output=True, text=True,
                         check=False)
    assert off.returncode == 0, off.stderr
    status = subprocess.run([*base, "--action=status", "--plug=n7"], capture_output=True,
                            text=True, check=False)
    assert (status.returncode, status.stdout) == (2, "Status: OFF\n")
    missing = subprocess.run([*base, "-o", "off"], capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and "plug" in missing.stderr


def test_stdin_warns_about_unknown_parameters_and_rejects_unknown_actions(tmp_path: Path) -> None:
    rc, _, err = stdin_run(tmp_path, "status", bogus_param="1")
    assert rc == 0 and "bogus_param" in err
    rc, _, err = stdin_run(tmp_path, "explode")
    assert rc == 1 and "Unrecognised action 'explode'" in err


@pytest.mark.parametrize("agent", ["fence_hacluster_dummy", "fence_lab"])
def test_metadata_is_valid_fence_agents_metadata(agent: str) -> None:
    if not RNG.exists():
        pytest.skip(f"{RNG} (Debian fence-agents) is not installed")
    out = run_agent_sync(str(AGENT_BIN / agent), [("action", "metadata")], 30)
    assert out.rc == 0
    doc = etree.fromstring(out.stdout.encode())
    schema = etree.RelaxNG(etree.parse(str(RNG)))
    assert schema.validate(doc), schema.error_log
    actions = {a.get("name") for a in doc.iterfind("actions/action")}
    assert {"on", "off", "reboot", "status", "list", "monitor", "metadata",
            "validate-all"} <= actions


def test_failure_mode(tmp_path: Path) -> None:
    rc, _, err = stdin_run(tmp_path, "off", mode="fail")
    assert rc == 1 and "mode=fail" in err
    rc, _, err = stdin_run(tmp_path, "status", mode="sideways")
    assert rc == 1 and "mode='sideways'" in err


def test_hanging_agent_is_killed_with_its_process_group(tmp_path: Path) -> None:
    log = tmp_path / "actions.log"
    out = run_agent_sync(DUMMY, [("action", "off"), ("port", "n1"), ("mode", "hang"),
                                 ("state_file", str(tmp_path / "p.json")),
                                 ("log_file", str(log))], timeout=3.0)
    assert out.timed_out and out.rc is None
    assert "timed out after" in interpret("off", out).reason
    assert gone(int(log.read_text().split()[1]))


def gone(pid: int, wait: float = 5.0) -> bool:
    """True once `pid` no longer exists or is a zombie waiting for its reaper."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def write_agent(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_garbage_and_forking_agents(tmp_path: Path) -> None:
    garbage = write_agent(tmp_path, "fence_garbage",
                          "cat >/dev/null\nprintf '\\001\\002\\377x\\n'\n")
    out = run_agent_sync(str(garbage), [("action", "list")], 10)
    outcome = interpret("list", out)
    assert not outcome.ok and "list output line 1" in outcome.reason
    odd = write_agent(tmp_path, "fence_odd", "cat >/dev/null\necho weird; exit 7\n")
    assert "unexpected code 7" in interpret("status", run_agent_sync(str(odd), [], 10)).reason
    forker = write_agent(tmp_path, "fence_forker",
                         "cat >/dev/null\nsleep 300 &\necho $! > " f"{tmp_path}/child\nexit 0\n")
    assert run_agent_sync(str(forker), [("action", "off")], 10).rc == 0
    assert gone(int((tmp_path / "child").read_text()))  # the runner killed what was left


def test_missing_and_unexecutable_agents(tmp_path: Path) -> None:
    from messaging.errors import NotFoundError

    with pytest.raises(NotFoundError, match="fence_nothing is not installed"):
        find_agent("fence_nothing", [str(tmp_path)])
    with pytest.raises(NotFoundError, match="not a fence agent name"):
        find_agent("../bin/sh", [str(tmp_path)])
    plain = tmp_path / "fence_plain"
    plain.write_text("not executable")
    out = run_agent_sync(str(plain), [], 5)
    assert out.rc is None and "cannot run" in interpret("off", out).reason
    assert sys.executable  # the wrappers run with this interpreter (HACLUSTER_PYTHON)


def test_our_wrappers_come_before_the_console_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HACLUSTER_FENCE_AGENT_DIRS", raising=False)
    from stonithd.runner import default_agent_dirs

    assert find_agent("fence_lab", default_agent_dirs()) == str(AGENT_BIN / "fence_lab")


@pytest.mark.parametrize("agent", ["fence_hacluster_dummy", "fence_lab"])
def test_wrapper_runs_isolated_from_any_directory_and_through_a_link(
        agent: str, tmp_path: Path) -> None:
    """The wrapper starts Python with -I -S: it finds this checkout from its own real
    path, so neither the caller's directory, a link to it elsewhere, nor a PYTHONPATH
    holding another `agents` package changes which agent runs."""
    shadow = tmp_path / "shadow" / "agents"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('the shadowing package ran')\n")
    link = tmp_path / "sbin" / agent
    link.parent.mkdir()
    link.symlink_to(AGENT_BIN / agent)
    env = {**environment(), "PYTHONPATH": str(shadow.parent)}
    done = subprocess.run([str(link), "-o", "metadata"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert f'<resource-agent name="{agent}"' in done.stdout
