"""``python -m lrmd --state-dir DIR``: run one node's local resource manager daemon.

Takes the launcher's command line (`messaging.command.daemon_options`); only --state-dir
and the logging options matter to lrmd."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from messaging.command import daemon_options, fail
from messaging.config import DEFAULT_STATE_DIR, STATE_DIR_ENV, default_state_dir
from messaging.errors import ConflictError, HAError
from messaging.logs import configure


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@daemon_options(config_help="ha.cf file (accepted for the launcher; not read)",
                node_help="accepted for the launcher; lrmd serves its own node",
                state_dir_help="directory for the lrmd.ctl and lrmd.pub sockets "
                f"[default: ${STATE_DIR_ENV} or {DEFAULT_STATE_DIR}]")
@click.option(
    "--max-parallel",
    type=click.IntRange(0, 1024),
    default=0,
    help="Operations running at once (0 = twice the CPU count).",
)
@click.option(
    "--kill-grace",
    type=click.FloatRange(0.1, 300),
    default=5.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL for a timed-out agent.",
)
@click.option(
    "--ocf-root",
    "ocf_roots",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Extra OCF root searched first (repeatable; also $HACLUSTER_OCF_ROOTS).",
)
def main(
    config_path: str,
    node: str | None,
    state_dir: str | None,
    log_level: str,
    json_logs: bool,
    max_parallel: int,
    kill_grace: float,
    ocf_roots: tuple[Path, ...],
) -> None:
    """Run the local resource manager daemon (lrmd) until SIGTERM."""
    from lrmd.api import LrmdClient
    from lrmd.service import run_daemon

    configure(log_level, json=json_logs)
    sockets = Path(state_dir or default_state_dir())
    with LrmdClient(sockets) as client:
        if client.is_running():
            fail(ConflictError(f"{client.path}: an lrmd already serves this state directory"))
    try:
        asyncio.run(
            run_daemon(
                sockets, max_parallel=max_parallel, kill_grace=kill_grace, extra_roots=ocf_roots
            )
        )
    except (HAError, OSError) as error:
        fail(error)


if __name__ == "__main__":
    main()
