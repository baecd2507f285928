"""The lab's node forker: every node's launcher forked from one preloaded interpreter.

A real machine starts one interpreter per node. A lab of 16 nodes on a 2-core host, booted
all at once (power returning to a rack), paid about 0.6 CPU-seconds per node just for the
launcher's interpreter start, its imports and the preload of every daemon's modules, all
16 of them competing for the same two cores (issue 10's cold start). So the lab's power
switch (lab.pdu, started by `lab up` in the machine's own namespaces) imports what the
launcher and every daemon need once (`preload_boot`) and, before it starts any thread,
forks `serve`: a single-threaded server listening on ``DATA_DIR/<lab>/boot.sock``, outside
every node (nodes bind-mount only the ``pdu`` directory next to it).

A boot request names a node's holder (its PID 1, lab.holder) and the launcher's
arguments, with the launcher's stdout and stderr attached (SCM_RIGHTS). The server forks an
intermediate that joins the holder's UTS, network, PID and mount namespaces (setns; a
process may join a mount namespace only while single-threaded) and forks again, since a
process enters a PID namespace only through its children; the intermediate reports that
child's host pid and exits. The child's parent is then the machine's init (the reaper of
the intermediate's PID namespace), outside the node as nsenter was: inside the node its
parent pid reads 0 either way. The child is the node's launcher: own session, normal
scheduling priority, cwd /, the request's environment, the command line ``python -c
"from messaging.launcher import node; node()" start ...`` and then the very code a machine
runs for `hacluster node start` (configuration checks, the zygote, every daemon,
respawns). Each node keeps its own /run, /var/lib/hacluster and logs, from the holder's
mount namespace; only the interpreter's start-up and imports are shared, copy-on-write.

The node's holder is forked the same way (`boot_holder`, used by lab.netns when it powers
a node on): instead of ``ip netns exec NS unshare --pid --fork --mount-proc --uts --mount
--propagation private python -m lab.holder NODE DIR`` (four programs and an interpreter
start per node, under the node's power lock), the intermediate joins the node's network
namespace, makes new UTS, mount (private, with the namespace's own /sys) and PID
namespaces with system calls (lab.holder.enter_new_node), and its child, PID 1 there,
mounts its /proc and runs lab.holder's own code (hostname, mounts, ready file, reaping).

Protocol (SOCK_SEQPACKET, msgpack through messaging.codec, one datagram each way per
connection): request ``{"holder": pid, "argv": [...], "env": {...}}`` (a launcher) or
``{"node": name, "netns": name, "directory": path}`` (a holder), plus two fds (its stdout
and stderr); reply ``{"pid": N}`` or ``{"error": text}``. Requests already queued when the
server accepts one (a rack's nodes, booted side by side) are all forked before any is
answered; replies go out in the order the requests came. The clients return None when no
forker answers and the lab then execs the programs as before; HACLUSTER_LAB_EXEC_BOOT=1
forces that (for comparison, and for bench/node_memory.py).

Invariants: the server has no thread, event loop or zmq Context (it is forked before the
power switch creates any); it dies with the power switch (PR_SET_PDEATHSIG); a forked
launcher never returns into the server loop (it leaves through `os._exit`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from messaging.codec import pack, unpack

from .layout import DATA_DIR

BOOT_SOCKET = "boot.sock"
LAUNCHER_CODE = "from messaging.launcher import node; node()"
# setns(2) flags; the mount namespace last: the others are opened through /proc first
NAMESPACES = (("uts", 0x04000000), ("net", 0x40000000), ("pid", 0x20000000),
              ("mnt", 0x00020000))
LOG_FDS = 2  # stdout, stderr
NETNS_DIR = "/run/netns"  # where `ip netns add` names network namespaces
NETNS_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
MAX_MESSAGE = 1 << 16
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
REPLY_TIMEOUT = 10.0
# Blank command-line room the power switch starts with: a launcher forked from it shows its
# own command line there and needs room for its daemons' (messaging.forkserver.title_room),
# else it would exec itself again to get it.
TITLE_ROOM = 2048


def socket_path(lab: str) -> Path:
    return DATA_DIR / lab / BOOT_SOCKET


def exec_boot_forced() -> bool:
    return os.environ.get("HACLUSTER_LAB_EXEC_BOOT") == "1"


def preload_boot() -> None:
    """Import the launcher and every daemon's modules (as the launcher's zygote does)."""
    import messaging.launcher  # noqa: F401 - the point is the import
    from messaging.supervisor import DAEMONS
    from messaging.zygote import preload

    preload([spec.module for spec in DAEMONS if spec.module is not None])


# ------------------------------------------------------------------ client
def boot_launcher(path: Path, holder: int, args: list[str], log_path: Path,
                  env: dict[str, str]) -> int | None:
    """Ask the forker listening on `path` to start the launcher with `args` inside the node
    of `holder`; its host pid, or None when no forker answers (the caller then execs one)."""
    return _ask(path, {"holder": holder, "argv": args, "env": env}, log_path, "launcher")


def boot_holder(path: Path, node: str, namespace: str, directory: Path,
                log_path: Path) -> int | None:
    """Ask the forker listening on `path` to start the holder of `node` (lab.holder) in the
    network namespace `namespace`; its host pid, or None when no forker answers (the
    caller then starts it with `ip netns exec ... unshare`)."""
    return _ask(path, {"node": node, "netns": namespace, "directory": str(directory)},
                log_path, "holder")


def _ask(path: Path, message: dict[str, object], log_path: Path, what: str) -> int | None:
    if exec_boot_forced() or not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn, \
                open(log_path, "ab") as log:
            conn.settimeout(REPLY_TIMEOUT)
            conn.connect(str(path))
            socket.send_fds(conn, [pack(message)], [log.fileno(), log.fileno()])
            reply = unpack(conn.recv(MAX_MESSAGE))
    except (OSError, ValueError):
        return None
    if isinstance(reply, dict) and isinstance(reply.get("pid"), int):
        return int(reply["pid"])
    print(f"node forker: {reply!r}; starting the {what} with a program", file=sys.stderr)
    return None


# ------------------------------------------------------------------ server
def start(path: Path) -> int | None:
    """Fork the server listening on `path` from this (preloaded, still single-threaded)
    process; its pid, or None when the socket cannot be made (nodes then boot by nsenter)."""
    path.unlink(missing_ok=True)
    # bound and listening under a temporary name, then renamed: a client that sees `path`
    # never connects between bind and listen (ECONNREFUSED: it then booted by exec instead)
    staging = path.with_name(path.name + ".new")
    staging.unlink(missing_ok=True)
    try:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(str(staging))
        os.chmod(staging, 0o600)
        listener.listen(64)
        os.rename(staging, path)
    except OSError as error:
        print(f"node forker not started: {error}", file=sys.stderr, flush=True)
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _serve_forever(listener, parent)
    listener.close()
    return pid


def _serve_forever(listener: socket.socket, parent: int) -> NoReturn:
    code = 0
    try:
        from messaging.watchdog import die_with_parent

        die_with_parent(parent)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        _become_reaper()
        from messaging.zygote import set_command_line

        set_command_line([sys.executable, "-m", "lab.nodefork"])
        while True:
            conn, _ = listener.accept()
            batch = [conn, *_queued(listener)]
            try:
                _answer(batch, listener)
            finally:
                for each in batch:
                    each.close()
    except BaseException:  # reported; the lab falls back to nsenter
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)


def _become_reaper() -> None:
    """Adopt and reap the holders and launchers this server forked once their intermediate
    exited (PR_SET_CHILD_SUBREAPER): otherwise they are orphans of the machine's init, and
    an init that reaps late (a container's or VM's) leaves a powered-off node's holder a
    zombie for seconds, which `lab kill` and the power switch's `off` count as running."""
    from messaging.watchdog import prctl

    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, _reap_children)


def _reap_children(_signum: int, _frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _queued(listener: socket.socket) -> list[socket.socket]:
    """The connections already waiting behind the one accepted (a rack's `lab start` asks
    for every node at once), without blocking."""
    queued = []
    listener.setblocking(False)
    try:
        while True:
            conn, _ = listener.accept()
            conn.setblocking(True)
            queued.append(conn)
    except BlockingIOError:
        pass
    finally:
        listener.setblocking(True)
    return queued


def _answer(batch: list[socket.socket], listener: socket.socket) -> None:
    """Fork the intermediate of every request in `batch` before reading any one's report,
    so their intermediates (setns, fork) run side by side: answered one at a time, each
    node waited for the previous node's intermediate to be scheduled, a time slice each on
    a loaded host. Replies still go out in the order the requests came."""
    spawned: list[bytes | tuple[int, int]] = []
    reads: list[int] = []
    try:
        for conn in batch:
            data, fds, _, _ = socket.recv_fds(conn, MAX_MESSAGE, LOG_FDS + 1)
            try:
                started = _spawn(data, fds, [*batch, listener], reads)
            finally:
                for fd in fds:
                    os.close(fd)
            spawned.append(started)
            if isinstance(started, tuple):
                reads.append(started[1])
        for conn, started in zip(batch, spawned, strict=False):
            reply = started if isinstance(started, bytes) else _report(*started)
            with contextlib.suppress(OSError):
                conn.send(reply)
    finally:
        for fd in reads:
            with contextlib.suppress(OSError):
                os.close(fd)


def read_request(data: bytes) -> tuple[int, list[str], dict[str, str]]:
    """The fields of a launcher's boot request; ValueError when it is not one."""
    message = unpack(data)
    if not isinstance(message, dict):
        raise ValueError("boot request is not a map")
    holder, argv, env = message.get("holder"), message.get("argv"), message.get("env")
    if not (isinstance(holder, int) and holder > 1 and isinstance(argv, list)
            and all(isinstance(a, str) for a in argv) and isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise ValueError("boot request needs holder (pid), argv and env (strings)")
    return holder, argv, env


def read_holder_request(data: bytes) -> tuple[str, str, str] | None:
    """(node, network namespace, directory) of a holder's power-on request; None when the
    request is not one (a launcher's); ValueError when malformed."""
    message = unpack(data)
    if not isinstance(message, dict) or "node" not in message:
        return None
    fields = message.get("node"), message.get("netns"), message.get("directory")
    node, namespace, directory = fields
    if not (isinstance(node, str) and isinstance(namespace, str)
            and isinstance(directory, str) and node and directory.startswith("/")
            and NETNS_NAME.fullmatch(namespace)):
        raise ValueError("holder request needs node, netns (a name) and directory (absolute)")
    return node, namespace, directory


def _spawn(data: bytes, fds: list[int], sockets: list[socket.socket],
           inherited: list[int]) -> bytes | tuple[int, int]:
    """Fork the intermediate of one request: (its pid, the read end of its report), or the
    error reply. `sockets` and `inherited` (the reports of earlier requests of a batch)
    are closed in the launcher or holder, which must not hold them."""
    try:
        if len(fds) != LOG_FDS:
            raise ValueError(f"boot request carries {len(fds)} fds, expected {LOG_FDS}")
        holder_request = read_holder_request(data)
        if holder_request is not None:
            node, namespace, directory = holder_request
            entry: list[tuple[int, int]] = [(os.open(f"{NETNS_DIR}/{namespace}", os.O_RDONLY),
                                             0)]
            run: Callable[[], NoReturn] = functools.partial(
                _run_holder, node, directory, fds)
        else:
            holder, argv, env = read_request(data)
            entry = [(os.open(f"/proc/{holder}/ns/{kind}", os.O_RDONLY), flag)
                     for kind, flag in NAMESPACES]
            run = functools.partial(_run_launcher, argv, env, fds)
    except (ValueError, OSError) as error:
        return pack({"error": str(error)})
    read_pid, write_pid = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a launcher or holder reaps its own
        os.close(read_pid)
        for fd in inherited:
            os.close(fd)
        _enter_and_fork(entry, write_pid, run, sockets, holder_request)
    for fd, _ in entry:
        os.close(fd)
    os.close(write_pid)
    return intermediate, read_pid


def _report(intermediate: int, read_pid: int) -> bytes:
    """The reply once the intermediate reported its child's pid (or why it failed)."""
    # one read, not to EOF: the forked child holds the pipe open until it is scheduled and
    # closes it, while the intermediate's one write (a pid or an error, well under
    # PIPE_BUF, so whole) is there at once. Reading to EOF waited a time slice per node on
    # a loaded host, and a rack's `lab start` boots its nodes one after the other.
    answer = os.read(read_pid, 4096)
    with contextlib.suppress(ChildProcessError):  # _reap_children may have been first
        os.waitpid(intermediate, 0)
    if not answer.isdigit():
        return pack({"error": answer.decode(errors="replace") or "the child died unborn"})
    return pack({"pid": int(answer)})


def _enter_and_fork(namespaces: list[tuple[int, int]], write_pid: int,
                    run: Callable[[], NoReturn], sockets: list[socket.socket],
                    holder_request: tuple[str, str, str] | None) -> NoReturn:
    """In the intermediate: join the node's namespaces (a launcher) or make the node's new
    ones (a holder), fork the child into them, report its pid (as this, the machine's, PID
    namespace numbers it) and exit."""
    try:
        if holder_request is not None:
            from .holder import enter_new_node

            enter_new_node(namespaces[0][0], holder_request[1])
        else:
            from messaging.watchdog import setns

            for fd, flag in namespaces:
                setns(fd, flag)
        for fd, _ in namespaces:
            os.close(fd)
        child = os.fork()
    except BaseException as error:
        os.write(write_pid, f"joining the node failed: {error}".encode())
        os._exit(1)
    if child == 0:
        os.close(write_pid)
        for sock in sockets:
            sock.close()
        run()
    os.write(write_pid, str(child).encode())
    os._exit(0)


def _run_holder(node: str, directory: str, fds: list[int]) -> NoReturn:
    """In the node, as PID 1 of its new PID namespace: become its holder, as `python -m
    lab.holder NODE DIR` run by `ip netns exec NS unshare ... --mount-proc` would."""

    def body() -> int:
        from . import holder

        _detach(fds)
        holder.mount_proc()
        from messaging.zygote import set_command_line

        set_command_line([sys.executable, "-m", "lab.holder", node, directory])
        return holder.main([node, directory])

    _exit_with(body)


def _run_launcher(argv: list[str], env: dict[str, str], fds: list[int]) -> NoReturn:
    """In the node: become its launcher, as `python -c LAUNCHER_CODE ARGV...` would."""

    def body() -> int:
        _become_launcher_process(argv, env, fds)
        from messaging.launcher import node

        node.main(args=argv, prog_name="hacluster node")
        return 0

    _exit_with(body)


def _exit_with(body: Callable[[], int]) -> NoReturn:
    """Run a forked child's `body` and end the process with its exit code (a SystemExit's
    code; 1 after reporting anything else), flushing output first: a fork must never return
    into the boot server's code."""
    code = 1
    try:
        code = body()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # whatever ended it is reported, then the process exits
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)


def _detach(fds: list[int]) -> None:
    """What a program started by the lab gets: own session, normal scheduling priority
    (lab.procs.NORMAL_PRIORITY), cwd /, stdin from /dev/null, stdout and stderr to the
    log, the signal dispositions and mask of a fresh interpreter."""
    os.setsid()
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    os.chdir("/")
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as a fresh interpreter has it
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in {null, *fds} - {0, 1, 2}:
        os.close(fd)


def _become_launcher_process(argv: list[str], env: dict[str, str], fds: list[int]) -> None:
    """What exec'ing the launcher would have given it: session, priority, cwd, stdio,
    signal dispositions, environment, seed and command line."""
    import random

    from messaging.zygote import set_command_line

    _detach(fds)
    os.environ.clear()
    os.environ.update(env)
    random.seed()
    command = [sys.executable, "-c", LAUNCHER_CODE, *argv]
    sys.argv = ["-c", *argv]
    sys.orig_argv = command  # what a re-exec of the launcher (title room) would run
    set_command_line(command)


def serve(lab: str) -> int | None:
    """For lab.pdu: preload, then fork the server; its pid or None."""
    preload_boot()
    return start(socket_path(lab))
