"""Issue 10: heartbeat's exit is the node's. The launcher does not respawn it: it kills
every other daemon at once (no clean stop: a controller told to stop would stop resources
and announce a clean leave) and returns, so the peers see the node go silent and fence it,
as pacemakerd shuts a node's daemons down once corosync died (cfg_connection_destroy).
Real processes; the test waits for the launcher to return, never for a fixed time."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from messaging.logs import get_logger
from messaging.supervisor import Child, Supervisor

PYTHON = sys.executable
SLEEPER = [PYTHON, "-c", "import time; time.sleep(600)"]
DEADLINE_S = 60.0  # only bounds a broken launcher (one that respawns heartbeat forever)


def _run(children: list[Child], state: Path) -> Supervisor:
    supervisor = Supervisor(children, state, get_logger(daemon="launcher"))

    async def run() -> None:
        try:
            await asyncio.wait_for(supervisor.run(), DEADLINE_S)
        finally:
            for child in children:  # whatever a broken launcher left running
                if child.process is not None and child.process.returncode is None:
                    child.process.kill()
                    await child.process.wait()

    asyncio.run(run())
    return supervisor


def test_heartbeat_exiting_kills_every_daemon_and_ends_the_launcher(tmp_path: Path) -> None:
    children = [Child("heartbeat", [PYTHON, "-c", "raise SystemExit(1)"]),
                Child("ccm", list(SLEEPER)), Child("crmd", list(SLEEPER))]
    supervisor = _run(children, tmp_path)
    assert supervisor.node_lost_with == "heartbeat"
    assert [c.process.returncode for c in children if c.process] == [1, -9, -9]
    status = json.loads((tmp_path / "launcher.json").read_text())["daemons"]
    assert [(d["name"], d["state"], d["restarts"]) for d in status] == [
        ("heartbeat", "failed", 0), ("ccm", "stopped", 0), ("crmd", "stopped", 0)]
