"""fence_lab as the fencer runs it: a fresh process, stdin options, the lab's power switch.

Exit codes and output lines follow the fence-agents API (FenceAgentAPI.md in fence-agents):
status 0 = on, 2 = off, 1 = could not tell; on/off/reboot 0 = done, 1 = failed with a
"Failed: ..." line on stderr; list one `plug,alias` line per plug. The switch is a small
stand-in for lab.pdu speaking its one-line protocol over a unix socket. The last test pins
the start-up cost: the agent runs once per fencing action, on the failover's critical path.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
WRAPPER = REPO / "agents" / "fence" / "bin" / "fence_lab"


class FakeSwitch:
    """lab.pdu's protocol: `off|on|status NODE`, `list` -> `ok ...` or `error REASON`."""

    def __init__(self, path: Path, nodes: dict[str, bool]) -> None:
        self.nodes = nodes
        self.commands: list[str] = []
        self.connections = 0
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:  # like lab.pdu: one answer line per command line, many per connection
                for raw in conn.makefile("rb"):
                    line = raw.decode().strip()
                    self.commands.append(line)
                    conn.sendall((self._answer(line) + "\n").encode())

    def _answer(self, line: str) -> str:
        verb, _, node = line.partition(" ")
        if verb == "list":
            return "ok " + " ".join(sorted(self.nodes))
        if node not in self.nodes:
            return f"error no node {node}"
        if verb in ("on", "off"):
            self.nodes[node] = verb == "on"
            return "ok"
        return "ok " + ("on" if self.nodes[node] else "off")


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[FakeSwitch]:
    fake = FakeSwitch(tmp_path / "pdu.sock", {"n1": True, "n2": False})
    yield fake
    fake.server.close()


def run(switch: FakeSwitch, *lines: str) -> subprocess.CompletedProcess[str]:
    path = switch.server.getsockname()
    text = "\n".join([*lines, f"pdu_socket={path}"]) + "\n"
    env = {"HACLUSTER_PYTHON": sys.executable, "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(WRAPPER)], input=text, capture_output=True, text=True,
                          env=env, timeout=30, check=False)


def test_status_exit_codes_follow_fence_agents(switch: FakeSwitch) -> None:
    on = run(switch, "action=status", "port=n1")
    off = run(switch, "action=status", "port=n2")
    unknown = run(switch, "action=status", "port=n9")
    assert (on.returncode, on.stdout) == (0, "Status: ON\n")
    assert (off.returncode, off.stdout) == (2, "Status: OFF\n")
    assert unknown.returncode == 1 and unknown.stderr.startswith("Failed: ")


def test_reboot_powers_off_then_on_and_the_fencer_may_send_nodename(switch: FakeSwitch) -> None:
    done = run(switch, "action=reboot", "nodename=n1")
    assert done.returncode == 0
    assert done.stdout == "Success: Powered OFF\nSuccess: Powered ON\n"
    # fence-agents' reboot: status, off, poll status until off, on, poll status until on;
    # the "on" half trusts the off it just saw.
    assert switch.commands == ["status n1", "off n1", "status n1", "on n1", "status n1"]


def test_off_of_a_node_already_off_succeeds_without_switching(switch: FakeSwitch) -> None:
    done = run(switch, "action=off", "port=n2")
    assert (done.returncode, done.stdout) == (0, "Success: Already OFF\n")
    assert "off n2" not in switch.commands


def test_list_and_monitor(switch: FakeSwitch) -> None:
    listed = run(switch, "action=list")
    assert (listed.returncode, listed.stdout) == (0, "n1,n1\nn2,n2\n")
    assert run(switch, "action=monitor").returncode == 0


def test_an_unreachable_switch_fails_with_one_line(tmp_path: Path) -> None:
    text = f"action=off\nport=n1\npdu_socket={tmp_path / 'absent.sock'}\n"
    done = subprocess.run([str(WRAPPER)], input=text, capture_output=True, text=True,
                          env={"HACLUSTER_PYTHON": sys.executable, "PYTHONPATH": str(REPO)},
                          timeout=30, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Failed: power switch ") and done.stderr.count("\n") == 1


def test_the_agent_imports_no_heavy_module_at_start() -> None:
    # -S: no site packages, so only what the agent itself imports shows up.
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); before = set(sys.modules); "
             "import agents.fence.fence_lab; print(' '.join(sorted(set(sys.modules) - before)))")
    done = subprocess.run([sys.executable, "-S", "-c", probe, str(REPO)], capture_output=True,
                          text=True, timeout=30, check=True)
    loaded = set(done.stdout.split())
    heavy = {"argparse", "json", "subprocess", "shlex", "pathlib", "dataclasses", "typing", "re",
             "socket", "enum", "selectors",
             "xml.sax.saxutils", "urllib.request", "click", "structlog", "lxml", "messaging"}
    assert "agents.fence.fence_lab" in loaded
    assert loaded & heavy == set()
