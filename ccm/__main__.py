"""`python -m ccm -c ha.cf`: run one node's membership and quorum daemon in the foreground.

Reads ha.cf (heartbeat settings + quorum directives, see ccm.config), configures logging
and runs `CcmService` until SIGTERM/SIGINT. The node name comes from the local heartbeat
daemon (its NodeTable) unless `-n` is given. Bad configuration exits with one line and the
table's exit code.
"""

from __future__ import annotations

import asyncio

import click

from messaging.command import run_tool
from messaging.logs import configure, get_logger

from .config import load
from .service import CcmService, Options


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", default="/etc/ha.d/ha.cf", show_default=True,
              help="ha.cf file")
@click.option("-n", "--node", default=None, help="this node's name [default: heartbeat's]")
@click.option("--state-dir", default=None, help="override ha.cf state_dir")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--json-logs", is_flag=True, help="log JSON lines")
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
