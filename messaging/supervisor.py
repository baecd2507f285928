"""Keeping a node's daemons running: which to start, in what order, and respawn backoff.

`DAEMONS` is the table of the stack's daemons in start order; a daemon is started only
when its entry is installed (a package's ``__main__`` module, or a plain module: so the
launcher works while the stack is being built) and, for the CRM daemons, when ha.cf says
``crm on|respawn``. `RespawnPolicy` is pure: given exits and times it says when to start a
child again (at once after a stable run, as pacemakerd; exponential backoff while it keeps
exiting; exit code 100 means "do not respawn", as in Heartbeat), and that heartbeat's exit
is the node's: it is never respawned, every other daemon is killed at once and the
launcher exits, so the peers see the node go silent and fence it.
`Supervisor` is the asyncio shell that runs the children, restarts them per the policy,
stops them in reverse order and writes a status file for `hacluster node status`. A daemon
of the table is forked by the zygote when the launcher has one (`messaging.forkserver`),
else exec'd; everything else about it (respawn, probe, stop) is the same. Every
child dies with the launcher (`messaging.watchdog.die_with_parent`), and a daemon whose
event loop stops turning (its loop heartbeat, `messaging.loop_beat`, and the built-in
`Ping` both silent for a deadline that discounts CPU starvation) is killed and respawned
(`messaging.wedge.WedgeDetector`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from messaging.config import HaConfig
from messaging.effects import Log
from messaging.loop_beat import (
    BEAT_ENV,
    BEAT_INTERVAL_ENV,
    read_beat,
    read_run_delay,
    runnable_per_cpu,
)
from messaging.watchdog import die_with_parent
from messaging.wedge import KillWedged, LoopProbe, WedgeDetector

if TYPE_CHECKING:
    from messaging.forkserver import Forker

NO_RESPAWN_EXIT = 100
# The daemons whose death is the node's: heartbeat is its membership layer, as corosync is
# Pacemaker's. When corosync dies, pacemakerd does not start it again: it shuts the node's
# daemons down (pcmkd_corosync.c cfg_connection_destroy -> pcmk_shutdown), the controller
# exits at once without stopping resources (crmd_cs_destroy -> crmd_exit(CRM_EX_DISCONNECT)),
# and the peers, having lost the node from the membership, fence it. Heartbeat R2 likewise
# never restarts its master control process. A heartbeat respawned within deadtime would
# hide the loss: no peer sees the node go silent, and it carries on unfenced.
NODE_FATAL_DAEMONS = frozenset({"heartbeat"})
STATUS_FILE = "launcher.json"
PID_FILE = "launcher.pid"


@dataclass(frozen=True, slots=True)
class StartContext:
    """What every daemon's command line is built from."""

    config_path: str
    authkeys_path: str
    node: str
    state_dir: str
    bind_address: str | None = None


def _heartbeat_args(ctx: StartContext) -> list[str]:
    args = ["-c", ctx.config_path, "-k", ctx.authkeys_path, "-n", ctx.node,
            "--state-dir", ctx.state_dir]
    return args + (["--bind", ctx.bind_address] if ctx.bind_address else [])


def _standard_args(ctx: StartContext) -> list[str]:
    return ["-c", ctx.config_path, "-n", ctx.node, "--state-dir", ctx.state_dir]


def _with_authkeys(ctx: StartContext) -> list[str]:
    """The cib signs its bulk path (`messaging.bulk`) with the cluster's authkeys."""
    return [*_standard_args(ctx), "-k", ctx.authkeys_path]


def _state_dir_only(ctx: StartContext) -> list[str]:
    """lrmd takes neither -c nor -n: it only needs its socket directory."""
    return ["--state-dir", ctx.state_dir]


@dataclass(frozen=True, slots=True)
class DaemonSpec:
    """One row of the daemon table."""

    name: str
    module: str
    needs_crm: bool
    arguments: Callable[[StartContext], list[str]] = _standard_args
    # "module:function" that parses the daemon's own part of ha.cf and raises ConfigError;
    # the launcher calls it before starting anything, so a bad value is reported once with
    # its file:line instead of the daemon exiting 78 in a respawn loop. A string, because
    # messaging may not import the daemons.
    config_check: str | None = None
    control_socket: str | None = None  # its IPC server in the state directory (Ping probe)

    def check_config(self, config_path: str) -> None:
        """Run the daemon's configuration check (nothing when it has none)."""
        if self.config_check is None:
            return
        module, function = self.config_check.split(":")
        getattr(importlib.import_module(module), function)(config_path)

    def installed(self) -> bool:
        """Its entry exists: a package with ``__main__``, or a plain module (run with -m)."""
        try:
            spec = importlib.util.find_spec(self.module)
            if spec is not None and spec.submodule_search_locations is None:
                return True
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False

    def command(self, ctx: StartContext) -> list[str]:
        return [sys.executable, "-m", self.module, *self.arguments(ctx)]

    def control_endpoint(self, ctx: StartContext) -> str | None:
        if self.control_socket is None:
            return None
        return f"ipc://{Path(ctx.state_dir) / self.control_socket}"


DAEMONS: tuple[DaemonSpec, ...] = (
    DaemonSpec("heartbeat", "messaging.heartbeat", False, _heartbeat_args,
               control_socket="heartbeat.ctl"),
    DaemonSpec("ccm", "ccm", False, config_check="ccm.api:load_config", control_socket="ccm.ctl"),
    DaemonSpec("cib", "cib", True, _with_authkeys, control_socket="cib.ctl"),
    DaemonSpec("attrd", "cib.attrd_daemon", True, control_socket="attrd.ctl"),
    DaemonSpec("lrmd", "lrmd", True, _state_dir_only, control_socket="lrmd.ctl"),
    DaemonSpec("stonithd", "stonithd", True, control_socket="stonithd.sock"),
    DaemonSpec("pengine", "pengine", True),
    DaemonSpec("crmd", "crmd", True, control_socket="crmd.ctl"),
)


def daemons_to_start(config: HaConfig, table: tuple[DaemonSpec, ...] = DAEMONS
                     ) -> list[DaemonSpec]:
    """The installed daemons ha.cf asks for, in start order."""
    crm = config.crm in ("on", "respawn")
    return [d for d in table if (crm or not d.needs_crm) and d.installed()]


@dataclass
class RespawnPolicy:
    """When to restart a child that exited (pure: all times are passed in)."""

    initial: float = 1.0
    maximum: float = 60.0
    stable_after: float = 60.0
    delays: dict[str, float] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    node_fatal: frozenset[str] = NODE_FATAL_DAEMONS

    def ends_node(self, name: str) -> bool:
        """Whether `name` exiting (however it exits) takes the whole node out of the
        cluster instead of being respawned."""
        return name in self.node_fatal

    def on_exit(self, name: str, code: int | None, started: float, now: float) -> float | None:
        """Seconds to wait before restarting `name`, or None to leave it stopped."""
        if code == NO_RESPAWN_EXIT:
            return None
        if now - started >= self.stable_after:
            self.delays.pop(name, None)
        # pacemakerd starts a subdaemon again as soon as it exits unexpectedly
        # (pcmk_process_exit -> start_child, no timer): a killed controller is back before
        # its DC has replanned. Only a daemon that exits again within stable_after backs off.
        last = self.delays.get(name)
        if last is None:
            delay = 0.0
        else:
            delay = self.initial if last == 0.0 else min(self.maximum, last * 2)
        self.delays[name] = delay
        self.restarts[name] = self.restarts.get(name, 0) + 1
        return delay


class DaemonProcess(Protocol):
    """What the supervisor needs of a started daemon: an asyncio subprocess, or a
    `messaging.forkserver.ForkedProcess` when the zygote forked it."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    async def wait(self) -> int: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


@dataclass
class Child:
    """A running (or waiting) daemon."""

    spec_name: str
    argv: list[str]
    process: DaemonProcess | None = None
    started: float = 0.0
    state: str = "stopped"  # running | restarting | stopped | failed
    last_exit: int | None = None
    user: str | None = None  # run as this user (ha.cf respawn lines), when we are root
    control: str | None = None  # endpoint of its IPC server, probed with Ping
    module: str | None = None  # argv is `python -m module ...`: the zygote may fork it


class Supervisor:
    """Runs the children, respawns them, stops them in reverse order."""

    def __init__(self, children: list[Child], state_dir: Path, log: Any,
                 policy: RespawnPolicy | None = None, stop_timeout: float = 10.0,
                 probe_interval: float = 5.0,
                 detector: WedgeDetector | None = None, forker: Forker | None = None
                 ) -> None:
        self.children = children
        self.state_dir = state_dir
        self.log = log
        self.policy = policy or RespawnPolicy()
        self.stop_timeout = stop_timeout
        self.probe_interval = probe_interval
        self.detector = detector or WedgeDetector()
        self.forker = forker
        self._stopping = asyncio.Event()
        self._watchers: list[asyncio.Task[None]] = []
        self.node_lost_with: str | None = None  # the daemon whose exit ended the node

    def _environment(self, child: Child) -> dict[str, str]:
        """The child's environment: ours, plus where to write its loop heartbeat when it
        is probed (a stale file of its previous run removed: it must not look alive) and
        how often: twice per probe (or per deadline, if shorter), so a turning loop moves
        it between any two probes."""
        env = dict(os.environ)
        if child.control is not None:
            beat = self._beat_path(child)
            with contextlib.suppress(FileNotFoundError):
                beat.unlink()
            env[BEAT_ENV] = str(beat)
            interval = min(self.probe_interval, self.detector.deadline) / 2
            env[BEAT_INTERVAL_ENV] = f"{interval:g}"
        return env

    async def _fork(self, child: Child, env: dict[str, str]) -> DaemonProcess | None:
        """The daemon forked by the zygote, or None to start it the plain way."""
        if self.forker is None or child.module is None or child.user:
            return None
        return await self.forker.spawn(child.spec_name, child.module, child.argv[3:],
                                       env, self.log)

    async def _spawn(self, child: Child) -> None:
        loop = asyncio.get_running_loop()
        as_user: dict[str, Any] = {}
        if child.user and os.geteuid() == 0:
            as_user["user"] = child.user
        launcher = os.getpid()
        how = "zygote"
        env = self._environment(child)
        try:
            child.process = await self._fork(child, env)
            if child.process is None:
                how = "exec"
                child.process = await asyncio.create_subprocess_exec(
                    *child.argv, start_new_session=True, env=env,
                    preexec_fn=lambda: die_with_parent(launcher), **as_user)
        except (OSError, ValueError, KeyError) as error:  # missing program, unknown user
            self.log.error("daemon_spawn_failed", daemon=child.spec_name, error=str(error))
            child.state = "failed"
            self.write_status()
            return
        child.started = loop.time()
        child.state = "running"
        self.log.info("daemon_started", daemon=child.spec_name, pid=child.process.pid, how=how)
        self.write_status()

    async def _reap_orphans(self) -> None:
        """As the node's subreaper, collect exited descendants nobody waits for."""
        from messaging.forkserver import reap_orphans

        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.probe_interval)
            known = {c.process.pid for c in self.children if c.process is not None}
            reap_orphans(known | (self.forker.pids() if self.forker else set()))

    async def _watch(self, child: Child) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            if child.process is None or child.state == "failed":
                return
            code = await child.process.wait()
            if self._stopping.is_set():
                return
            child.last_exit = code
            if self.policy.ends_node(child.spec_name):
                self._leave_cluster(child, code)
                return
            delay = self.policy.on_exit(child.spec_name, code, child.started, loop.time())
            self.log.warning("daemon_exited", daemon=child.spec_name, code=code,
                             respawn_in=delay)
            if delay is None:
                child.state = "failed"
                self.write_status()
                return
            child.state = "restarting"
            self.write_status()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            await self._spawn(child)

    def _leave_cluster(self, dead: Child, code: int) -> None:
        """`dead` (heartbeat) exited: the node leaves the cluster as Pacemaker's does when
        corosync dies. Every other daemon is killed at once, not stopped: a controller
        told to stop would stop the resources and ask the DC for a clean shutdown, but
        Pacemaker's controller exits at once on losing corosync, leaving its resources to
        the fencing that follows, and nothing can reach the peers now anyway. The
        launcher then exits; the peers see the node silent for deadtime and fence it."""
        self.node_lost_with = dead.spec_name
        dead.state = "failed"
        self.log.error("node_leaves_cluster", daemon=dead.spec_name, code=code)
        self._stopping.set()  # first: no watcher respawns the daemons killed next
        for child in self.children:
            process = child.process
            if child is not dead and process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)

    async def _probe(self, child: Child, endpoint: str) -> None:
        """Every probe_interval, gather the evidence that the child's loop turns (its loop
        heartbeat, a Ping answered since the last probe however late, the kernel's count of
        its CPU starvation) and let the `WedgeDetector` judge; a wedged child is killed and
        its watcher respawns it like any crashed daemon. A Ping is sent only when the beat
        did not move since the previous probe (or the child writes none): a moving beat
        already proves the loop turns, and a Ping costs a socket and a wake-up on both sides
        (at idle, seven Pings per probe interval were most of the launcher's work)."""
        loop = asyncio.get_running_loop()
        ping: asyncio.Task[bool] | None = None
        last_beat: int | None = None
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.probe_interval)
            process = child.process
            if self._stopping.is_set() or process is None or child.state != "running":
                continue
            answered = _answered(ping)
            if ping is not None and ping.done():
                ping = None  # its answer is counted once, at this probe
            beat = read_beat(str(self._beat_path(child)))
            if ping is None and (beat is None or beat == last_beat):
                ping = asyncio.create_task(self._ping(endpoint))
            last_beat = beat
            probe = LoopProbe(child.spec_name, loop.time(), child.started, beat, answered,
                              read_run_delay(process.pid), runnable_per_cpu())
            for effect in self.detector.handle(probe):
                self._perform(effect, process)
        if ping is not None:
            ping.cancel()

    async def _ping(self, endpoint: str) -> bool:
        """One Ping, waited for as long as the detector's deadline: a late answer still
        proves the loop turned."""
        import zmq

        from messaging.client import AsyncClient
        from messaging.envelope import BUILTIN
        from messaging.errors import HAError

        client = AsyncClient(endpoint, BUILTIN, timeout=self.detector.deadline)
        try:
            await client.ping()
            return True
        except (HAError, OSError, zmq.ZMQError):  # unanswered, unreachable, garbled
            return False
        finally:
            client.close()

    def _perform(self, effect: KillWedged | Log, process: DaemonProcess) -> None:
        if isinstance(effect, Log):
            getattr(self.log, effect.level)(effect.event, pid=process.pid, **dict(effect.fields))
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def _beat_path(self, child: Child) -> Path:
        return self.state_dir / f"{child.spec_name}.beat"

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        if self.forker is not None:
            self._watchers.append(asyncio.create_task(self._reap_orphans()))
        # every first start at once: with the zygote the requests leave together and it
        # forks the daemons in this order without waiting for us between them
        await asyncio.gather(*(self._spawn(child) for child in self.children))
        for child in self.children:
            self._watchers.append(asyncio.create_task(self._watch(child)))
            if child.control is not None:
                self._watchers.append(asyncio.create_task(self._probe(child, child.control)))
        await self._stopping.wait()
        await self.stop_all()

    async def stop_all(self) -> None:
        """SIGTERM each child in reverse start order; SIGKILL after stop_timeout."""
        for child in reversed(self.children):
            process = child.process
            if process is None or process.returncode is not None:
                child.state = "failed" if child.state == "failed" else "stopped"
                continue
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), self.stop_timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            child.state = "stopped"
            self.log.info("daemon_stopped", daemon=child.spec_name, code=process.returncode)
        for watcher in self._watchers:
            watcher.cancel()
        if self.forker is not None:
            self.forker.close()
        self.write_status()

    def status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "daemons": [
            {"name": c.spec_name, "state": c.state,
             "pid": c.process.pid if c.process and c.process.returncode is None else None,
             "restarts": self.policy.restarts.get(c.spec_name, 0), "last_exit": c.last_exit}
            for c in self.children]}

    def write_status(self) -> None:
        path = self.state_dir / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=1) + "\n")
        os.replace(tmp, path)


def _answered(ping: asyncio.Task[bool] | None) -> bool:
    """Whether this Ping came back answered (False while it is still waiting)."""
    if ping is None or not ping.done() or ping.cancelled() or ping.exception() is not None:
        return False
    return ping.result()
