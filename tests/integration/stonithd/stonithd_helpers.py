"""Helpers for stonithd integration tests: environment, CIB text, daemons, stonith_admin."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
AGENT_BIN = REPO / "agents" / "fence" / "bin"


def environment(*agent_dirs: Path) -> dict[str, str]:
    """Environment in which our wrappers, stonithd and stonith_admin run from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["HACLUSTER_PYTHON"] = sys.executable
    env["HACLUSTER_FENCE_AGENT_DIRS"] = ":".join(str(d) for d in (*agent_dirs, AGENT_BIN))
    env.pop("HACLUSTER_STONITHD", None)
    return env


def device(rid: str, agent: str = "fence_hacluster_dummy", **attrs: str) -> str:
    pairs = "".join(f'<nvpair id="{rid}-{k}" name="{k}" value="{v}"/>' for k, v in attrs.items())
    return (f'<primitive id="{rid}" class="stonith" type="{agent}">'
            f'<instance_attributes id="{rid}-ia">{pairs}</instance_attributes></primitive>')


def cib(resources: str, topology: str = "", constraints: str = "") -> str:
    return ('<cib epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/>'
            f"<nodes/><resources>{resources}</resources><constraints>{constraints}"
            f"</constraints><fencing-topology>{topology}</fencing-topology></configuration>"
            "<status/></cib>")


def stonith_admin(env: dict[str, str], *args: str,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from stonithd.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


class Daemon:
    """A real `python -m stonithd` process with ipc sockets in `state`."""

    def __init__(self, env: dict[str, str], cib_file: Path, state: Path, node: str,
                 peers: dict[str, str] | None = None) -> None:
        self.state, self.node = state, node
        self.endpoint = f"ipc://{state}/stonithd.sock"
        self.events = f"ipc://{state}/stonithd-events.sock"
        argv = [sys.executable, "-m", "stonithd", "--cib", str(cib_file), "--state-dir",
                str(state), "--node", node, "--agent-dir", str(AGENT_BIN)]
        for name, endpoint in (peers or {}).items():
            argv += ["--peer", f"{name}={endpoint}"]
        self.log = open(state.parent / f"{node}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=REPO)
        deadline = time.monotonic() + 60
        while not self._answers():  # a condition: the fencer answers Ping
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"stonithd {node} did not start: {self.logs()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        from messaging.client import Client
        from messaging.errors import HAError
        from stonithd.api import API

        if not (self.state / "stonithd.sock").exists():
            return False
        try:
            with Client(self.endpoint, API, timeout=1.0) as client:
                client.ping()
        except HAError:
            return False
        return True

    def logs(self) -> str:
        self.log.flush()
        return (self.state.parent / f"{self.node}.log").read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
