"""lab.nodefork: a launcher forked from the preloaded power switch runs inside the node.

A throwaway "node" (unshare: its own PID, UTS, mount and network namespaces) mounts a tmpfs
holding an ha.cf that only its mount namespace sees. The forker is asked to run the
launcher's `status` with that file: it can only read it from inside the node, so
"launcher: not running" (exit 7) in the log proves the mount namespace was joined, and
the pid the forker reports is a host pid in the node's PID and network namespaces.
Needs root (namespaces); bad requests are refused without forking anything.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab import nodefork
from lab.procs import child_of
from messaging.codec import pack

HA_CF = "cluster_name t\\nkeepalive 1\\ndeadtime 5\\nbcast lo\\nnode n1 n2\\n"
REPO = Path(__file__).resolve().parents[3]
FORKER = ("import os, sys; from pathlib import Path; from lab import nodefork; "
          "nodefork.preload_boot(); pid = nodefork.start(Path(sys.argv[1])); "
          "os.waitpid(pid, 0)")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@contextlib.contextmanager
def _node_and_forker(tmp_path: Path) -> Iterator[tuple[int, Path, Path, dict[str, str]]]:
    """A throwaway node whose tmpfs holds an ha.cf, and a forker: (holder, the tmpfs
    directory, the forker's socket, the environment)."""
    inside, ready = tmp_path / "inside", tmp_path / "ready"
    inside.mkdir()
    script = (f"mount -t tmpfs none {inside} && printf '{HA_CF}' > {inside}/ha.cf && "
              f"touch {ready} && exec sleep 60")
    node = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--uts", "--mount",
                             "--net", "--propagation", "private", "--", "sh", "-c", script])
    sock = tmp_path / "boot.sock"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    forker = subprocess.Popen([sys.executable, "-c", FORKER, str(sock)], env=env)
    try:
        holder = child_of(node.pid)
        assert holder is not None
        _wait_for(ready)
        _wait_for(sock)
        yield holder, inside, sock, env
    finally:
        forker.kill()
        node.kill()
        forker.wait()
        node.wait()


def _status_args(inside: Path) -> list[str]:
    return ["status", "-c", str(inside / "ha.cf"), "--state-dir", str(inside / "state")]


def _wait_for_answer(log: Path) -> str:
    deadline = time.monotonic() + 30
    while "launcher:" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return log.read_text().strip()


@needs_root
def test_a_forked_launcher_reads_the_nodes_own_files(tmp_path: Path) -> None:
    with _node_and_forker(tmp_path) as (holder, inside, sock, env):
        log = tmp_path / "launcher.log"
        pid = nodefork.boot_launcher(sock, holder, _status_args(inside), log, env)
        assert pid is not None and pid != holder
        assert _wait_for_answer(log) == "launcher: not running"
        assert not (inside / "ha.cf").exists()  # the file lives in the node only


@needs_root
def test_requests_arriving_together_are_each_answered(tmp_path: Path) -> None:
    """A rack's nodes ask at once (lab.netns.start_nodes): every good request gets its own
    launcher, with its own log; a bad one among them gets its error, the others are not
    disturbed."""
    with _node_and_forker(tmp_path) as (holder, inside, sock, env):
        logs = [tmp_path / f"launcher{i}.log" for i in range(4)]
        holders = [holder, holder, 2**22 + 1, holder]  # above pid_max: no such process
        with ThreadPoolExecutor(len(logs)) as pool:
            asked = [pool.submit(nodefork.boot_launcher, sock, h, _status_args(inside), log,
                                 env) for h, log in zip(holders, logs, strict=True)]
        pids = [each.result() for each in asked]
        assert pids[2] is None
        good = [pid for i, pid in enumerate(pids) if i != 2]
        assert None not in good and len(set(good)) == 3 and holder not in good
        assert [_wait_for_answer(logs[i]) for i in (0, 1, 3)] == ["launcher: not running"] * 3


@pytest.mark.parametrize("request_", [
    pack(["not", "a", "map"]),
    pack({"holder": 1, "argv": [], "env": {}}),
    pack({"holder": 123, "argv": "start", "env": {}}),
    pack({"holder": 123, "argv": [], "env": {"A": 1}}),
])
def test_a_malformed_boot_request_is_refused(request_: bytes) -> None:
    with pytest.raises(ValueError, match="boot request"):
        nodefork.read_request(request_)


def test_no_forker_means_the_caller_execs_the_launcher(tmp_path: Path) -> None:
    assert nodefork.boot_launcher(tmp_path / "boot.sock", 123, ["start"],
                                  tmp_path / "log", {}) is None


@needs_root
def test_a_forked_holder_is_init_of_a_new_node(tmp_path: Path) -> None:
    """The holder the forker starts is PID 1 of its own PID namespace, in the named network
    namespace, with the node's hostname and its etc/ bind-mounted on /etc/ha.d (the same
    node `ip netns exec ... unshare ... python -m lab.holder` makes)."""
    namespace = f"hctest{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    directory = tmp_path / "tn1"
    for sub in ("etc", "state", "log"):
        (directory / sub).mkdir(parents=True)
    (directory / "etc" / "ha.cf").write_text("node tn1\n")
    sock = tmp_path / "boot.sock"
    forker = subprocess.Popen([sys.executable, "-c", FORKER, str(sock)],
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    holder = None
    try:
        _wait_for(sock)
        holder = nodefork.boot_holder(sock, "tn1", namespace, directory,
                                      directory / "log" / "holder.log")
        assert holder is not None
        _wait_for(directory / "ready")
        status = Path(f"/proc/{holder}/status").read_text()
        assert status.split("NSpid:")[1].split("\n")[0].split()[-1] == "1"
        assert os.stat(f"/proc/{holder}/ns/net").st_ino == os.stat(
            f"/run/netns/{namespace}").st_ino
        hostname = subprocess.run(["nsenter", "-t", str(holder), "-u", "hostname"],
                                  capture_output=True, text=True, check=True).stdout
        assert hostname.strip() == "tn1"
        assert Path(f"/proc/{holder}/root/etc/ha.d/ha.cf").read_text() == "node tn1\n"
        assert Path(f"/proc/{holder}/cmdline").read_bytes().split(b"\0")[1:3] == [
            b"-m", b"lab.holder"]
    finally:
        if holder is not None:
            os.kill(holder, 9)
        forker.kill()
        forker.wait()
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def test_a_holder_request_names_a_namespace_not_a_path() -> None:
    bad = pack({"node": "n1", "netns": "../../proc/1/ns/net", "directory": "/tmp/n1"})
    with pytest.raises(ValueError, match="netns"):
        nodefork.read_holder_request(bad)
