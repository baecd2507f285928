"""Helpers of the crmd lab tests: what each node's lrmd says runs, the controllers' status,
which node to break and where its resource went, the live CIB in a file, and Debian's
Pacemaker tools run on it (the oracles).

Nothing here trusts the CIB for what runs: `running_on` reads each node's lrmd history
(the executor's own record of the agent calls it made) over the node's socket.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner

from lab.cli import lab
from messaging.errors import HAError
from tests.oracle import pacemaker_tool

BIN = Path(sys.executable).parent
T = TypeVar("T")
_STARTED = ("start", "promote", "migrate_from")


class Lab:
    """One namespace lab driven through `hacluster lab` (in-process)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def cli(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(lab, ["--name", self.name, *args], catch_exceptions=False)
        return result.exit_code, result.output

    def ok(self, *args: str) -> str:
        code, output = self.cli(*args)
        assert code == 0, output
        return output

    def state_dir(self, node: str) -> Path:
        from lab.layout import data_root

        return data_root(False) / self.name / node / "state"


def demo_cluster(name: str, config: str = "demo") -> Iterator[Lab]:
    """A 3-node lab with a seeded configuration (`lab up --config`), up until the DC is
    idle, down afterwards (the body of a module-scoped fixture: `yield from
    demo_cluster(NAME)`)."""
    the_lab = Lab(name)
    the_lab.cli("down")
    try:
        output = the_lab.ok("up", "--nodes", "3", "--config", config, "--dc-timeout", "120")
        assert "idle" in output, output
        yield the_lab
    finally:
        the_lab.cli("down")


def lab_exec(the_lab: Lab, node: str, *command: str) -> subprocess.CompletedProcess[str]:
    """`hacluster lab exec` as a process (its output goes to its stdout, not click's)."""
    return subprocess.run([str(BIN / "hacluster"), "lab", "--name", the_lab.name, "exec", node,
                           *command], capture_output=True, text=True, timeout=60, check=False)


def lab_output(the_lab: Lab, node: str, *command: str) -> str:
    """The output of `command` on `node`; it must succeed."""
    done = lab_exec(the_lab, node, *command)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 120.0) -> T:
    """Poll `probe` until it returns something other than None (a condition, no sleeps
    for readiness: the pause only spaces the questions)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer is not None:
            return answer
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def running_on(state_dir: Path, resource: str) -> bool | None:
    """Whether this node's lrmd last ran `resource` into a running state (a successful
    start, or a probe or monitor that found it running); None when the lrmd is down."""
    from lrmd.api import HistoryReply, HistoryRequest, LrmdClient

    try:
        with LrmdClient(state_dir, timeout=2.0) as client:
            reply = client.request(HistoryRequest(resource))
    except HAError:
        return None
    assert isinstance(reply, HistoryReply)
    records = sorted((r for r in reply.records if r.interval_ms == 0 and r.status == 0),
                     key=lambda r: r.call_id)
    if not records:
        return False
    last = records[-1]
    if last.action in _STARTED:
        return last.rc == 0
    if last.action == "monitor":
        return last.rc in (0, 8)
    return False


def nodes_running(the_lab: Lab, nodes: list[str], resource: str) -> set[str] | None:
    """The nodes whose lrmd runs `resource` (None while one of them does not answer)."""
    found = set()
    for node in nodes:
        answer = running_on(the_lab.state_dir(node), resource)
        if answer is None:
            return None
        if answer:
            found.add(node)
    return found


def idle_dc(the_lab: Lab, nodes: list[str]) -> str | None:
    from lab.cli import _need, idle_dc

    return idle_dc(_need(the_lab.name), nodes)


def crmd_pid(the_lab: Lab, node: str) -> int | None:
    """The pid of `node`'s controller inside the node's own pid namespace."""
    return daemon_pid(the_lab, node, "crmd")


def daemon_pid(the_lab: Lab, node: str, module: str) -> int | None:
    """The pid of `node`'s daemon run as `python -m module`, in the node's pid namespace."""
    for line in lab_output(the_lab, node, "ps", "-eo", "pid,args").splitlines():
        fields = line.split()
        if fields[2:4] == ["-m", module]:
            return int(fields[0])
    return None


def fenced(the_lab: Lab, by: str, target: str) -> bool | None:
    """True once `by`'s fencing history holds a success against `target`."""
    history = lab_exec(the_lab, by, "stonith_admin", "--history", target)
    return True if history.returncode == 0 and "success" in history.stdout.lower() else None


@dataclass(frozen=True)
class Victim:
    """The non-DC node a test breaks: the one running `resource` unless that is the DC."""

    dc: str
    host: str  # where the resource ran before
    node: str
    survivors: list[str]


def choose_victim(the_lab: Lab, nodes: list[str], resource: str) -> Victim:
    dc = wait_for("an idle DC", lambda: idle_dc(the_lab, nodes))
    hosts = wait_for(f"{resource} running",
                     lambda: nodes_running(the_lab, nodes, resource) or None)
    host = next(iter(hosts))
    node = host if host != dc else next(n for n in nodes if n != dc)
    return Victim(dc, host, node, [n for n in nodes if n != node])


def wait_moved_off(the_lab: Lab, victim: Victim, resource: str) -> str:
    """Wait until `resource` runs on exactly one survivor: one that ran on the victim moved
    to a survivor, one that ran on a healthy node stayed where it was."""
    def on_one_survivor() -> str | None:
        hosts = [n for n in victim.survivors if running_on(the_lab.state_dir(n), resource)]
        return hosts[0] if len(hosts) == 1 else None

    where = wait_for(f"{resource} on a survivor", on_one_survivor)
    if victim.host == victim.node:
        assert where in victim.survivors, f"{resource} left the broken node"
    else:
        assert where == victim.host, f"{resource} on a healthy node stays where it is"
    return where


def our_cibadmin(state_dir: Path, *args: str, data: str | None = None) -> str:
    env = dict(os.environ, HACLUSTER_STATE_DIR=str(state_dir))
    env.pop("CIB_file", None)
    done = subprocess.run([str(BIN / "cibadmin"), *args], env=env, input=data,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def live_cib(the_lab: Lab, node: str, path: Path) -> Path:
    """The live CIB as `node`'s cib holds it, saved to `path` (cibadmin -Q, ours)."""
    path.write_text(our_cibadmin(the_lab.state_dir(node), "-Q"))
    return path


def pacemaker(tool: str, *args: str, cib: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run Debian's `tool` (on CIB_file=`cib` when given)."""
    program = pacemaker_tool(tool)
    assert program is not None, f"Debian's {tool} is not installed"
    env: dict[str, Any] = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    if cib is not None:
        env["CIB_file"] = str(cib)
    return subprocess.run([program, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def planned_start(simulate_output: str, resource: str) -> str | None:
    """The node of "Start RESOURCE ( NODE )" in crm_simulate's Transition Summary."""
    match = re.search(rf"\*\s+Start\s+{re.escape(resource)}\s+\(\s*(\S+)\s*\)",
                      simulate_output)
    return match.group(1) if match else None


def transition_summary(simulate_output: str) -> list[str]:
    """The lines of crm_simulate's Transition Summary (empty when nothing is planned)."""
    _, _, rest = simulate_output.partition("Transition Summary:")
    lines = []
    for line in rest.splitlines():
        if line.strip().startswith("*"):
            lines.append(line.strip())
        elif line.strip():
            break
    return lines


def crm_mon_location(crm_mon_output: str, resource: str) -> str | None:
    """The node crm_mon -1 shows `resource` Started on."""
    match = re.search(rf"\b{re.escape(resource)}\s+\([^)]*\):\s+Started\s+(\S+)",
                      crm_mon_output)
    return match.group(1) if match else None
