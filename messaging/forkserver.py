"""The launcher's side of the zygote (messaging.zygote): start it, ask it for daemons.

`Forker` owns the zygote process and its socket. `spawn()` returns a `ForkedProcess` (the
subset of asyncio.subprocess.Process the supervisor uses: pid, returncode, wait,
terminate, kill) or None when the daemon must be started the plain way: the zygote is
disabled (HACLUSTER_NO_ZYGOTE=1), dead (it is then started again for the next daemon),
not ready in time, or refused the request. The launcher is PR_SET_CHILD_SUBREAPER
(`become_subreaper`), so zygote-forked daemons are its children: it reaps them through a
pidfd, and `reap_orphans` collects anything else re-parented to it (daemonizing resource
agents) that nobody waits for.

`start(fork=True)` (the launcher's first start, before its event loop exists) preloads
in the launcher and forks the zygote from it (`messaging.zygote.run_forked`) when the
launcher's argument area can hold the daemons' command lines; otherwise, and for every
restart, the zygote is a fresh interpreter (`python -m messaging.zygote`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from messaging.codec import unpack
from messaging.errors import RemoteProtocolError
from messaging.watchdog import die_with_parent, prctl
from messaging.zygote import MAX_MESSAGE, arg_room, preload, read_reply, request, run_forked

NO_ZYGOTE_ENV = "HACLUSTER_NO_ZYGOTE"
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants (the zygote's double-forked daemons) our children."""
    return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0


def zygote_disabled() -> bool:
    return os.environ.get(NO_ZYGOTE_ENV, "") not in ("", "0")


def _exit_code(status: int) -> int:
    """Like Popen.returncode: the exit code, or minus the signal that killed it."""
    return os.waitstatus_to_exitcode(status)


class ForkedProcess:
    """A daemon the zygote forked, now our child (we are its subreaper)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd = os.pidfd_open(pid)
        self._exited: asyncio.Future[int] | None = None

    async def wait(self) -> int:
        if self.returncode is not None:
            return self.returncode
        loop = asyncio.get_running_loop()
        if self._exited is None:
            self._exited = loop.create_future()
            loop.add_reader(self._pidfd, self._reap)
        return await asyncio.shield(self._exited)

    def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        try:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = _exit_code(status)
        except ChildProcessError:  # reaped elsewhere: the status is lost
            self.returncode = 255
        os.close(self._pidfd)
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(self.returncode)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            signal.pidfd_send_signal(self._pidfd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkedZygote:
    """A zygote forked from the launcher: the part of `subprocess.Popen` Forker uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                done, status = os.waitpid(self.pid, os.WNOHANG)
                if done == self.pid:
                    self.returncode = _exit_code(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["messaging.zygote"], timeout or 0.0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def terminate(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


def title_room(commands: Sequence[Sequence[str]]) -> int:
    """Bytes of command line the zygote must reserve so every daemon's fits."""
    return max((sum(len(w.encode()) + 1 for w in argv) for argv in commands), default=0) + 64


class Forker:
    """The zygote process and the launcher's end of its socket."""

    def __init__(self, modules: list[str], title: int, ready_timeout: float = 30.0,
                 reply_timeout: float = 10.0) -> None:
        self.modules = modules
        self.title = title
        self.ready_timeout = ready_timeout
        self.reply_timeout = reply_timeout
        self.process: subprocess.Popen[bytes] | ForkedZygote | None = None
        self._sock: socket.socket | None = None
        self._ready = False
        self._replies: deque[asyncio.Future[bytes]] = deque()  # requests sent, oldest first
        self._reader: asyncio.Task[None] | None = None

    def start(self, fork: bool = False) -> None:
        """Start a zygote (exec'd, it preloads in the background; `spawn` waits for it).
        With `fork`, and room for the titles, preload here and fork it from this process:
        only before an event loop, a thread or a zmq Context exists."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        launcher = os.getpid()
        try:
            if fork and arg_room() >= self.title:
                self.process = self._fork(ours, theirs, launcher)
            else:
                self.process = self._exec(theirs, launcher)
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock, self._ready = ours, False

    def _exec(self, theirs: socket.socket, launcher: int) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "messaging.zygote", str(theirs.fileno()),
                *self.modules, "--", " " * self.title]
        return subprocess.Popen(
            argv, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=lambda: die_with_parent(launcher))

    def _fork(self, ours: socket.socket, theirs: socket.socket, launcher: int
              ) -> ForkedZygote:
        failed = preload(self.modules)  # in the launcher: one copy for all of the node
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            ours.close()
            run_forked(theirs, launcher, failed)  # never returns
        return ForkedZygote(pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> set[int]:
        return {self.process.pid} if self.process is not None else set()

    def close(self) -> None:
        """Stop the zygote (its daemons are the launcher's and live on)."""
        if self._reader is not None:
            with contextlib.suppress(RuntimeError):  # its loop is gone: so is the task
                self._reader.cancel()
            self._reader = None
        with contextlib.suppress(RuntimeError):  # likewise for requests left waiting
            self._fail_waiting(ConnectionResetError("zygote closed"))
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

    async def spawn(self, name: str, module: str, argv: list[str], env: dict[str, str],
                    log: Any = None) -> ForkedProcess | None:
        """Fork `module` as a daemon; None means: start it the plain way.

        Several spawns may be in flight at once (the launcher's first start asks for every
        daemon together): the request goes out before this first waits, and the zygote
        forks and answers in request order, so replies are matched first in, first out. On
        a loaded host each round trip waited for the launcher to be scheduled again before
        the next request left; a node's last daemon (crmd, which every join waits for)
        started 2-4 s after its launcher at load 30 with 16 nodes."""
        if not self.alive():
            self._restart(log)
            return None
        try:
            reply = self._request(name, module, argv, env)
            timeout = self.reply_timeout + (0.0 if self._ready else self.ready_timeout)
            pid = read_reply(await asyncio.wait_for(asyncio.shield(reply), timeout))
        except (OSError, TimeoutError, ChildProcessError, ValueError,
                RemoteProtocolError) as error:
            if log is not None:
                log.warning("zygote_spawn_failed", daemon=name, error=str(error))
            return None
        return ForkedProcess(pid)

    def _restart(self, log: Any) -> None:
        if log is not None and self.process is not None:
            log.warning("zygote_died", code=self.process.returncode)
        self.close()
        self.start()
        if log is not None and self.process is not None:
            log.info("zygote_started", pid=self.process.pid)

    def _request(self, name: str, module: str, argv: list[str], env: dict[str, str]
                 ) -> asyncio.Future[bytes]:
        """Send one spawn request now; the future gets the zygote's reply to it."""
        assert self._sock is not None
        socket.send_fds(self._sock, [request(name, module, argv, env)],
                        [sys.stdout.fileno(), sys.stderr.fileno()])
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        # a waiter that timed out never reads its reply (or the error that ended the reader)
        reply.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._replies.append(reply)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_replies())
        return reply

    async def _read_replies(self) -> None:
        """Hand each reply to the oldest request (after the zygote's ready hello), while
        requests wait; a closed socket or a bad hello fails every waiting request."""
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        try:
            while self._replies:
                data = await loop.sock_recv(self._sock, MAX_MESSAGE)
                if not data:
                    raise ConnectionResetError("zygote closed its socket")
                if not self._ready:
                    hello = unpack(data)
                    if not (isinstance(hello, dict) and "ready" in hello):
                        raise ValueError(f"zygote said {hello!r} instead of ready")
                    self._ready = True
                    continue
                reply = self._replies.popleft()
                if not reply.done():
                    reply.set_result(data)
        except (OSError, ValueError, RemoteProtocolError) as error:
            self._fail_waiting(error)

    def _fail_waiting(self, error: BaseException) -> None:
        while self._replies:
            reply = self._replies.popleft()
            if not reply.done():
                reply.set_exception(error)


def reap_orphans(known: set[int]) -> list[int]:
    """Reap exited children that no one waits for (descendants re-parented to us as the
    subreaper); `known` are the pids whose status someone else collects."""
    reaped = []
    for children in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for word in children.read_text().split():
                pid = int(word)
                if pid in known:
                    continue
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        reaped.append(pid)
    return reaped
