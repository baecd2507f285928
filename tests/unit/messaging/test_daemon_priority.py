"""raise_priority: every thread of the daemon runs real-time, zmq's I/O thread included
(each IPC message passes through it), and the lab boots nodes at normal priority even from
a raised process. Runs in a child process, so the test runner keeps its own priority."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.procs import NORMAL_PRIORITY
from messaging.daemon import apply_realtime, rt_throttled

CHILD = textwrap.dedent("""
    import os, subprocess, sys, zmq
    from messaging.daemon import raise_priority
    zmq.Context.instance().socket(zmq.PUB).bind("inproc://x")  # starts zmq's threads
    print(raise_priority())
    print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmLck")][0])
    for tid in sorted(os.listdir("/proc/self/task")):
        print(tid, os.sched_getscheduler(int(tid)))
    probe = "import os; print('child', os.sched_getscheduler(0))"
    sys.stdout.flush()
    subprocess.run([*sys.argv[1:], sys.executable, "-c", probe], check=True)
""")


def _run_raised(prefix: list[str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", CHILD, *prefix], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.split("\n")


def _realtime_permitted() -> bool:
    try:
        probe = subprocess.run([sys.executable, "-c", "import os; os.sched_setscheduler("
                                "0, os.SCHED_RR, os.sched_param(1))"],
                               capture_output=True, timeout=30)
    except OSError:
        return False
    return probe.returncode == 0


needs_realtime = pytest.mark.skipif(not _realtime_permitted(),
                                    reason="SCHED_RR not permitted here (needs root or "
                                    "CAP_SYS_NICE)")


@needs_realtime
def test_every_thread_of_a_raised_daemon_is_real_time() -> None:
    lines = [line for line in _run_raised([]) if line]
    assert lines[0] == "SCHED_RR 1 mlocked"
    assert int(lines[1]) > 0  # kB locked in memory, as Heartbeat's realtime locks it
    threads = [line.split() for line in lines[2:] if not line.startswith("child")]
    assert len(threads) >= 3  # the main thread plus zmq's I/O and reaper threads
    assert {policy for _, policy in threads} == {str(os.SCHED_RR)}


@needs_realtime
def test_children_inherit_it_unless_started_at_normal_priority() -> None:
    inherited = [line for line in _run_raised([]) if line.startswith("child")]
    assert inherited == [f"child {os.SCHED_RR}"]
    booted = [line for line in _run_raised(NORMAL_PRIORITY) if line.startswith("child")]
    assert booted == [f"child {os.SCHED_OTHER}"]


def test_real_time_only_while_the_kernel_throttles_it(tmp_path: Path) -> None:
    # sched_rt_runtime_us -1 lets a real-time task take the whole CPU: a busy loop of ours
    # would then starve the host, so the daemon stays at nice -10 instead
    for text, throttled in (("950000\n", True), ("-1\n", False), ("", False)):
        (tmp_path / "rt").write_text(text)
        assert rt_throttled(str(tmp_path / "rt")) is throttled
    assert rt_throttled(str(tmp_path / "absent")) is False


def test_realtime_off_in_ha_cf_leaves_the_priority_alone() -> None:
    before = (os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))
    assert apply_realtime(False, 1, None) == "normal (realtime off)"
    assert (os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)) == before
