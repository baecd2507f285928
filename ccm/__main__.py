"""`python -m ccm -c ha.cf`: run one node's membership and quorum daemon in the foreground.

Reads ha.cf (heartbeat settings + quorum directives, see ccm.config), configures logging
and runs `CcmService` until SIGTERM/SIGINT. The node name comes from the local heartbeat
daemon (its NodeTable) unless `-n` is given. Bad configuration exits with one line and the
table's exit code.
"""

from __future__ import annotations

import asyncio

import click

from messaging.command import daemon_options, run_tool
from messaging.logs import configure, get_logger

from .config import load
from .service import CcmService, Options


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@daemon_options(config_help="ha.cf file", node_help="this node's name [default: heartbeat's]",
                state_dir_help="override ha.cf state_dir")
def main(config_path: str, node: str | None, state_dir: str | None, log_level: str,
         json_logs: bool) -> None:
    """Run the ccm (membership + quorum) daemon of this node."""

    def body() -> int:
        config = load(config_path)
        configure(log_level, json=json_logs)
        service = CcmService(config, Options(node, state_dir), get_logger(daemon="ccm"))
        asyncio.run(service.run())
        return 0

    run_tool(body)


if __name__ == "__main__":
    main()
