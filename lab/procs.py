"""Process helpers of the lab: liveness, namespace membership, starting a node's daemons.

Only recorded pids or processes inside the lab's own network namespaces are ever
signalled; the machine's own namespace (that of PID 1 and of this process) is refused
whatever a state file says.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

# A node boots at normal priority whatever the priority of the tool that powers it on: a
# benchmark raises itself to real time (messaging.daemon.raise_priority) to time the cluster,
# and the nodes it restarted inherited SCHED_RR, every daemon of them (a real-time cib or
# crmd of equal priority holds a core for a whole 100 ms round-robin slice, ahead of the
# heartbeat and ccm it was measuring). Each daemon raises itself if it should.
NORMAL_PRIORITY = ["chrt", "--other", "0"]
LAUNCHER: dict[str, list[str]] = {
    # `hacluster node start -c /etc/ha.d/ha.cf`: starts and respawns the node's daemons.
    "launcher": ["-c", "from messaging.launcher import node; node()", "start",
                 "-c", "/etc/ha.d/ha.cf", "-k", "/etc/ha.d/authkeys"],
}
DAEMONS: dict[str, list[str]] = {  # without the launcher: the two daemons directly
    "heartbeat": ["-m", "messaging.heartbeat", "-c", "/etc/ha.d/ha.cf",
                  "-k", "/etc/ha.d/authkeys"],
    "ccm": ["-m", "ccm", "-c", "/etc/ha.d/ha.cf"],
}


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _ns_inode(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _root_inodes() -> set[int]:
    return {i for i in (_ns_inode(1), _ns_inode("self")) if i is not None}


def netns_inode(name: str, missing_ok: bool = False) -> int:
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        if missing_ok:
            return 0
        raise


def in_netns(pid: int, inode: int) -> bool:
    """Whether `pid` lives in the lab namespace `inode` (never true for the root one)."""
    found = _ns_inode(pid)
    return found is not None and found == inode and inode not in _root_inodes()


def power_switch_pids(lab: str) -> list[int]:
    """Every running `python -m lab.pdu LAB` of exactly this lab (its name is the last
    argument but for blank title room), found from /proc alone: `lab down` stops the switch
    even without its state."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        while argv and not argv[-1].strip():  # the switch's blank title room (lab.netns)
            argv.pop()
        if (len(argv) >= 3 and argv[-3:] == [b"-m", b"lab.pdu", lab.encode()]
                and alive(int(entry.name))):
            found.append(int(entry.name))
    return found


def pids_in_netns(inode: int) -> list[int]:
    """Every process in the network namespace `inode` (empty for the root namespace)."""
    if not inode or inode in _root_inodes():
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _ns_inode(entry.name) == inode:
            found.append(int(entry.name))
    return found


def child_of(pid: int, timeout: float = 5.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            if children:
                return int(children[0])
        time.sleep(0.01)
    return None


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (children first), from /proc's children lists."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop(0)
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                frontier += children
    return found


def node_commands() -> dict[str, list[str]]:
    """The launcher when messaging has one, else heartbeat and ccm themselves."""
    try:
        found = importlib.util.find_spec("messaging.launcher") is not None
    except ModuleNotFoundError:
        found = False
    return LAUNCHER if found else DAEMONS


def start_daemons(holder: int, directory: Path, env: dict[str, str],
                  lab: str | None = None) -> dict[str, int]:
    """Start the node's launcher (or daemons) inside the node of `holder`; host pids by name.
    The launcher is forked by the lab's node forker (lab.nodefork) when `lab` has one,
    else exec'd with nsenter."""
    pids = {}
    for name, args in node_commands().items():
        if name == "launcher" and lab is not None:
            from .nodefork import LAUNCHER_CODE, boot_launcher, socket_path

            forked = boot_launcher(socket_path(lab), holder, args[args.index(LAUNCHER_CODE) + 1:],
                                   directory / "log" / f"{name}.log", env)
            if forked is not None:
                pids[name] = forked
                continue
        log = open(directory / "log" / f"{name}.log", "ab")  # noqa: SIM115 - child owns it
        enter = subprocess.Popen(
            [*NORMAL_PRIORITY, "nsenter", "-t", str(holder), "-m", "-u", "-n", "-p", "--wd=/",
             "--", sys.executable, *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env)
        log.close()
        child = child_of(enter.pid)
        pids[name] = child if child is not None else enter.pid
    return pids


def start_plain(argv: list[str], log_path: Path, env: dict[str, str]) -> int:
    """Start one daemon as an ordinary process (the loopback lab); returns its pid."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen([*NORMAL_PRIORITY, sys.executable, *argv],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, env=env)
    return process.pid
