"""`python -m cib -n NODE --state-dir DIR`: run one node's cib daemon in the foreground.

The launcher starts it with `-c ha.cf -n NODE --state-dir DIR` (`messaging.supervisor`);
ha.cf gives the cluster addresses of the bulk path (`messaging.bulk`) and authkeys, by
default the file beside ha.cf (where Heartbeat keeps it), signs it. Runs
`cib.service.CibService` until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import click

from messaging.command import daemon_options, run_tool
from messaging.config import default_state_dir
from messaging.logs import configure


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@daemon_options(config_help="ha.cf file (its links carry the bulk path)",
                state_dir_help="sockets and cib/ [default: $HACLUSTER_STATE_DIR or "
                "/var/lib/hacluster]")
@click.option("-k", "--authkeys", "authkeys_path", default=None,
              help="authkeys signing the bulk path [default: beside ha.cf]")
def main(config_path: str, authkeys_path: str | None, node: str | None, state_dir: str | None,
         log_level: str, json_logs: bool) -> None:
    """Run the cib (cluster information base) daemon of this node."""

    def body() -> int:
        from cib.service import CibService

        configure(log_level, json=json_logs)
        keys = authkeys_path or str(Path(config_path).parent / "authkeys")
        service = CibService(node or socket.gethostname(), Path(state_dir or default_state_dir()),
                             config_path, keys)
        asyncio.run(service.run())
        return 0

    run_tool(body)


if __name__ == "__main__":
    main()
