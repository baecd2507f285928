"""The zygote's spawn protocol and what a forked daemon looks like (messaging.zygote,
messaging.forkserver): real processes, a throwaway daemon package on PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from messaging.codec import pack
from messaging.zygote import _entry_modules, read_reply, read_request, request

PROBE_DAEMON = """
import json, os, random, signal, sys
from pathlib import Path
if __name__ == "__main__":  # the zygote imports this module once to preload it
    print(json.dumps({
        "name": __name__, "argv": sys.argv[1:], "env": os.environ.get("PROBE"),
        "cmdline": Path("/proc/self/cmdline").read_bytes().rstrip(b"\\0").decode().split("\\0"),
        "comm": Path("/proc/self/comm").read_text().strip(), "sid": os.getsid(0) == os.getpid(),
        "ppid": os.getppid(), "random": random.random(), "pid": os.getpid(),
        "sigpipe_ignored": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN}), flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    sys.exit(int(sys.argv[1]))
"""

LAUNCHER = '''
import asyncio, json, sys
from messaging.forkserver import Forker, become_subreaper
assert become_subreaper()
async def main():
    forker = Forker(["probe"], title=400)
    forker.start()
    results = []
    for code in (3, 0):
        process = await forker.spawn("probe-d", "probe", [str(code), "x" * 20], {"PROBE": "y"})
        results.append([process.pid, await process.wait()])
    forker.close()
    print(json.dumps({"launcher": __import__("os").getpid(), "results": results}), flush=True)
asyncio.run(main())
'''


def test_request_round_trip_and_bad_requests() -> None:
    data = request("lrmd", "lrmd", ["--state-dir", "/x"], {"A": "b"})
    assert read_request(data) == ("lrmd", "lrmd", ["--state-dir", "/x"], {"A": "b"})
    with pytest.raises(ValueError, match="name, module"):
        read_request(pack({"name": "x", "module": "m", "argv": [1], "env": {}}))
    with pytest.raises(ValueError, match="not a map"):
        read_request(pack([1, 2]))
    assert read_reply(pack({"pid": 42})) == 42
    with pytest.raises(ChildProcessError, match="no such module"):
        read_reply(pack({"error": "no such module"}))


def test_a_plain_entry_module_is_preloaded_itself() -> None:
    assert _entry_modules("cib.attrd_daemon") == ["cib.attrd_daemon"]
    assert _entry_modules("lrmd") == ["lrmd.__main__", "lrmd.service"]


def _run_launcher(tmp_path: Path, launcher: str) -> tuple[list[Any], Any, str]:
    """Runs `launcher` with a probe package on the path; its daemons' lines, its summary line
    and its stderr. Line-buffered output: the daemons run side by side, one write per line."""
    package = tmp_path / "probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(PROBE_DAEMON)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}:{Path(__file__).resolve().parents[3]}")
    env.pop("HACLUSTER_NO_ZYGOTE", None)
    env.pop("PYTHONUNBUFFERED", None)
    result = subprocess.run([sys.executable, "-c", launcher], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines[:-1], lines[-1], result.stderr


def test_zygote_forks_a_daemon_that_looks_exec_started(tmp_path: Path) -> None:
    daemons, summary, stderr = _run_launcher(tmp_path, LAUNCHER)
    assert [d["argv"] for d in daemons] == [["3", "x" * 20], ["0", "x" * 20]]
    assert [code for _, code in summary["results"]] == [3, 0]
    assert [d["pid"] for d in daemons] == [pid for pid, _ in summary["results"]]
    for daemon in daemons:
        assert daemon["name"] == "__main__" and daemon["env"] == "y" and daemon["sid"]
        assert daemon["ppid"] == summary["launcher"]  # re-parented to the subreaper
        assert daemon["cmdline"][1:3] == ["-m", "probe"]
        assert daemon["cmdline"][3:] == daemon["argv"]
        assert daemon["comm"] == "probe-d"
        assert daemon["sigpipe_ignored"]  # as Python started by exec: EPIPE, not death
    assert daemons[0]["random"] != daemons[1]["random"]  # reseeded after the fork
    assert stderr.count("to stderr") == 2


CONCURRENT_LAUNCHER = '''
import asyncio, json, sys
from messaging.forkserver import Forker, become_subreaper
assert become_subreaper()
async def main():
    forker = Forker(["probe"], title=400)
    forker.start()
    codes = list(range(5, 11))
    processes = await asyncio.gather(*(forker.spawn("probe-d", "probe", [str(code)], {})
                                       for code in codes))
    results = [[p.pid, await p.wait()] for p in processes]
    forker.close()
    print(json.dumps({"launcher": __import__("os").getpid(), "results": results}), flush=True)
asyncio.run(main())
'''


def test_spawns_in_flight_together_each_get_their_own_daemon(tmp_path: Path) -> None:
    """The launcher sends every first start at once (before the zygote said ready): each
    reply reaches the request it answers, in order, so pid i is the daemon of request i."""
    daemons, summary, _ = _run_launcher(tmp_path, CONCURRENT_LAUNCHER)
    by_pid = {d["pid"]: d for d in daemons}
    assert len(by_pid) == 6
    for code, (pid, exit_code) in zip(range(5, 11), summary["results"], strict=True):
        assert by_pid[pid]["argv"] == [str(code)]  # the daemon of this very request
        assert exit_code == code
        assert by_pid[pid]["ppid"] == summary["launcher"]
