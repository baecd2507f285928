"""`python -m cib.attrd_daemon -n NODE --state-dir DIR`: run one node's attribute manager
(attrd) in the foreground.

The launcher starts it with `-c ha.cf -n NODE --state-dir DIR` (`messaging.supervisor`),
after the cib daemon; ha.cf itself is not read. Runs `cib.attrd_service.AttrdService` until
SIGTERM/SIGINT. (A module rather than a package of its own: attrd belongs to the cib
package and reaches the CIB through it.)
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import click

from cib.attrd_service import AttrdService
from messaging.command import daemon_options, run_tool
from messaging.config import default_state_dir
from messaging.logs import configure


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@daemon_options()
def main(config_path: str, node: str | None, state_dir: str | None, log_level: str,
         json_logs: bool) -> None:
    """Run the attribute manager (attrd) of this node."""

    def body() -> int:
        configure(log_level, json=json_logs)
        service = AttrdService(node or socket.gethostname(),
                               Path(state_dir or default_state_dir()))
        asyncio.run(service.run())
        return 0

    run_tool(body)


if __name__ == "__main__":
    main()
