"""Cheap child processes for the lrmd: posix_spawn, a pidfd and non-blocking pipes.

asyncio's subprocess machinery costs the daemon about a millisecond of CPU per agent run
(transports, protocols, futures per pipe); with hundreds of recurring monitors that is most
of its load. Here one call is: ``posix_spawn`` (vfork-like, new session so the child leads
its own process group), a pidfd and the two output pipes registered with the loop's
selector, ``waitpid`` once the pidfd says the child exited. Output beyond `limit` bytes per
stream is read and dropped; pipes a stray grandchild keeps open are given up after `grace`.
Without pidfds (Linux < 5.3) the exit is awaited with ``waitpid`` in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable


class _Child:
    """Collects one child's output and exit status on the running loop."""

    def __init__(self, pid: int, fds: tuple[int, int], limit: int, grace: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.pid = pid
        self.limit = limit
        self.grace = grace
        self.done: asyncio.Future[tuple[int, bytes, bytes]] = self.loop.create_future()
        self.buffers = {fd: bytearray() for fd in fds}
        self.open = set(fds)
        self.exit_code: int | None = None
        self.pidfd = -1
        try:
            self.pidfd = os.pidfd_open(pid)
            self.loop.add_reader(self.pidfd, self._exited)
        except OSError:  # no pidfds (Linux < 5.3): wait in a worker thread instead
            waiting = self.loop.run_in_executor(None, os.waitpid, pid, 0)
            waiting.add_done_callback(lambda done: self._reaped(done.result()[1]))
        for fd in fds:
            os.set_blocking(fd, False)
            self.loop.add_reader(fd, self._readable, fd)

    def _readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(fd)
            self._maybe_finish()
            return
        buffer = self.buffers[fd]
        room = self.limit - len(buffer)
        if room > 0:
            buffer += chunk[:room]

    def _close(self, fd: int) -> None:
        if fd in self.open:
            self.loop.remove_reader(fd)
            os.close(fd)
            self.open.discard(fd)

    def _exited(self) -> None:
        self.loop.remove_reader(self.pidfd)
        os.close(self.pidfd)
        self._reaped(os.waitpid(self.pid, 0)[1])

    def _reaped(self, status: int) -> None:
        self.exit_code = os.waitstatus_to_exitcode(status)
        if self.open:
            self.loop.call_later(self.grace, self._finish)
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.exit_code is not None and not self.open:
            self._finish()

    def _finish(self) -> None:
        for fd in list(self.open):
            self._close(fd)
        if not self.done.done() and self.exit_code is not None:
            out, err = self.buffers.values()
            self.done.set_result((self.exit_code, bytes(out), bytes(err)))


async def spawn(
    argv: list[str],
    env: dict[str, str],
    *,
    limit: int,
    grace: float = 1.0,
    started: Callable[[int], None] | None = None,
) -> tuple[int, bytes, bytes]:
    """Run `argv` to the end: (exit code or -signal, stdout, stderr), each at most `limit`.

    Raises:
        OSError: the program could not be started (missing, not executable, ...).
    """
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            ],
            setsid=True,
        )
    except OSError:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        for fd in (out_w, err_w, devnull):
            os.close(fd)
    if started is not None:
        started(pid)
    return await _Child(pid, (out_r, err_r), limit, grace).done
