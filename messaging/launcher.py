"""`hacluster node start|stop|status`: run a node's daemons like Heartbeat's master process.

`start` reads ha.cf and authkeys and runs every daemon's own configuration check (refusing
bad ones with file:line and exit 78 before anything runs), writes
``<state_dir>/launcher.pid``, starts the installed daemons of `messaging.supervisor.DAEMONS`
plus ha.cf `respawn` lines, respawns crashed ones with backoff and stops them in reverse
order on SIGTERM. The Python daemons are forked from a preloaded zygote (messaging.zygote,
started here before the event loop; HACLUSTER_NO_ZYGOTE=1 execs each one instead), which
saves the memory of importing the same modules in every daemon (issue 10). The launcher
preloads those modules itself and forks the zygote, so it shares their pages too; for the
zygote to rename the daemons it forks, the launcher first starts itself again with a blank
hidden `--title-room` when its command line is shorter than theirs. It runs in the
foreground unless `--daemon`. `stop` signals the launcher
named in the pid file and waits. When heartbeat exits, the node leaves the cluster: the
launcher kills the other daemons at once and exits 102 (CRM_EX_DISCONNECT), as pacemakerd
shuts a node down whose corosync died. `status` prints the daemons and heartbeat's node table
(`--json` for machines); it exits 7 (not running) when no launcher runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from messaging.authkeys import load_authkeys
from messaging.command import fail
from messaging.config import HaConfig, check_node_name, load_ha_cf
from messaging.errors import ConfigError, ExitCode, HAError, Location, TransportError
from messaging.ipc import prepare_state_dir
from messaging.logs import configure, get_logger
from messaging.supervisor import (
    PID_FILE,
    STATUS_FILE,
    Child,
    StartContext,
    Supervisor,
    daemons_to_start,
)

if TYPE_CHECKING:
    from messaging.forkserver import Forker

DEFAULT_CONFIG = "/etc/ha.d/ha.cf"
DEFAULT_AUTHKEYS = "/etc/ha.d/authkeys"


def _state_dir(config: HaConfig, override: str | None) -> Path:
    return Path(override or config.state_dir)


def running_pid(state_dir: Path) -> int | None:
    """The pid in the launcher pid file if that process is alive, else None."""
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def check_start_config(config: HaConfig, config_path: str, node_name: str) -> None:
    """Everything `start` refuses up front: a bad node name or a daemon's bad settings."""
    try:
        check_node_name(node_name)
    except ValueError as error:
        raise ConfigError(f"node name: {error}") from None
    for spec in daemons_to_start(config):
        spec.check_config(config_path)


def build_children(config: HaConfig, ctx: StartContext) -> list[Child]:
    """The daemons ha.cf asks for (installed ones), then its `respawn` programs."""
    children = [Child(spec.name, spec.command(ctx), control=spec.control_endpoint(ctx),
                      module=spec.module) for spec in daemons_to_start(config)]
    for entry in config.respawn:
        children.append(Child(Path(entry.argv[0]).name, list(entry.argv), user=entry.user))
    return children


def _daemonize(log_path: Path) -> None:
    """Detach: double fork, new session, stdio to `log_path`."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def node() -> None:
    """Start, stop and inspect this node's cluster daemons."""


_config_option = click.option("-c", "--config", "config_path", default=DEFAULT_CONFIG,
                              show_default=True, help="ha.cf file")
_state_option = click.option("--state-dir", default=None, help="override ha.cf state_dir")


@node.command()
@_config_option
@click.option("-k", "--authkeys", "authkeys_path", default=DEFAULT_AUTHKEYS, show_default=True)
@click.option("-n", "--node", "node_name", default=None, help="node name [default: uname -n]")
@click.option("--bind", "bind_address", default=None, help="heartbeat bind address")
@_state_option
@click.option("--daemon", "detach", is_flag=True, help="detach and run in the background")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--title-room", default=None, hidden=True,
              help="blank room for the daemons' command lines (the launcher adds it itself)")
def start(config_path: str, authkeys_path: str, node_name: str | None,
          bind_address: str | None, state_dir: str | None, detach: bool, log_level: str,
          title_room: str | None) -> None:
    """Start the node's daemons and keep them running (foreground unless --daemon)."""
    try:
        config = load_ha_cf(config_path)
        load_authkeys(authkeys_path)
        node_name = node_name or os.uname().nodename
        check_start_config(config, config_path, node_name)
        directory = prepare_state_dir(_state_dir(config, state_dir))
        other = running_pid(directory)
        if other is not None:
            raise ConfigError(f"a launcher already runs with pid {other}",
                              location=Location(str(directory / PID_FILE)))
        ctx = StartContext(str(Path(config_path).resolve()), str(Path(authkeys_path).resolve()),
                           node_name, str(directory), bind_address)
        children = build_children(config, ctx)
        if title_room is None:
            _make_title_room(children)
        if detach:
            _daemonize(Path(config.logfile or directory / "launcher.log"))
        _run(children, directory, log_level, ctx.node)
    except (HAError, OSError) as error:
        fail(error)


def _make_title_room(children: list[Child]) -> None:
    """Start this launcher again with a blank `--title-room` argument when its argument
    area cannot hold the daemons' command lines: the zygote it forks (and every daemon
    forked from that) can only show a command line that fits there."""
    from messaging.forkserver import title_room, zygote_disabled
    from messaging.zygote import arg_room

    room = title_room([c.argv for c in children])
    if zygote_disabled() or room <= 64 or arg_room() >= room:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [*sys.orig_argv, "--title-room", " " * room])


def _start_zygote(children: list[Child], log: Any) -> Forker | None:
    """The fork server for the python daemons (messaging.zygote), started before the event
    loop; None (every daemon exec'd) with HACLUSTER_NO_ZYGOTE=1 or when this process
    cannot become the subreaper that the zygote's double-forked daemons need."""
    from messaging.forkserver import Forker, become_subreaper, title_room, zygote_disabled

    modules = [c.module for c in children if c.module is not None]
    if zygote_disabled() or not modules:
        return None
    if not become_subreaper():
        log.warning("zygote_disabled", reason="PR_SET_CHILD_SUBREAPER refused")
        return None
    forker = Forker(modules, title_room([c.argv for c in children]))
    forker.start(fork=True)  # no event loop, thread or zmq Context exists yet
    log.info("zygote_started", pid=forker.process.pid if forker.process else None)
    return forker


def _run(children: list[Child], directory: Path, log_level: str, node_name: str) -> None:
    configure(log_level)
    log = get_logger(daemon="launcher", node=node_name)
    pid_path = directory / PID_FILE
    pid_path.write_text(f"{os.getpid()}\n")
    forker = _start_zygote(children, log)
    supervisor = Supervisor(children, directory, log, forker=forker)
    try:
        asyncio.run(supervisor.run())
        if supervisor.node_lost_with is not None:
            # as pacemakerd once corosync is gone: the node's stack is down, and starting
            # it again is the init system's (or, after fencing, the reboot's) job
            raise TransportError(f"{supervisor.node_lost_with} exited: this node left the "
                                 "cluster and its daemons were stopped; the peers fence it")
    finally:
        if forker is not None:
            forker.close()
        with contextlib.suppress(OSError):
            pid_path.unlink()


@node.command()
@_config_option
@_state_option
@click.option("--timeout", default=30.0, show_default=True, help="seconds to wait")
def stop(config_path: str, state_dir: str | None, timeout: float) -> None:
    """Stop the launcher and its daemons (reverse start order)."""
    try:
        directory = _state_dir(load_ha_cf(config_path), state_dir)
        pid = running_pid(directory)
        if pid is None:
            click.echo("not running")
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if running_pid(directory) != pid:
                click.echo(f"stopped (pid {pid})")
                return
            time.sleep(0.1)
        raise TransportError(f"launcher pid {pid} still running after {timeout:g}s")
    except (HAError, OSError) as error:
        fail(error)


def _node_table(directory: Path) -> dict[str, Any] | None:
    from messaging.heartbeat.api import HeartbeatClient

    client = HeartbeatClient(directory, timeout=2.0)
    try:
        table = client.query_nodes()
    except HAError:
        return None
    finally:
        client.close()
    return {"local": table.local, "cluster": table.cluster, "nodes": [
        {"node": n.node, "status": n.status.value, "generation": n.generation,
         "links": {k: v.value for k, v in n.links.items()}} for n in table.nodes],
        "counters": dict(table.counters)}


def collect_status(directory: Path) -> dict[str, Any]:
    """Everything `node status` shows, as plain data."""
    pid = running_pid(directory)
    daemons: list[Any] = []
    with contextlib.suppress(OSError, ValueError):
        daemons = json.loads((directory / STATUS_FILE).read_text())["daemons"]
    return {"running": pid is not None, "pid": pid, "daemons": daemons if pid else [],
            "heartbeat": _node_table(directory) if pid else None}


def _print_status(status: dict[str, Any]) -> None:
    if not status["running"]:
        click.echo("launcher: not running")
        return
    click.echo(f"launcher: running (pid {status['pid']})")
    for daemon in status["daemons"]:
        click.echo(f"  {daemon['name']:<10} {daemon['state']:<10} pid={daemon['pid']} "
                   f"restarts={daemon['restarts']}")
    table = status["heartbeat"]
    if table is None:
        click.echo("heartbeat: not answering")
        return
    click.echo(f"cluster {table['cluster']}, local node {table['local']}")
    for row in table["nodes"]:
        links = " ".join(f"{k}:{v}" for k, v in row["links"].items())
        click.echo(f"  {row['node']:<16} {row['status']:<5} {links}")
    counters = table["counters"]
    rejected = sum(v for k, v in counters.items() if k.startswith("rejected."))
    click.echo(f"packets: rx {counters.get('rx.packets', 0)}, tx {counters.get('udp.tx', 0)}, "
               f"rejected {rejected}; messages lost {counters.get('messages.lost', 0)}")


@node.command()
@_config_option
@_state_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(config_path: str, state_dir: str | None, as_json: bool) -> None:
    """Show the daemons and heartbeat's view of the nodes."""
    try:
        directory = _state_dir(load_ha_cf(config_path), state_dir)
        result = collect_status(directory)
    except (HAError, OSError) as error:
        fail(error)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        _print_status(result)
    sys.exit(int(ExitCode.OK if result["running"] else ExitCode.NOT_RUNNING))


@node.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-m", "--method", default="hmac-sha256", show_default=True,
              type=click.Choice(["hmac-sha256", "sha1", "md5", "crc"]))
@click.option("--index", default=1, show_default=True, help="key index (1-15)")
@click.option("--force", is_flag=True, help="overwrite an existing file")
def keygen(path: str, method: str, index: int, force: bool) -> None:
    """Write a new authkeys file (mode 0600, random secret) to PATH."""
    from messaging.authkeys import write_authkeys

    try:
        write_authkeys(path, method, index=index, overwrite=force)  # type: ignore[arg-type]
    except (HAError, OSError) as error:
        fail(error)
    click.echo(f"wrote {path} ({method}, index {index}); copy it to every node")
