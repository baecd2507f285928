"""`hacluster node start|status|stop` with real processes: respawn after SIGKILL, stop in
reverse order, pid file handling, status exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from messaging.authkeys import write_authkeys
from messaging.errors import ExitCode

REPO = Path(__file__).resolve().parents[3]
NODE = [sys.executable, "-c", "from messaging.launcher import node; node()"]


def _node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NODE, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def _status(common: list[str]) -> dict[str, object]:
    result = _node("status", *common, "--json")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def _daemon(common: list[str], name: str) -> Any:
    """`name`'s row of `node status --json`."""
    return {d["name"]: d for d in _status(common)["daemons"]}[name]  # type: ignore[attr-defined]


def test_start_status_respawn_stop(tmp_path: Path) -> None:
    (tmp_path / "ha.cf").write_text("keepalive 200ms\ndeadtime 1\nudpport 39694\n"
                                    "ucast lo 127.0.0.41\nucast lo 127.0.0.42\nnode l1 l2\n")
    write_authkeys(tmp_path / "authkeys")
    state = tmp_path / "state"
    common = ["-c", str(tmp_path / "ha.cf"), "--state-dir", str(state)]
    not_running = _node("status", *common)
    assert not_running.returncode == ExitCode.NOT_RUNNING
    assert "not running" in not_running.stdout
    launcher = subprocess.Popen(
        [*NODE, "start", *common, "-k", str(tmp_path / "authkeys"), "-n", "l1",
         "--bind", "127.0.0.41"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _wait(lambda: (state / "heartbeat.ctl").exists()
                     and (_status(common).get("heartbeat") is not None), 90)
        status = _status(common)
        daemons = {d["name"]: d for d in status["daemons"]}  # type: ignore[attr-defined]
        assert daemons["heartbeat"]["state"] == "running"
        assert status["pid"] == launcher.pid
        nodes = {n["node"]: n["status"] for n in status["heartbeat"]["nodes"]}  # type: ignore[index]
        assert nodes["l1"] == "up" and nodes["l2"] == "dead"

        second = _node("start", *common, "-k", str(tmp_path / "authkeys"), "-n", "l1")
        assert second.returncode == ExitCode.CONFIG and "already runs" in second.stderr

        # ccm (a killed heartbeat ends the node instead: tests/adversarial/test_real_daemons.py)
        assert _wait(lambda: _daemon(common, "ccm")["pid"] is not None, 60)
        old_pid = _daemon(common, "ccm")["pid"]
        os.kill(old_pid, signal.SIGKILL)
        assert _wait(lambda: (ccm := _daemon(common, "ccm"))["restarts"] == 1
                     and ccm["pid"] not in (None, old_pid), 60)
        stopped = _node("stop", *common)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert launcher.wait(60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
    output = launcher.stdout.read().decode() if launcher.stdout else ""
    assert not (state / "launcher.pid").exists()
    def names(event: str) -> list[str]:
        found = [line.split(" daemon=")[1].split()[0] for line in output.splitlines()
                 if event in line]
        return list(dict.fromkeys(found))

    started, stopped_order = names("daemon_started"), names("daemon_stopped")
    assert started[0] == "heartbeat"
    assert stopped_order == list(reversed(started)), output


def test_daemon_mode_detaches_and_logs_to_logfile(tmp_path: Path) -> None:
    logfile = tmp_path / "ha-log"
    (tmp_path / "ha.cf").write_text(f"keepalive 500ms\ndeadtime 2\nudpport 39695\n"
                                    f"ucast lo 127.0.0.51\nucast lo 127.0.0.52\nnode d1 d2\n"
                                    f"logfile {logfile}\n")
    write_authkeys(tmp_path / "authkeys")
    state = tmp_path / "state"
    common = ["-c", str(tmp_path / "ha.cf"), "--state-dir", str(state)]
    started = _node("start", *common, "-k", str(tmp_path / "authkeys"), "-n", "d1",
                    "--bind", "127.0.0.51", "--daemon")
    assert started.returncode == 0, started.stderr
    try:
        assert _wait(lambda: _node("status", *common).returncode == 0, 60)
        assert _wait(lambda: logfile.exists() and "heartbeat_started" in logfile.read_text(), 90)
    finally:
        stopped = _node("stop", *common)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _node("status", *common).returncode == ExitCode.NOT_RUNNING
    assert "daemon_stopped" in logfile.read_text()
