"""``python -m lrmd --state-dir DIR``: run one node's local resource manager daemon."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from messaging.command import fail
from messaging.config import DEFAULT_STATE_DIR, STATE_DIR_ENV, default_state_dir
from messaging.errors import ConflictError, HAError
from messaging.logs import configure


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: Path(default_state_dir()),
    show_default=f"${STATE_DIR_ENV} or {DEFAULT_STATE_DIR}",
    help="Directory for the lrmd.ctl and lrmd.pub sockets.",
)
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
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def main(
    state_dir: Path,
    max_parallel: int,
    kill_grace: float,
    ocf_roots: tuple[Path, ...],
    log_level: str,
) -> None:
    """Run the local resource manager daemon (lrmd) until SIGTERM."""
    from lrmd.api import LrmdClient
    from lrmd.service import run_daemon

    configure(log_level)
    with LrmdClient(state_dir) as client:
        if client.is_running():
            fail(ConflictError(f"{client.path}: an lrmd already serves this state directory"))
    try:
        asyncio.run(
            run_daemon(
                state_dir, max_parallel=max_parallel, kill_grace=kill_grace, extra_roots=ocf_roots
            )
        )
    except (HAError, OSError) as error:
        fail(error)


if __name__ == "__main__":
    main()
