"""`hacluster node start` with the zygote (messaging.zygote): the first zygote is forked
from the launcher, daemons are forked from it, look exec-started (command line, comm),
die with the launcher on kill -9 (issue 8 defect 7), are started the plain way while a
killed zygote is replaced, and HACLUSTER_NO_ZYGOTE=1 starts every daemon the plain way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from messaging.authkeys import write_authkeys

REPO = Path(__file__).resolve().parents[3]
NODE = [sys.executable, "-c", "from messaging.launcher import node; node()"]


def _wait(predicate: Callable[[], bool], timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class Node:
    launcher: subprocess.Popen[bytes]
    state: Path
    log: Path

    def daemons(self) -> dict[str, dict[str, object]]:
        try:
            status = json.loads((self.state / "launcher.json").read_text())
        except (OSError, ValueError):
            return {}
        return {d["name"]: d for d in status["daemons"]}

    def pid(self, name: str) -> int | None:
        pid = self.daemons().get(name, {}).get("pid")
        return pid if isinstance(pid, int) else None

    def started(self, name: str) -> list[str]:
        """How each start of `name` happened (zygote or exec), from the launcher's log."""
        return [line.split(" how=")[1].split()[0] for line in self.log.read_text().splitlines()
                if "daemon_started" in line and f"daemon={name} " in line + " "]

    def zygote(self) -> int | None:
        children = Path(f"/proc/{self.launcher.pid}/task/{self.launcher.pid}/children")
        for word in children.read_text().split() if children.exists() else []:
            if b"messaging.zygote" in Path(f"/proc/{word}/cmdline").read_bytes():
                return int(word)
        return None


def _start(tmp_path: Path, port: int, address: str, **env: str) -> Node:
    (tmp_path / "ha.cf").write_text(f"keepalive 200ms\ndeadtime 1\nudpport {port}\n"
                                    f"ucast lo {address}\nnode z1 z2\n")
    write_authkeys(tmp_path / "authkeys")
    state, log = tmp_path / "state", tmp_path / "launcher.log"
    environment = {k: v for k, v in os.environ.items() if k != "HACLUSTER_NO_ZYGOTE"}
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [*NODE, "start", "-c", str(tmp_path / "ha.cf"), "-k", str(tmp_path / "authkeys"),
             "-n", "z1", "--bind", address, "--state-dir", str(state)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**environment, **env})
    return Node(launcher, state, log)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    started = _start(tmp_path, 39696, "127.0.0.61")
    try:
        assert _wait(lambda: started.pid("heartbeat") is not None), started.log.read_text()
        yield started
    finally:
        if started.launcher.poll() is None:
            started.launcher.terminate()
            started.launcher.wait(60)


def test_daemons_are_forked_by_the_zygote_and_look_exec_started(node: Node) -> None:
    assert node.started("heartbeat") == ["zygote"], node.log.read_text()
    pid = node.pid("heartbeat")
    assert pid is not None
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    assert cmdline[1:3] == [b"-m", b"messaging.heartbeat"] and b"-n" in cmdline
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "heartbeat"
    status = Path(f"/proc/{pid}/status").read_text()
    assert f"PPid:\t{node.launcher.pid}\n" in status  # the launcher is its subreaper


def test_the_first_zygote_is_forked_from_the_launcher_and_names_daemons_in_full(
        node: Node) -> None:
    # forked (not exec'd): it shares the launcher's preloaded pages and shows only its name
    zygote = node.zygote()
    assert zygote is not None
    cmdline = Path(f"/proc/{zygote}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    assert cmdline[1:] == [b"-m", b"messaging.zygote"], cmdline
    assert Path(f"/proc/{zygote}/comm").read_text().strip() == "zygote"
    # the launcher made room for the daemons' command lines: nothing is cut off
    pid = node.pid("heartbeat")
    assert pid is not None
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    assert str(node.state).encode() in cmdline, cmdline
    assert cmdline[-2:] == [b"--bind", b"127.0.0.61"], cmdline  # its last argument


def test_zygote_daemons_die_when_the_launcher_is_killed(node: Node) -> None:
    named = {p: name for name in node.daemons() if (p := node.pid(name)) is not None}
    zygote = node.zygote()
    assert named and zygote is not None
    node.launcher.send_signal(signal.SIGKILL)
    node.launcher.wait(30)
    assert _wait(lambda: not any(_alive(p) for p in [*named, zygote]), 30), \
        [_kernel_view(named.get(p, "zygote"), p) for p in [*named, zygote] if _alive(p)]


def _kernel_view(name: str, pid: int) -> str:
    """What the kernel says of a process that outlived its launcher: its command line (a
    reused pid shows another one), parent, state and where it waits, and its signal sets
    (a death signal never sent leaves SIGTERM neither pending nor caught; one caught by the
    daemon's graceful stop shows in SigCgt while the stop hangs)."""
    wanted = ("State", "PPid", "Threads", "SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigIgn",
              "SigCgt")
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
        status = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if line.split(":")[0] in wanted]
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError as error:
        return f"{name} {pid}: {error}"
    return f"{name} {pid} {cmdline!r} wchan={wchan} {'; '.join(status)}"


def test_a_killed_zygote_is_replaced_and_daemons_start_meanwhile(node: Node) -> None:
    zygote = node.zygote()
    assert zygote is not None
    os.kill(zygote, signal.SIGKILL)
    assert _wait(lambda: not _alive(zygote), 30)
    # ccm, not heartbeat: a killed heartbeat is not respawned (its death is the node's)
    for expected in ("exec", "zygote"):  # the first respawn finds it dead, the next uses it
        old = node.pid("ccm")
        assert old is not None
        os.kill(old, signal.SIGKILL)
        assert _wait(lambda old=old: node.pid("ccm") not in (None, old)), \
            node.log.read_text()
        assert node.started("ccm")[-1] == expected, node.log.read_text()
    assert node.zygote() not in (None, zygote)


def test_no_zygote_starts_every_daemon_the_plain_way(tmp_path: Path) -> None:
    started = _start(tmp_path, 39697, "127.0.0.62", HACLUSTER_NO_ZYGOTE="1")
    try:
        assert _wait(lambda: started.pid("heartbeat") is not None), started.log.read_text()
        assert started.started("heartbeat") == ["exec"]
        assert started.zygote() is None
    finally:
        started.launcher.terminate()
        assert started.launcher.wait(60) == 0
