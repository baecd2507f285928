"""Helpers for lrmd integration tests: a real daemon (``python -m lrmd``) and small
misbehaving test agents."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lrmd.api import (
    API,
    OP_TOPIC,
    PUBLISH_SOCKET,
    AgentSpec,
    ExecRequest,
    LrmdClient,
    OpCompleted,
)
from messaging.client import Subscriber

REPO = Path(__file__).resolve().parents[3]

TEST_AGENTS = {
    # forks a long sleeper (same process group), records its pid, then hangs
    "Sleeper": 'sleep 300 & echo $! > "$OCF_RESKEY_pidfile"; sleep 300\n',
    # records its pid and ignores SIGTERM, so only SIGKILL ends it
    "Stubborn": 'echo $$ > "$OCF_RESKEY_pidfile"; trap \'\' TERM; while :; do sleep 0.2; done\n',
    # a megabyte of random bytes on both streams, then success
    "Garbage": "head -c 1000000 /dev/urandom; head -c 1000000 /dev/urandom >&2; exit 0\n",
    # leaves a child holding stdout open, like a badly daemonising start
    "Daemonizer": 'sleep 30 & echo $! > "$OCF_RESKEY_pidfile"; echo started; exit 0\n',
    # counts its runs in a file beside itself and prints minimal meta-data
    "Counted": 'echo run >> "$(dirname "$0")/.counted_runs"; echo "<resource-agent '
    'name=\\"Counted\\"><parameters/><actions/></resource-agent>"; exit 0\n',
    # writes its whole environment to a file
    "Env": 'env > "$OCF_RESKEY_envfile"; exit 0\n',
    # exits with whatever rc it is told, with an exit reason
    "Exit": 'echo "ocf-exit-reason:asked to exit $OCF_RESKEY_rc" >&2; exit "$OCF_RESKEY_rc"\n',
}


@dataclass
class Daemon:
    state_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> LrmdClient:
        return LrmdClient(self.state_dir, timeout=10.0)

    def execute(self, agent: str, action: str, resource: str = "r1", **kw: object) -> OpCompleted:
        request = ExecRequest(resource, AgentSpec.parse(agent), action, **kw)  # type: ignore[arg-type]
        with self.client() as client:
            return client.execute(request)

    def subscribe(self) -> Subscriber:
        """A subscriber of published results, known to be live: it has received the result
        of a probe operation (every first result is published)."""
        sub = Subscriber(f"ipc://{self.state_dir / PUBLISH_SOCKET}", API, (OP_TOPIC,))
        while True:
            self.execute("ocf:hacluster:Dummy", "monitor", resource="subscription-probe")
            event = sub.recv(0.5)
            if event is not None:
                break
        while sub.recv(0.2) is not None:  # drain the probes' results
            pass
        return sub


def next_event(sub: Subscriber, timeout: float) -> OpCompleted | None:
    event = sub.recv(timeout)
    assert event is None or isinstance(event, OpCompleted)
    return event


LSB_SCRIPT = """#!/bin/sh
# a minimal LSB init script keeping its state in a file beside itself
STATE="$(dirname "$0")/.testd.running"
case "$1" in
  start) touch "$STATE" ;;
  stop) rm -f "$STATE" ;;
  status) [ -e "$STATE" ] && exit 0; exit 3 ;;
  *) exit 3 ;;
esac
"""


def _write_agents(root: Path) -> None:
    provider = root / "resource.d" / "test"
    provider.mkdir(parents=True)
    for name, body in TEST_AGENTS.items():
        path = provider / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    init_d = root.parent / "init.d"
    init_d.mkdir()
    (init_d / "testd").write_text(LSB_SCRIPT)
    (init_d / "testd").chmod(0o755)


def start_daemon(tmp_path: Path, *extra: str, netns: str = "") -> Daemon:
    state_dir = tmp_path / "state"
    _write_agents(tmp_path / "ocf")
    env = dict(
        os.environ,
        HACLUSTER_LSB_DIR=str(tmp_path / "init.d"),
        LRMD_TEST_LEAK="daemon-only",
        HA_RSCTMP=str(tmp_path / "rsctmp"),
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    )
    argv = [
        sys.executable,
        "-m",
        "lrmd",
        "--state-dir",
        str(state_dir),
        "--kill-grace",
        "1",
        "--ocf-root",
        str(tmp_path / "ocf"),
        *extra,
    ]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    log = tmp_path / "lrmd.log"
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    daemon = Daemon(state_dir, process, log)
    deadline = time.monotonic() + 60
    with daemon.client() as client:
        while not client.is_running():  # a condition, not a time: the daemon answers Ping
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "lrmd did not come up"
            time.sleep(0.1)
    return daemon


def stop_daemon(daemon: Daemon) -> None:
    daemon.process.terminate()
    try:
        daemon.process.wait(10)
    except subprocess.TimeoutExpired:
        daemon.process.kill()
        daemon.process.wait()
