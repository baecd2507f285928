"""The lab's power switch: fence agents inside the nodes switch other nodes off and on.

A node cannot kill another node from inside its own PID and mount namespaces, so the lab
has what a real cluster has, an out-of-band power switch. `python -m lab.pdu LAB` runs in
the machine's own namespaces (started by `lab up`, its pid in the lab state, stopped by
`lab down`) and listens on the unix socket ``/var/lib/hacluster-lab/<lab>/pdu/pdu.sock``;
every node's holder bind-mounts that directory on ``/run/hacluster-pdu``, so inside a node
the switch is ``/run/hacluster-pdu/pdu.sock`` (fence_lab's default `pdu_socket`).

Protocol: one command per line, one answer line each.

    off NODE | on NODE | reboot NODE | status NODE | list
    -> "ok off" | "ok on" | "ok n1 n2 n3" | "error <reason>"

`off` answers only once every process of the node's PID namespace is gone, `on` once power
is applied: the node's holder (its PID 1) is spawned and recorded, so `status` says on from
then on, as a real PDU answers before the machine has booted; the node's daemons start in
the background once its holder is ready (waiting for them would only delay the fencing
result a fence agent waits for). Commands are carried out one at a time,
on the state file re-read each time (so `hacluster lab kill/start` and the PDU agree).
`Switch` speaks the protocol over any `Power`; lab.docker_pdu switches Docker containers
with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from messaging.errors import HAError, PeerTimeout, UsageError

from . import netns
from .layout import LabState, load, pdu_dir
from .procs import alive

SOCKET_NAME = "pdu.sock"
GONE_TIMEOUT = 10.0


def _pid_ns(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def _pids_in_pid_ns(inode: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _pid_ns(int(entry.name)) == inode and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


class Power(Protocol):
    """What a power switch switches: one plug per node."""

    def nodes(self) -> list[str]: ...

    def is_on(self, node: str) -> bool: ...

    def off(self, node: str) -> None:
        """Cut the power; return only once every process of the node is gone."""

    def on(self, node: str) -> None:
        """Switch on; return once the node runs again."""


class Switch:
    """The line protocol over one `Power`, commands carried out one at a time."""

    def __init__(self, power: Power, log: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.power = power
        self.log = log  # a bound structlog logger: what was switched, as a PDU's event log
        self.lock = threading.Lock()
        self.clock = clock

    def answer(self, line: str) -> str:
        words = line.split()
        asked = self.clock()
        with self.lock:
            started = self.clock()
            result = self._carried_out(words)
            finished = self.clock()
        if self.log is not None and words[:1] not in (["status"], ["list"]):
            # how long the command queued behind another one, and how long it ran (a
            # fence agent's reboot waits for both)
            self.log.info("pdu_command", command=" ".join(words), answer=result,
                          wait_ms=round(1000 * (started - asked), 1),
                          run_ms=round(1000 * (finished - started), 1))
        return result

    def _carried_out(self, words: list[str]) -> str:
        try:
            return "ok " + self._command(words)
        except HAError as error:
            return f"error {error}"
        except OSError as error:
            return f"error {error.strerror or error}"

    def _command(self, words: list[str]) -> str:
        nodes = self.power.nodes()
        if words == ["list"]:
            return " ".join(nodes)
        if len(words) != 2 or words[0] not in ("off", "on", "reboot", "status"):
            raise UsageError(f"unknown command {' '.join(words)!r} "
                             "(off|on|reboot|status NODE, list)")
        verb, node = words
        if node not in nodes:
            raise UsageError(f"no node {node!r} ({', '.join(nodes)})")
        if verb == "status":
            return "on" if self.power.is_on(node) else "off"
        if verb in ("off", "reboot"):
            self.power.off(node)
        if verb in ("on", "reboot"):
            self.power.on(node)
            return "on"
        return "off"


class LabPower:
    """The nodes of one network-namespace lab, from its state file re-read each time.

    `lock` covers every read-modify-write of the state file made here, so a background boot
    never records daemons of a holder that an `off` meanwhile killed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()

    def _state(self) -> LabState:
        state = load(self.name, False)
        if state is None:
            raise UsageError(f"lab {self.name} is not up")
        return state

    def nodes(self) -> list[str]:
        return list(self._state().nodes)

    def is_on(self, node: str) -> bool:
        return netns.holder_alive(self._state().node(node))

    def on(self, node: str) -> None:
        with self.lock:
            holder = netns.power_on(self._state(), node)
        if holder is not None:
            threading.Thread(target=self._boot, args=(node, holder), daemon=True,
                             name=f"boot-{node}").start()

    def _boot(self, node: str, holder: int) -> None:
        try:
            if not netns.wait_ready(self._state(), node, holder):
                return  # switched off before it booted
            with self.lock:
                state = self._state()
                if state.node(node).holder_pid == holder and netns.holder_alive(
                        state.node(node)):
                    netns.start_booted(state, node, holder)
        except HAError as error:
            print(f"boot of {node} failed: {error}", file=sys.stderr, flush=True)

    def off(self, node: str) -> None:
        with self.lock:
            state = self._state()
            holder = state.node(node).holder_pid
            pid_ns = _pid_ns(holder) if holder is not None and netns.holder_alive(
                state.node(node)) else None
            netns.kill_node(state, node)
        deadline = time.monotonic() + GONE_TIMEOUT
        while pid_ns is not None and _pids_in_pid_ns(pid_ns):
            if time.monotonic() > deadline:
                raise PeerTimeout(f"processes of {node} still run {GONE_TIMEOUT:g}s after "
                                  "the power cut")
            time.sleep(0.01)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self.wfile.write((self.server.pdu.answer(line) + "\n").encode())
                self.wfile.flush()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, pdu: Switch) -> None:
        self.pdu = pdu
        super().__init__(path, _Handler)


def serve(name: str) -> None:
    """Fork the lab's node forker (lab.nodefork: before any thread exists), then listen on
    the lab's PDU socket until SIGTERM."""
    from . import nodefork

    nodefork.serve(name)
    serve_at(pdu_dir(name) / SOCKET_NAME, LabPower(name))


def serve_at(path: Path, power: Power) -> None:
    """Answer the protocol for `power` on the unix socket `path` (mode 0600) until SIGTERM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    from messaging.logs import configure, get_logger

    configure()
    server = _Server(str(path), Switch(power, get_logger(daemon="pdu")))
    os.chmod(path, 0o600)

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        serve(sys.argv[1])
