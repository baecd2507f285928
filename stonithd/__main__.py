"""`python -m stonithd`: parse the command line, set up logging, run the fencing daemon.

    python -m stonithd [--cib FILE] [--state-dir DIR] [--node NAME] [--peer NAME=ENDPOINT ...]

The launcher's convention (`-c ha.cf -n NODE --state-dir DIR`) is accepted too. Without
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

import argparse
import asyncio
import socket
from pathlib import Path

from messaging.command import run_tool
from messaging.config import DEFAULT_STATE_DIR, default_state_dir
from messaging.errors import UsageError
from messaging.ipc import prepare_state_dir
from messaging.logs import configure
from stonithd.api import endpoint_in, events_endpoint_in
from stonithd.peers_heartbeat import heartbeat_available
from stonithd.runner import default_agent_dirs
from stonithd.service import Service


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stonithd", description="hacluster fencing daemon")
    parser.add_argument("--cib", type=Path, help="follow this CIB XML file instead of the "
                        "cib daemon (no-cib-daemon mode; the file is polled)")
    parser.add_argument("--state-dir", type=Path, default=Path(default_state_dir()),
                        help="sockets live here (default $HACLUSTER_STATE_DIR or "
                        f"{DEFAULT_STATE_DIR})")
    parser.add_argument("-n", "--node", default=socket.gethostname(), help="this node's name")
    parser.add_argument("-c", "--config", type=Path,
                        help="ha.cf (accepted for the launcher's convention; unused so far)")
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=ENDPOINT",
                        help="another fencer's request endpoint (repeatable)")
    parser.add_argument("--no-heartbeat", action="store_true",
                        help="never use the heartbeat layer for peers (alone, or --peer)")
    parser.add_argument("--listen", help="request endpoint (default ipc://STATE/stonithd.sock)")
    parser.add_argument("--events", help="event endpoint (default ipc://STATE/"
                        "stonithd-events.sock)")
    parser.add_argument("--agent-dir", action="append", default=[],
                        help="look for fence agents here first (repeatable)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--log-json", action="store_true")
    return parser


def _peers(values: list[str], node: str) -> dict[str, str]:
    peers: dict[str, str] = {}
    for value in values:
        name, sep, endpoint = value.partition("=")
        if not sep or not name or "://" not in endpoint:
            raise UsageError(f"--peer {value!r} is not NAME=ENDPOINT (e.g. n2=tcp://10.0.0.2:7410)")
        if name != node:
            peers[name] = endpoint
    return peers


def _heartbeat_dir(args: argparse.Namespace) -> Path | None:
    """Peers over heartbeat when no --peer is given and heartbeat runs in the state dir
    (or will: the launcher, which passes -c, starts heartbeat before us)."""
    if args.peer or args.no_heartbeat:
        return None
    if args.config is None and not heartbeat_available(args.state_dir):
        return None
    return Path(args.state_dir)


def _main() -> int:
    args = _parser().parse_args()
    configure(args.log_level, json=args.log_json)
    state_dir = prepare_state_dir(args.state_dir).resolve()
    service = Service(
        node=args.node, cib=args.cib, state_dir=state_dir,
        listen=args.listen or endpoint_in(state_dir),
        events=args.events or events_endpoint_in(state_dir),
        peers=_peers(args.peer, args.node),
        agent_dirs=default_agent_dirs(args.agent_dir),
        heartbeat_dir=_heartbeat_dir(args),
    )
    asyncio.run(service.run())
    return 0


def main() -> None:
    run_tool(_main)


if __name__ == "__main__":
    main()
