"""`python -m crmd -n NODE --state-dir DIR`: run one node's controller in the foreground.

The launcher starts it with `-c ha.cf -n NODE --state-dir DIR` (`messaging.supervisor`) after
heartbeat, ccm, cib, lrmd and stonithd; ha.cf is not read. Runs
`crmd.service.ControllerService` until SIGTERM/SIGINT, or until the DC confirmed this
node's clean shutdown (exit 100: the launcher does not respawn it).
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
@daemon_options()
def main(config_path: str, node: str | None, state_dir: str | None, log_level: str,
         json_logs: bool) -> None:
    """Run the cluster resource manager (controller) of this node."""

    def body() -> int:
        from crmd.service import ControllerService

        configure(log_level, json=json_logs)
        service = ControllerService(node or socket.gethostname(),
                                    Path(state_dir or default_state_dir()))
        return asyncio.run(service.run())

    run_tool(body)


if __name__ == "__main__":
    main()
