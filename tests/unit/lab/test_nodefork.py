"""lab.nodefork: a launcher forked from the preloaded power switch runs inside the node.

A throwaway "node" (unshare: its own PID, UTS, mount and network namespaces) mounts a tmpfs
holding an ha.cf that only its mount namespace sees. The forker is asked to run the
launcher's `status` with that file: it can only read it from inside the node, so
"launcher: not running" (exit 7) in the log proves the mount namespace was joined, and
the pid the forker reports is a host pid in the node's PID and network namespaces.
Needs root (namespaces); bad requests are refused without forking anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


@needs_root
def test_a_forked_launcher_reads_the_nodes_own_files(tmp_path: Path) -> None:
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
        log = tmp_path / "launcher.log"
        pid = nodefork.boot_launcher(sock, holder, [
            "status", "-c", str(inside / "ha.cf"), "--state-dir", str(inside / "state")],
            log, env)
        assert pid is not None and pid != holder
        deadline = time.monotonic() + 30
        while "launcher:" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.read_text().strip() == "launcher: not running"
        assert not (inside / "ha.cf").exists()  # the file lives in the node only
    finally:
        forker.kill()
        node.kill()
        forker.wait()
        node.wait()


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
