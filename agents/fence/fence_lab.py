"""fence_lab: fence a node of the hacluster network-namespace lab.

Two ways to reach the lab's power:

* `pdu_socket` (default /run/hacluster-pdu/pdu.sock, where every lab node sees the lab's
  power switch, lab.pdu): one line per command, `off|on|status NODE` or `list`, answered
  `ok ...` or `error REASON`; the switch answers `off` only after the node's processes are
  gone. Used when `lab_command` is not given and the socket exists (inside a lab node).
* `lab_command` (from the host, default `hacluster lab`): power actions call the lab's
  command line: off -> `<cmd> kill NODE`, on -> `<cmd> start NODE`, reboot -> off then
  on. The state comes from `<cmd> status --json`: a JSON object with one entry per node
  carrying `running` (true/false), either at top level or under "nodes" (object or list
  of objects with "name"). An off (or the off half of a reboot) succeeds only once status
  reports the node not running and every pid it lists (`pid`, `pids`, each of `daemons`'
  `pid`) is gone, so a fencer's success really means the node's processes no longer run.

`list` shows every lab node.

The fencer starts this agent for every fencing action, so its start-up is on the failover's
critical path: at import only `os` and the C module `_socket` (the PDU path) are loaded:
the `socket` module would add enum, selectors and collections, about 40% of the agent's
CPU per run; json, shlex and subprocess belong to the lab_command path and are imported
there.
"""

from __future__ import annotations

import _socket
import os

from agents.fence._fencing import TYPE_CHECKING, AgentFailure, AgentSpec, Options, Param, main

if TYPE_CHECKING:
    from typing import Any

_COMMAND_TIMEOUT = 30.0
DEFAULT_PDU_SOCKET = "/run/hacluster-pdu/pdu.sock"  # lab.layout.NODE_PDU_SOCKET


class PduDevice:
    """The lab's power switch (lab.pdu) over its unix socket, one connection per command."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    def _ask(self, *words: str) -> str:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
            sock.sendall((" ".join(words) + "\n").encode())
            answer = _readline(sock).decode("utf-8", "replace").strip()
        except TimeoutError:
            raise AgentFailure(f"power switch {self.path} did not answer "
                               f"{' '.join(words)!r} in {self.timeout:g}s") from None
        except OSError as error:
            raise AgentFailure(f"power switch {self.path}: {error.strerror or error}") from None
        finally:
            sock.close()
        verdict, _, rest = answer.partition(" ")
        if verdict != "ok":
            raise AgentFailure(f"power switch: {rest or answer or 'no answer'}")
        return rest

    def power_on(self, plug: str) -> None:
        self._ask("on", plug)

    def power_off(self, plug: str) -> None:
        self._ask("off", plug)

    def status(self, plug: str) -> bool:
        state = self._ask("status", plug)
        if state not in ("on", "off"):
            raise AgentFailure(f"power switch answered status {state!r}")
        return state == "on"

    def plugs(self) -> list[tuple[str, str]]:
        return [(name, name) for name in self._ask("list").split()]

    def monitor(self) -> None:
        self._ask("list")


def _readline(sock: _socket.socket) -> bytes:
    """One answer line (the switch sends exactly one per command)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.rstrip(b"\n")


def make_device(options: Options) -> PduDevice | LabDevice:
    """The PDU when no lab_command is given and its socket exists, else the command line."""
    path = options.get("pdu_socket") or DEFAULT_PDU_SOCKET
    if not options.get("lab_command") and (options.get("pdu_socket") or os.path.exists(path)):
        return PduDevice(path, _COMMAND_TIMEOUT)
    return LabDevice(options)


class LabDevice:
    """The lab seen as a power switch with one plug per node."""

    def __init__(self, options: Options) -> None:
        import shlex

        self.command = shlex.split(options.get("lab_command") or "hacluster lab")
        if not self.command:
            raise AgentFailure("lab_command is empty")

    def _run(self, *args: str) -> str:
        import shlex
        import subprocess

        argv = [*self.command, *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=_COMMAND_TIMEOUT, check=False)
        except FileNotFoundError:
            raise AgentFailure(f"lab command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise AgentFailure(
                f"{shlex.join(argv)} did not finish in {_COMMAND_TIMEOUT}s") from None
        if done.returncode != 0:
            reason = (done.stderr.strip() or done.stdout.strip()).splitlines()
            detail = reason[-1] if reason else "no output"
            raise AgentFailure(f"{shlex.join(argv)} exited {done.returncode}: {detail}")
        return done.stdout

    def _nodes(self) -> dict[str, dict[str, Any]]:
        import json

        text = self._run("status", "--json")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise AgentFailure(f"lab status --json printed no JSON: {error}") from None
        return _node_entries(data)

    def _entry(self, plug: str) -> dict[str, Any]:
        nodes = self._nodes()
        if plug not in nodes:
            raise AgentFailure(f"no lab node named {plug!r} (known: {', '.join(sorted(nodes))})")
        return nodes[plug]

    def power_on(self, plug: str) -> None:
        self._entry(plug)
        self._run("start", plug)

    def power_off(self, plug: str) -> None:
        self._entry(plug)
        self._run("kill", plug)

    def status(self, plug: str) -> bool:
        entry = self._entry(plug)
        running = entry.get("running")
        if not isinstance(running, bool):
            raise AgentFailure(f"lab status for {plug!r} has no boolean 'running'")
        return running or _any_alive(entry)

    def plugs(self) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(self._nodes())]

    def monitor(self) -> None:
        self._nodes()


def _node_entries(data: object) -> dict[str, dict[str, Any]]:
    """Accept {node: {...}}, {"nodes": {node: {...}}} or {"nodes": [{"name": ...}]}."""
    if isinstance(data, dict) and "nodes" in data:
        data = data["nodes"]
    if isinstance(data, list):
        entries = {str(e.get("name")): e for e in data if isinstance(e, dict) and "name" in e}
    elif isinstance(data, dict):
        entries = {str(k): v for k, v in data.items() if isinstance(v, dict)}
    else:
        raise AgentFailure("lab status --json is neither an object nor a list of nodes")
    return entries


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as proc_stat:
            stat = proc_stat.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] not in (["Z"], ["X"])


def node_pids(entry: dict[str, Any]) -> list[int]:
    """Every pid the lab reports for a node: `pid`, `pids` and each daemon's `pid`."""
    found: list[Any] = [entry.get("pid")]
    pids = entry.get("pids")
    if isinstance(pids, list):
        found += pids
    daemons = entry.get("daemons")
    if isinstance(daemons, dict):
        found += [d.get("pid") for d in daemons.values() if isinstance(d, dict)]
    return [int(p) for p in found if isinstance(p, int) and not isinstance(p, bool) and p > 0]


def _any_alive(entry: dict[str, Any]) -> bool:
    """True while any process the lab reports for the node still runs."""
    return any(_alive(pid) for pid in node_pids(entry))


SPEC = AgentSpec(
    name="fence_lab",
    shortdesc="Fence agent for hacluster lab nodes (network namespaces)",
    longdesc="Powers lab nodes off and on through the lab command line; off succeeds only "
    "after the node's processes are gone.",
    params=(Param("lab_command", "Command that manages the lab (from the host)",
                  default="hacluster lab"),
            Param("pdu_socket", "The lab's power switch socket (inside a lab node)",
                  default=DEFAULT_PDU_SOCKET)),
    make_device=make_device,
)


def cli() -> None:
    """Console-script entry point."""
    main(SPEC)


if __name__ == "__main__":
    cli()
