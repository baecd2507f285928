"""The fork server ("zygote"): one preloaded interpreter that forks the node's daemons.

    python -m messaging.zygote FD MODULE... -- TITLE_SPACE

Separate interpreters each import asyncio, zmq, msgpack, structlog, click and messaging
(about 17 MB per daemon). The launcher instead starts this process first: it imports the
common modules and every configured daemon's entry and service modules once, then `gc.collect()` and
`gc.freeze()` (so the collector never writes to the shared objects and the pages stay
shared copy-on-write), and serves spawn requests on the inherited SOCK_SEQPACKET socket FD.

Protocol (`request`/`reply`, msgpack through messaging.codec, one datagram each):
- the zygote sends `{"ready": pid}` once its imports are done;
- a request is `{"name", "module", "argv", "env"}` with two file descriptors attached
  (SCM_RIGHTS): the daemon's stdout and stderr;
- the reply is `{"pid": N}` or `{"error": text}`, one per request, in request order (the
  requests already queued are all forked before the first is answered: a node's first
  daemons are asked for together).
The daemon is double-forked: its intermediate parent (named as the daemon before forking
it) reports the daemon's pid and exits at once, so the daemon is re-parented
to the launcher (a PR_SET_CHILD_SUBREAPER), which waits for it, signals it and gets
PR_SET_PDEATHSIG from it exactly as for a daemon it started itself.

Invariants: the zygote never creates an event loop, a thread, a zmq Context or socket (a
fork would copy them half-alive); a forked daemon never returns into the server loop (it
leaves through `os._exit`); it runs with its own session, default signal handlers, a fresh
random seed, its own comm (PR_SET_NAME) and a command line rewritten to
`python -m MODULE ARGV...` so `ps`, the lab and the benchmarks name it as before.
TITLE_SPACE is a blank argument the launcher sizes so that every daemon's command line fits.

Forked from the launcher (`run_forked`, what the launcher does at start when its own
argument area has room for the titles): the launcher preloads and freezes first, then
forks this server before it creates any event loop, thread or zmq Context, so the
launcher, the zygote and every daemon share one copy of the common modules (a separate
zygote interpreter held a second one). The forked zygote is renamed `python -m
messaging.zygote` (comm `zygote`) and never returns into the launcher's code. A zygote
started again while the launcher runs (its loop and zmq exist by then) is exec'd.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import importlib.util
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any, NoReturn

from messaging.codec import pack, unpack

COMMON_MODULES = ("asyncio", "zmq", "zmq.asyncio", "msgpack", "click", "messaging.logs",
                  "messaging.ipc", "messaging.client", "messaging.daemon",
                  "messaging.runtime", "messaging.command", "messaging.config",
                  "messaging.watchdog")
PR_SET_NAME = 15
MAX_MESSAGE = 1 << 16
LOG_FDS = 2  # stdout, stderr
PROFILE_ENV = "HACLUSTER_PROFILE_DIR"  # benchmarks only: run each daemon under cProfile


def request(name: str, module: str, argv: list[str], env: dict[str, str]) -> bytes:
    """A spawn request (the launcher attaches the daemon's stdout and stderr)."""
    return pack({"name": name, "module": module, "argv": argv, "env": env})


def read_request(data: bytes) -> tuple[str, str, list[str], dict[str, str]]:
    """The fields of a spawn request; ValueError when it is not one."""
    message = unpack(data)
    if not isinstance(message, dict):
        raise ValueError("spawn request is not a map")
    name, module = message.get("name"), message.get("module")
    argv, env = message.get("argv"), message.get("env")
    if not (isinstance(name, str) and isinstance(module, str) and isinstance(argv, list)
            and all(isinstance(a, str) for a in argv) and isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise ValueError("spawn request needs name, module, argv (strings), env (strings)")
    return name, module, argv, env


def read_reply(data: bytes) -> int:
    """The pid in a reply; ChildProcessError with the zygote's words when it failed."""
    message = unpack(data)
    if not isinstance(message, dict):
        raise ChildProcessError("zygote reply is not a map")
    if isinstance(message.get("pid"), int):
        return int(message["pid"])
    raise ChildProcessError(str(message.get("error", "zygote reply without pid")))


def _entry_modules(module: str) -> list[str]:
    """What to preload for a daemon run as `python -m module`: a package's ``__main__`` and
    ``service``, or a plain module itself (first: the one forgotten again after import)."""
    try:
        spec = importlib.util.find_spec(module)
    except (Exception, SystemExit):
        return [f"{module}.__main__"]
    if spec is not None and spec.submodule_search_locations is None:
        return [module]
    return [f"{module}.__main__", f"{module}.service"]


def preload(modules: list[str]) -> list[str]:
    """Import the common modules, then each daemon's ``__main__`` (forgotten again, so that
    runpy executes it afresh as ``__main__`` in the child) and its ``service`` module (some
    entry modules import it only when they run); freeze everything imported. Returns the
    modules that failed to import (their daemons still start, unshared)."""
    failed = []
    for name in COMMON_MODULES:
        importlib.import_module(name)
    for module in modules:
        entry = _entry_modules(module)
        for name in entry:
            try:
                if importlib.util.find_spec(name) is not None:
                    importlib.import_module(name)
            except (Exception, SystemExit):  # such a daemon fails in its own process
                failed.append(name)
        sys.modules.pop(entry[0], None)
    if "cib.service" in sys.modules:
        # the cib master validates every configuration change: compile the schema here,
        # once, before any daemon (or, in the lab, any node) is forked from this process
        from messaging import schema

        with contextlib.suppress(Exception):  # a broken schema is the cib's to report
            schema.preload()
    gc.collect()
    gc.freeze()
    return failed


def _arg_area() -> tuple[int, int]:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[45]), int(fields[46])  # arg_start, arg_end (stat fields 48, 49)


def arg_room() -> int:
    """Bytes of this process's argument area: the longest command line it can show."""
    start, end = _arg_area()
    return end - start


def set_command_line(argv: list[str]) -> None:
    """Rewrite /proc/self/cmdline in place (the kernel reads it from our arg area), NUL
    separated like an exec'd process; truncated at a word when the area is too small."""
    start, end = _arg_area()
    room = end - start
    data = b""
    for word in argv:
        encoded = word.encode(errors="surrogateescape") + b"\0"
        if len(data) + len(encoded) > room:
            break
        data += encoded
    ctypes.memmove(start, data.ljust(room, b"\0"), room)


def _set_comm(name: str) -> None:
    from messaging.watchdog import prctl

    prctl(PR_SET_NAME, name.encode()[:15])


def _become_daemon(name: str, module: str, argv: list[str], env: dict[str, str],
                   fds: list[int], launcher: int, server: socket.socket) -> None:
    """In the forked daemon: shed the zygote's state, then run MODULE as __main__."""
    import random
    import runpy

    from messaging.watchdog import die_with_parent

    os.setsid()
    die_with_parent(launcher)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD,
                   signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_DFL)
    # As a freshly started Python has it: ignored, so a write to a socket its peer closed
    # is an EPIPE error, not death (at SIG_DFL a master cib died of a replica giving up a
    # bulk fetch; subprocess still gives agents the default disposition).
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    server.close()
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    random.seed()
    _fresh_runtime_state()
    sys.argv = [sys.executable, *argv]
    if env.get(PROFILE_ENV):
        _run_profiled(module, Path(env[PROFILE_ENV]) / f"{os.uname().nodename}-{name}.prof")
        return
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _run_profiled(module: str, out: Path) -> None:
    """Run MODULE under cProfile, writing its stats to `out` at each SIGUSR2 (a node is
    usually killed, not stopped: bench/cold_start.py --profile asks once it settled)."""
    import cProfile
    import runpy
    import time

    profiler = cProfile.Profile(time.thread_time)  # CPU time: wall time on a loaded host
    # counts every wait for a core against whatever ran when it was preempted

    def dump(*_: object) -> None:
        profiler.dump_stats(out)  # disables the profiler: on again for the next request
        profiler.enable()

    signal.signal(signal.SIGUSR2, dump)
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()


def _fresh_runtime_state() -> None:
    """Nothing the zygote imported may hand the daemon a shared singleton."""
    import asyncio

    import structlog
    import zmq

    asyncio.set_event_loop(None)
    zmq.Context._instance = None
    structlog.reset_defaults()


def _run_daemon(*args: Any) -> None:
    """Run the daemon and leave the process with its exit status, never returning."""
    code = 1
    try:
        _become_daemon(*args)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    except BaseException:  # whatever ended the daemon is reported, then it exits
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed log must not block the exit
                stream.flush()
    os._exit(code)


def _wait_for_reparent(intermediate: int) -> None:
    """The daemon waits until its intermediate parent has exited (it is then the
    launcher's child), so PR_SET_PDEATHSIG is tied to the launcher, not to the exiting
    intermediate (which would fire it at once)."""
    import time

    while os.getppid() == intermediate:
        time.sleep(0.001)


Started = tuple[int, int] | bytes  # (intermediate pid, read end of its pid pipe) or a reply


def spawn(server: socket.socket, data: bytes, fds: list[int], launcher: int) -> Started:
    """Fork the intermediate of one daemon for a request (`answer` reads its pid), or the
    error reply to send back."""
    try:
        name, module, argv, env = read_request(data)
        if len(fds) != LOG_FDS:
            raise ValueError(f"spawn request carries {len(fds)} fds, expected {LOG_FDS}")
    except Exception as error:  # ValueError, or the codec's RemoteProtocolError
        return pack({"error": str(error)})
    read_pid, write_pid = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        try:
            os.close(read_pid)
            # named before the daemon is forked from it: no tool ever sees the daemon as
            # the zygote, and its pid is reported by this process without waiting until
            # the daemon is scheduled (on a loaded host each wait was a time slice, and
            # the zygote forks the next daemon only after this answer)
            _set_comm(name)
            set_command_line([sys.executable, "-m", module, *argv])
            me = os.getpid()  # not the daemon's getppid(): this process may be gone by then
            daemon = os.fork()
            if daemon == 0:
                os.close(write_pid)
                _wait_for_reparent(me)
                _run_daemon(name, module, argv, env, fds, launcher, server)
            os.write(write_pid, str(daemon).encode())
        finally:
            os._exit(0)
    os.close(write_pid)
    return intermediate, read_pid


def answer(started: Started) -> bytes:
    """The reply to a request `spawn` started: the daemon's pid as its intermediate
    reported it (or why there is none)."""
    if isinstance(started, bytes):
        return started
    intermediate, read_pid = started
    try:  # one read: the daemon holds the pipe open until it runs, so no waiting for EOF
        reported = os.read(read_pid, 32)
    finally:
        os.close(read_pid)
    os.waitpid(intermediate, 0)
    if not reported:
        return pack({"error": "the daemon died before reporting its pid"})
    return pack({"pid": int(reported)})


def _queued(server: socket.socket) -> list[tuple[bytes, list[int]]]:
    """The next request (waited for), then every request already queued behind it."""
    data, fds, _, _ = socket.recv_fds(server, MAX_MESSAGE, LOG_FDS + 1)
    batch = [(data, fds)]
    server.setblocking(False)  # recv_fds drops its flags argument (3.11): no MSG_DONTWAIT
    try:
        while data:
            data, fds, _, _ = socket.recv_fds(server, MAX_MESSAGE, LOG_FDS + 1)
            batch.append((data, fds))
    except BlockingIOError:
        pass
    finally:
        server.setblocking(True)
    return batch


def serve(server: socket.socket, launcher: int) -> None:
    """Answer spawn requests, in order, until the launcher closes its end. The requests
    already queued (a node's first daemons come together) are all forked before any is
    answered, so their intermediates run side by side instead of one after the other."""
    while True:
        started: list[Started] = []
        closed = False
        for data, fds in _queued(server):
            if not data:
                closed = True
                break
            try:
                started.append(spawn(server, data, fds, launcher))
            finally:
                for fd in fds:
                    os.close(fd)
        for item in started:
            server.send(answer(item))
        if closed:
            return


def run_forked(server: socket.socket, launcher: int, failed: list[str]) -> NoReturn:
    """The zygote in a child the launcher forked after `preload`: serve, then leave the
    process (never return into the launcher's code, whatever happens)."""
    code = 0
    try:
        from messaging.watchdog import die_with_parent

        os.setsid()
        die_with_parent(launcher)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        _set_comm("zygote")
        set_command_line([sys.executable, "-m", "messaging.zygote"])
        if failed:
            print(f"zygote: could not preload {', '.join(failed)}", file=sys.stderr, flush=True)
        server.send(pack({"ready": os.getpid()}))
        serve(server, launcher)
    except BaseException:  # reported, and the launcher starts daemons the plain way
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)


def main(argv: list[str]) -> None:
    modules = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    server = socket.socket(fileno=int(argv[0]))
    launcher = os.getppid()
    failed = preload(modules)
    if failed:
        print(f"zygote: could not preload {', '.join(failed)}", file=sys.stderr, flush=True)
    server.send(pack({"ready": os.getpid()}))
    serve(server, launcher)


if __name__ == "__main__":
    main(sys.argv[1:])
