"""`python -m stonithd`: parse the command line, set up logging, run the fencing daemon.

    python -m stonithd [--cib FILE] [--state-dir DIR] [--node NAME] [--peer NAME=ENDPOINT ...]

The options every daemon takes (`-c ha.cf -n NODE --state-dir DIR --log-level L
--json-logs`, messaging.command.daemon_options, as the launcher starts it) plus its own. Without
--cib the daemon follows the node's cib daemon (sockets in DIR) and serves with no devices
until the cib answers; with --cib FILE it polls that file (no cib daemon needed).

Peers: with --peer NAME=ENDPOINT, those fencers over zmq. Without --peer, when heartbeat's
sockets exist in DIR or -c is given (the launcher starts heartbeat and ccm first), over
heartbeat channel "stonith", the peer set following ccm's membership
(stonithd.peers_heartbeat).

Requests are served on `ipc://DIR/stonithd.sock` (or `--listen`), results published on
`ipc://DIR/stonithd-events.sock` (or `--events`). Peers are other stonithd request
endpoints (tcp:// or ipc://). Exit codes come from messaging.errors via run_tool.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import click
from click.core import ParameterSource

from messaging.command import daemon_options, run_tool
from messaging.config import default_state_dir
from messaging.errors import UsageError
from messaging.ipc import prepare_state_dir
from messaging.logs import configure
from stonithd.api import endpoint_in, events_endpoint_in
from stonithd.peers_heartbeat import heartbeat_available
from stonithd.runner import default_agent_dirs
from stonithd.service import Service


def _peers(values: tuple[str, ...], node: str) -> dict[str, str]:
    peers: dict[str, str] = {}
    for value in values:
        name, sep, endpoint = value.partition("=")
        if not sep or not name or "://" not in endpoint:
            raise UsageError(f"--peer {value!r} is not NAME=ENDPOINT (e.g. n2=tcp://10.0.0.2:7410)")
        if name != node:
            peers[name] = endpoint
    return peers


def _heartbeat_dir(state_dir: Path, peers: tuple[str, ...], no_heartbeat: bool,
                   config_given: bool) -> Path | None:
    """Peers over heartbeat when no --peer is given and heartbeat runs in the state dir
    (or will: the launcher, which passes -c, starts heartbeat before us)."""
    if peers or no_heartbeat:
        return None
    if not config_given and not heartbeat_available(state_dir):
        return None
    return state_dir


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@daemon_options(config_help="ha.cf (given by the launcher: peers over heartbeat; not read)",
                state_dir_help="sockets live here [default: $HACLUSTER_STATE_DIR or "
                "/var/lib/hacluster]")
@click.option("--cib", "cib_file", type=click.Path(path_type=Path),
              help="follow this CIB XML file instead of the cib daemon (no-cib-daemon "
              "mode; the file is polled)")
@click.option("--peer", "peers", multiple=True, metavar="NAME=ENDPOINT",
              help="another fencer's request endpoint (repeatable)")
@click.option("--no-heartbeat", is_flag=True,
              help="never use the heartbeat layer for peers (alone, or --peer)")
@click.option("--listen", help="request endpoint [default: ipc://STATE/stonithd.sock]")
@click.option("--events", help="event endpoint [default: ipc://STATE/stonithd-events.sock]")
@click.option("--agent-dir", "agent_dirs", multiple=True,
              help="look for fence agents here first (repeatable)")
@click.pass_context
def main(ctx: click.Context, config_path: str, node: str | None, state_dir: str | None,
         log_level: str, json_logs: bool, cib_file: Path | None, peers: tuple[str, ...],
         no_heartbeat: bool, listen: str | None, events: str | None,
         agent_dirs: tuple[str, ...]) -> None:
    """Run the fencing daemon (stonithd) of this node."""
    config_given = ctx.get_parameter_source("config_path") is not ParameterSource.DEFAULT
    name = node or socket.gethostname()

    def body() -> int:
        configure(log_level, json=json_logs)
        directory = prepare_state_dir(Path(state_dir or default_state_dir())).resolve()
        service = Service(
            node=name, cib=cib_file, state_dir=directory,
            listen=listen or endpoint_in(directory),
            events=events or events_endpoint_in(directory),
            peers=_peers(peers, name),
            agent_dirs=default_agent_dirs(list(agent_dirs)),
            heartbeat_dir=_heartbeat_dir(directory, peers, no_heartbeat, config_given),
        )
        asyncio.run(service.run())
        return 0

    run_tool(body)


if __name__ == "__main__":
    main()
