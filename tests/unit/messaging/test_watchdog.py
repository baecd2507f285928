"""Issue 8 defect 7 (and the launcher's half of defect 1): a node is never half alive.

- kill -9 of the launcher: its children used to run on unsupervised; now each gets
  PR_SET_PDEATHSIG and stops (heartbeat then tells peers it is leaving).
- a daemon whose loop stopped (no Ping answered, no loop heartbeat) is killed and
  respawned; one that answers is left alone, and so is one whose loop heartbeat moves
  even though nothing answers its Ping (the verdict itself: test_wedge.py).
Integration tests here wait for conditions (with a deadline), never for fixed times.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from messaging.loop_beat import read_beat

PYTHON = sys.executable


def _wait_for(condition: Callable[[], bool], deadline: float = 30.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


_LAUNCHER = """
import asyncio, sys
from pathlib import Path
from messaging.logs import get_logger
from messaging.supervisor import Child, Supervisor
from messaging.wedge import WedgeDetector
state, mode = Path(sys.argv[1]), sys.argv[2]
child = {child}
sup = Supervisor([child], state, get_logger(daemon="launcher"), probe_interval=0.3,
                 detector=WedgeDetector(deadline={deadline}, grace=0.0))
asyncio.run(sup.run())
"""


def _launcher(tmp_path: Path, child: str, deadline: float = 1.0) -> subprocess.Popen[bytes]:
    script = tmp_path / "launcher.py"
    script.write_text(_LAUNCHER.format(child=child, deadline=deadline))
    return subprocess.Popen([PYTHON, str(script), str(tmp_path), "x"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _status(tmp_path: Path) -> dict[str, object]:
    try:
        result = json.loads((tmp_path / "launcher.json").read_text())["daemons"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return {}
    assert isinstance(result, dict)
    return result


def test_children_stop_when_the_launcher_is_killed(tmp_path: Path) -> None:
    sleeper = f"Child('sleeper', [{PYTHON!r}, '-c', 'import time; time.sleep(600)'])"
    launcher = _launcher(tmp_path, sleeper)
    try:
        assert _wait_for(lambda: bool(_status(tmp_path).get("pid")))
        pid = _status(tmp_path)["pid"]
        assert isinstance(pid, int) and _alive(pid)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=30)
        assert _wait_for(lambda: not _alive(pid)), "child outlived its launcher"
    finally:
        launcher.kill()
        launcher.wait()


_WEDGED = ("import sys, time, zmq; s = zmq.Context().socket(zmq.ROUTER); "
           "s.bind(sys.argv[1]); time.sleep(600)")
_HEALTHY = ("import asyncio, sys; from messaging.ipc import Server; "
            "from messaging.envelope import protocol; "
            "asyncio.run(Server(sys.argv[1], protocol('t'), lambda m, c: None, "
            "daemon='t').serve())")


@pytest.mark.parametrize(("program", "wedged"), [(_WEDGED, True), (_HEALTHY, False)])
def test_a_wedged_daemon_is_killed_and_respawned(tmp_path: Path, program: str,
                                                  wedged: bool) -> None:
    endpoint = f"ipc://{tmp_path / 'd.ctl'}"
    child = (f"Child('d', [{PYTHON!r}, '-c', {program!r}, {endpoint!r}], "
             f"control={endpoint!r})")
    # neither writes a loop heartbeat: the Ping alone tells them apart. A healthy server
    # gets a generous deadline (a loaded machine may be slow to answer), short enough that
    # a broken probe would still kill it within the wait below; a wedged one never answers
    launcher = _launcher(tmp_path, child, deadline=1.0 if wedged else 3.0)
    try:
        assert _wait_for(lambda: bool(_status(tmp_path).get("pid")))
        first = _status(tmp_path)["pid"]
        respawned = _wait_for(lambda: _status(tmp_path).get("restarts", 0) >= 1, 15.0)
        assert respawned is wedged
        if not wedged:
            assert _status(tmp_path)["pid"] == first
    finally:
        launcher.terminate()
        launcher.wait(timeout=30)


_DEAF_BUT_TURNING = ("import asyncio; from messaging.daemon import DaemonHost; "
                     "asyncio.run(DaemonHost().run())")


def test_a_daemon_whose_loop_heartbeat_moves_is_left_alone(tmp_path: Path) -> None:
    """Its control socket is never bound (no Ping is ever answered), but its DaemonHost
    writes the loop heartbeat the launcher asked for: that alone keeps it alive."""
    endpoint = f"ipc://{tmp_path / 'nobody.ctl'}"
    child = (f"Child('d', [{PYTHON!r}, '-c', {_DEAF_BUT_TURNING!r}], "
             f"control={endpoint!r})")
    launcher = _launcher(tmp_path, child, deadline=1.0)
    beat = tmp_path / "d.beat"
    try:
        # thirty beats (two per 0.3 s probe) are several deadlines and many probes of
        # silence
        assert _wait_for(lambda: (read_beat(str(beat)) or 0) >= 30)
        assert _status(tmp_path)["restarts"] == 0
    finally:
        launcher.terminate()
        launcher.wait(timeout=30)


_COUNTS_PINGS = """
import asyncio, sys, zmq
from messaging.daemon import DaemonHost
router = zmq.Context().socket(zmq.ROUTER)
router.bind(sys.argv[1])
async def count() -> None:
    pings = 0
    while True:
        while router.poll(0):
            router.recv_multipart()
            pings += 1
        with open(sys.argv[2], "w") as out:
            out.write(str(pings))
        await asyncio.sleep(0.05)
host = DaemonHost()
host.task(count)
asyncio.run(host.run())
"""


def test_a_daemon_whose_loop_heartbeat_moves_is_not_pinged(tmp_path: Path) -> None:
    """A moving beat already proves the loop turns: the launcher sends no Ping then (a
    Ping costs a socket and a wake-up on both sides), only while the beat has not been
    seen yet. It is left alone all the same: its Pings are never answered."""
    endpoint = f"ipc://{tmp_path / 'd.ctl'}"
    pings = tmp_path / "pings"
    child = (f"Child('d', [{PYTHON!r}, '-c', {_COUNTS_PINGS!r}, {endpoint!r}, "
             f"{str(pings)!r}], control={endpoint!r})")
    launcher = _launcher(tmp_path, child, deadline=1.0)
    beat = tmp_path / "d.beat"
    try:
        assert _wait_for(lambda: (read_beat(str(beat)) or 0) >= 30)  # some 15 probes
        assert _status(tmp_path)["restarts"] == 0
        assert int(pings.read_text() or 0) <= 2  # before its first beat was read
    finally:
        launcher.terminate()
        launcher.wait(timeout=30)
