"""A daemon's loop heartbeat, and what the launcher reads of a daemon to judge a wedge.

The launcher names a file in the child's environment (`BEAT_ENV`, as systemd passes
WATCHDOG_USEC and NOTIFY_SOCKET) and how often to write it (`BEAT_INTERVAL_ENV`: half its
probe interval, so a turning loop moves the counter between any two probes, and an idle
daemon wakes no more often than that); the daemon's `messaging.daemon.DaemonHost` then
runs a `LoopBeat`: a timer callback on its own event loop that writes an ever-changing
counter (8 bytes, little-endian, at offset 0) into that file every `interval`. The counter moves
only when the loop turns, so it proves progress without asking the loop anything; reading
it costs the launcher one pread, however loaded the host. A file, not a socket: nothing to
answer, nothing to time out: neither side ever waits for the other.

`read_beat` and `read_run_delay` are the launcher's two readings (the counter, and the
kernel's run-queue wait of the daemon's main thread); `messaging.wedge` judges them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

BEAT_ENV = "HACLUSTER_LOOP_BEAT"
BEAT_INTERVAL_ENV = "HACLUSTER_LOOP_BEAT_INTERVAL"
BEAT_INTERVAL = 1.0  # when the launcher names no interval


class LoopBeat:
    """Bumps the counter in `path` from the running loop every `interval` seconds."""

    def __init__(self, path: str, interval: float = BEAT_INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.count = 0
        self._fd: int | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._beat()

    def _beat(self) -> None:
        if self._fd is None:
            return
        self.count += 1
        with contextlib.suppress(OSError):  # a full disk must not end the daemon
            os.pwrite(self._fd, self.count.to_bytes(8, "little"), 0)
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._beat)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def from_environment() -> LoopBeat | None:
    """The beat the launcher asked for, if it asked (at the interval it named, if valid)."""
    path = os.environ.get(BEAT_ENV)
    if not path:
        return None
    try:
        interval = float(os.environ.get(BEAT_INTERVAL_ENV, BEAT_INTERVAL))
    except ValueError:
        interval = BEAT_INTERVAL
    return LoopBeat(path, interval if 0 < interval < float("inf") else BEAT_INTERVAL)


def read_beat(path: str) -> int | None:
    """The counter in `path`; None when there is none yet."""
    try:
        with open(path, "rb") as beat:
            data = beat.read(8)
    except OSError:
        return None
    return int.from_bytes(data, "little") if len(data) == 8 else None


def read_run_delay(pid: int) -> float | None:
    """Seconds the process's main thread has waited runnable for a CPU since it started
    (the second field of /proc/PID/schedstat, in ns); None where the kernel does not say."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def runnable_per_cpu() -> float:
    """The 1-minute load average per CPU: the fallback measure of starvation."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        return 0.0
