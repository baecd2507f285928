"""The asyncio life of a daemon process: bind its sockets, run its tasks, stop cleanly.

A service declares what it is made of (a `messaging.runtime.Runner` around its core, its
`messaging.ipc.Server`s and `Publisher`s, background coroutines) and hands them to one
`DaemonHost`, which binds every socket, installs SIGTERM/SIGINT handlers, runs until
`stop()` (or a signal), then cancels the tasks and closes everything in reverse order.
A background task that fails ends the daemon (logged), so the launcher respawns it
instead of leaving a half-alive process; so a daemon whose loop turns also serves its
sockets, and the loop heartbeat the launcher asks for (`messaging.loop_beat`, started
here) is the launcher's proof that the daemon is not wedged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from messaging.loop_beat import from_environment

RT_RUNTIME_PATH = "/proc/sys/kernel/sched_rt_runtime_us"
# mlockall(2) flags (Linux): lock what is mapped now, what is mapped later, and only once a
# page is touched (MCL_ONFAULT, Linux 4.4), not the whole mapping at once
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4


def raise_priority(rtprio: int = 1, lock: bool = True) -> str:
    """Run this daemon as a real-time task (SCHED_RR at `rtprio`, Heartbeat's lowest by
    default), as Heartbeat does with `realtime on` (and Corosync for its membership): on a
    CPU-saturated host a normal task can wait hundreds of milliseconds to run, long enough
    for peers to see a deadtime of silence or for a view change to miss its budget. Falls
    back to nice -10 (refused: EPERM in a container without CAP_SYS_NICE; or the kernel's
    real-time throttling is off, so a runaway loop could starve the host), then to nothing;
    returns what was obtained (for the start-up log). With `lock`, also locks the process
    in memory as Heartbeat does (`lock_memory`).

    Every thread of the process is raised, not just the caller: each message to or from
    another daemon passes through zmq's I/O thread, and left at normal priority that thread
    waited behind every runnable task of the host (at 16 lab nodes, most of the 250 ms
    between heartbeat's death verdict and the last node's new view). Threads started later
    inherit it, and so do child processes: whoever starts processes from a raised one
    decides their priority (the lab boots its nodes at normal priority, see lab.procs)."""
    locked = lock_memory() if lock else ""
    obtained = _set_real_time(rtprio) if rt_throttled() else None
    if obtained is None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, -10)
            obtained = "nice -10"
    return " ".join(part for part in (obtained or "normal", locked) if part)


def apply_realtime(realtime: bool, rtprio: int, log: Any) -> str:
    """ha.cf's `realtime` and `rtprio` for this daemon: `raise_priority` when on, with a
    warning naming what it got instead when the kernel or the container refused (the daemon
    then runs as it can); returns the scheduling for the daemon's start-up log line."""
    if not realtime:
        return "normal (realtime off)"
    obtained = raise_priority(rtprio)
    if not obtained.startswith("SCHED_RR") and log is not None:
        log.warning("realtime_refused", wanted=f"SCHED_RR {rtprio}", obtained=obtained,
                    rt_throttled=rt_throttled())
    return obtained


def _set_real_time(rtprio: int) -> str | None:
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(rtprio))
        for thread in _threads():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                os.sched_setscheduler(thread, os.SCHED_RR, os.sched_param(rtprio))
        return f"SCHED_RR {rtprio}"
    return None


def rt_throttled(path: str = RT_RUNTIME_PATH) -> bool:
    """Whether the kernel keeps real-time tasks from taking the whole CPU (the default
    sched_rt_runtime_us 950000 of each second leaves 5 % to normal tasks); -1 turns that
    off, and a busy loop at real-time priority could then hang the host."""
    try:
        with open(path, encoding="ascii") as source:
            return int(source.read().strip()) >= 0
    except (OSError, ValueError):
        return False


def lock_memory() -> str:
    """Lock the process's pages in memory so that a page-in never delays it (Heartbeat's
    cl_make_realtime: mlockall(MCL_CURRENT|MCL_FUTURE) after lifting RLIMIT_MEMLOCK,
    skipped when the limit stays too small; CAP_IPC_LOCK ignores the limit). MCL_ONFAULT
    locks pages as they are touched instead of faulting in every mapping at once: the full
    form adds ~22 MB to each Python daemon (thread stacks, unused library pages). Returns
    "mlocked" or "" (not permitted; an mlockall(MCL_FUTURE) under a finite limit would
    make later allocations fail)."""
    import ctypes
    import resource

    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_MEMLOCK,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    if resource.getrlimit(resource.RLIMIT_MEMLOCK)[0] != resource.RLIM_INFINITY \
            and not _may_lock_beyond_limit():
        return ""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0
    except (OSError, AttributeError):
        return ""
    return "mlocked" if done else ""


CAP_IPC_LOCK = 14  # linux/capability.h: locks memory whatever RLIMIT_MEMLOCK says


def _may_lock_beyond_limit() -> bool:
    """Whether this process holds CAP_IPC_LOCK (root usually does, even where a container
    keeps it from raising its own RLIMIT_MEMLOCK)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_IPC_LOCK & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _threads() -> list[int]:
    """The thread ids of this process (Linux /proc; none elsewhere)."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return []


class Closeable(Protocol):
    def close(self) -> None: ...


class Bindable(Closeable, Protocol):
    def bind(self) -> None: ...


class DaemonHost:
    """Owns one daemon's sockets and tasks on the running loop."""

    def __init__(self, log: Any = None) -> None:
        self.log = log
        self._stop = asyncio.Event()
        self._sockets: list[Bindable] = []
        self._closeables: list[Closeable] = []
        self._factories: list[Callable[[], Coroutine[Any, Any, Any]]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.failure: BaseException | None = None

    def socket(self, sock: Bindable) -> Bindable:
        """A socket to bind at start and close at stop."""
        self._sockets.append(sock)
        return sock

    def closing(self, thing: Closeable) -> Closeable:
        """Something else to close at stop (clients, runners, link sockets)."""
        self._closeables.append(thing)
        return thing

    def task(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """A coroutine to run from start until stop."""
        self._factories.append(factory)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def bind_all(self) -> None:
        for sock in self._sockets:
            sock.bind()

    async def run(self, *, bind: bool = True) -> None:
        """Bind, start the tasks, wait for stop or a signal, then tear everything down.

        Raises:
            the exception of a background task that failed (after tearing down).
        """
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        if bind:
            self.bind_all()
        beat = from_environment()
        if beat is not None:
            beat.start()
            self._closeables.append(beat)
        self._tasks = [loop.create_task(factory()) for factory in self._factories]
        for task in self._tasks:
            task.add_done_callback(self._ended)
        try:
            await self._stop.wait()
        finally:
            await self.close()
        if self.failure is not None:
            raise self.failure

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self._stop.is_set():
            return
        error = task.exception()
        if error is None:  # a task that finished its work (a start-up step) is fine
            return
        if self.log is not None:
            self.log.error("daemon_task_failed", error=repr(error))
        self.failure = error
        self.stop()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        for thing in reversed([*self._sockets, *self._closeables]):
            with contextlib.suppress(Exception):
                thing.close()
