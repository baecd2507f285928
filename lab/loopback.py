"""The lab without root: nodes are plain processes on 127.0.(60+K).(10+I) with ucast.

No namespaces, so no partitions, loss or link faults, and a node's processes share the
machine's hostname, /run and PID namespace; `kill` SIGKILLs the node's recorded daemon pids
(after checking each still runs our command line), `start` starts them again. Each node gets
its own state directory and binds its own loopback address (`--bind`), so nodes do not
collide. Limits are documented in docs/lab.md.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
from pathlib import Path

from messaging.errors import UsageError

from .layout import LabSpec, LabState, NodeState, address, data_root, save, write_node_files
from .procs import alive, start_plain


def _argv(node: NodeState, spec: LabSpec) -> dict[str, list[str]]:
    etc, state = Path(node.directory) / "etc", str(Path(node.directory) / "state")
    return {
        "heartbeat": ["-m", "messaging.heartbeat", "-c", str(etc / "ha.cf"), "-k",
                      str(etc / "authkeys"), "-n", node.name, "--bind",
                      address(spec, node.index), "--state-dir", state],
        "ccm": ["-m", "ccm", "-c", str(etc / "ha.cf"), "-n", node.name, "--state-dir", state],
    } | ({"cib": ["-m", "cib", "-c", str(etc / "ha.cf"), "-n", node.name,
                  "--state-dir", state],
          "attrd": ["-m", "cib.attrd_daemon", "-n", node.name, "--state-dir", state]}
         if spec.crm else {})


def _ours(pid: int, node: NodeState) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return alive(pid) and node.directory in cmdline


def check_addresses_free(spec: LabSpec) -> None:
    """Refuse to come up on a UDP port another process holds (another loopback lab whose
    name shares our addresses): its heartbeat would take our datagrams."""
    for index in range(1, spec.nodes + 1):
        for link in range(spec.links):
            where = (address(spec, index, link), spec.port)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(where)  # no SO_REUSEADDR: fails beside any holder
                except OSError as error:
                    if error.errno != errno.EADDRINUSE:
                        continue  # not ours to judge (a privileged port): heartbeat says
                    raise UsageError(f"lab {spec.name}: {where[0]}:{where[1]} is in use "
                                     f"(another loopback lab?): {error.strerror}; "
                                     "choose another --name") from None


def up(spec: LabSpec, secret: str) -> LabState:
    check_addresses_free(spec)
    root = data_root(True) / spec.name
    state = LabState(spec, {})
    for index, name in enumerate(spec.node_names(), start=1):
        node = NodeState(name, index, str(root / name))
        state.nodes[name] = node
        write_node_files(spec, node, secret, str(Path(node.directory) / "state"))
    save(state)
    for name in state.nodes:
        start_node(state, name)
    return state


def node_running(node: NodeState) -> bool:
    return any(_ours(pid, node) for pid in node.pids.values())


def start_node(state: LabState, name: str) -> None:
    node = state.node(name)
    if node_running(node):
        return
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log = Path(node.directory) / "log"
    node.pids = {daemon: start_plain(argv, log / f"{daemon}.log", env)
                 for daemon, argv in _argv(node, state.spec).items()}
    save(state)


def kill_node(state: LabState, name: str) -> None:
    node = state.node(name)
    for pid in node.pids.values():
        if _ours(pid, node):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    node.pids = {}
    save(state)


def down(state: LabState | None) -> list[str]:
    if state is None:
        return []
    for name in state.nodes:
        kill_node(state, name)
    shutil.rmtree(data_root(True) / state.spec.name, ignore_errors=True)
    return list(state.nodes)


def unsupported(what: str) -> UsageError:
    return UsageError(f"{what} needs network namespaces (run the lab as root)")
