"""`python -m messaging.heartbeat -c ha.cf -k authkeys`: run one node's heartbeat daemon.

Reads ha.cf and authkeys, configures structured logging, then runs the service in the
foreground until SIGTERM/SIGINT. Bad configuration exits with the table's code and one line.
"""

from __future__ import annotations

import asyncio
import os

import click

from messaging.authkeys import load_authkeys
from messaging.command import daemon_options, run_tool
from messaging.config import load_ha_cf, resolve_ucast
from messaging.heartbeat.netio import resolve_ipv4
from messaging.heartbeat.service import HeartbeatService, Options
from messaging.logs import configure, get_logger


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@daemon_options(config_help="ha.cf file", node_help="this node's name [default: uname -n]",
                state_dir_help="override ha.cf state_dir")
@click.option("-k", "--authkeys", "authkeys_path", default="/etc/ha.d/authkeys",
              show_default=True, help="authkeys file (mode 0600)")
@click.option("--bind", "bind_address", default=None,
              help="bind link sockets to this address (also the 'own' address for ucast)")
def main(config_path: str, authkeys_path: str, node: str | None, bind_address: str | None,
         state_dir: str | None, log_level: str, json_logs: bool) -> None:
    """Run the heartbeat daemon of this node in the foreground."""

    def body() -> int:
        config = resolve_ucast(load_ha_cf(config_path), resolve_ipv4)
        keys = load_authkeys(authkeys_path)
        name = node or os.uname().nodename
        configure(log_level, json=json_logs)
        log = get_logger(daemon="heartbeat", node=name)
        for directive, line in config.legacy:
            log.debug("directive_ignored", directive=directive, line=line)
        options = Options(name, bind_address, state_dir, authkeys_path)
        service = HeartbeatService(config, keys, options, log)
        asyncio.run(service.run())
        return 0

    run_tool(body)


if __name__ == "__main__":
    main()
