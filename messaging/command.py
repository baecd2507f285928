"""The `hacluster` umbrella command and the one place errors become exit codes.

Each package owns its click group (`lab`, `node`, `membership`, `lrm`, ...) and registers it
under the entry-point group ``hacluster.commands``; the root group imports a subcommand's
module only when that subcommand runs, so `hacluster --help` stays fast and no low layer
imports a high one. Pacemaker-named tools (`crm_simulate`, `cibadmin`, ...) wrap their
main function with `run_tool` for the same error-to-exit-code mapping. Every daemon's
`__main__` takes the launcher's command line through `daemon_options`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from messaging.errors import ExitCode, HAError, exit_code_for

ENTRY_POINT_GROUP = "hacluster.commands"
# This distribution's own entries of ENTRY_POINT_GROUP (pyproject.toml; a test keeps the
# two equal): running one of them skips the entry-point scan (about 0.03 CPU-s of
# importlib.metadata per call, paid 16 times by the `lab start` commands of a 16-node cold
# start). Groups other distributions register are still found by the scan.
OWN_COMMANDS = {
    "lrm": "lrmd.cli:lrm",
    "node": "messaging.launcher:node",
    "membership": "ccm.cli:membership",
    "lab": "lab.cli:lab",
    "crm": "crmd.control_cli:crm",
}
LOG_LEVELS = ("debug", "info", "warning", "error")
Command = TypeVar("Command", bound=Callable[..., Any])


class _LazyGroup(click.Group):
    """A click group whose subcommands come from entry points, loaded on first use."""

    def _entry_points(self) -> dict[str, Any]:
        # importlib.metadata pulls in email, zipfile and csv: only the root group needs it,
        # not the daemons and tools that use run_tool/fail from here
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        loaded: Any
        if cmd_name in OWN_COMMANDS:
            import importlib

            module, attribute = OWN_COMMANDS[cmd_name].split(":")
            loaded = getattr(importlib.import_module(module), attribute)
        else:
            entry = self._entry_points().get(cmd_name)
            if entry is None:
                return None
            loaded = entry.load()
        if not isinstance(loaded, click.Command):
            raise click.ClickException(f"entry point {cmd_name!r} is not a click command")
        return loaded


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hacluster")
def root() -> None:
    """hacluster: a high-availability cluster stack (Heartbeat R2 / Pacemaker architecture)."""


def daemon_options(*, config_help: str = "ha.cf file (accepted for the launcher; not read)",
                   node_help: str = "this node's name [default: hostname]",
                   state_dir_help: str = "sockets [default: $HACLUSTER_STATE_DIR or "
                   "/var/lib/hacluster]") -> Callable[[Command], Command]:
    """The options of a daemon's entry, as `messaging.supervisor` starts every daemon:
    `-c/--config` (config_path), `-n/--node`, `--state-dir`, `--log-level`, `--json-logs`.
    Only the help texts differ between daemons (what each does with ha.cf and the node)."""
    options = [
        click.option("-c", "--config", "config_path", default="/etc/ha.d/ha.cf",
                     show_default=True, help=config_help),
        click.option("-n", "--node", default=None, help=node_help),
        click.option("--state-dir", default=None, help=state_dir_help),
        click.option("--log-level", default="info", show_default=True,
                     type=click.Choice(LOG_LEVELS)),
        click.option("--json-logs", is_flag=True, help="log JSON lines"),
    ]

    def apply(command: Command) -> Command:
        for option in reversed(options):  # click lists them in decorator order
            command = option(command)
        return command

    return apply


def fail(error: BaseException) -> NoReturn:
    """Print one clear line for `error` on stderr and exit with its code from the table."""
    if isinstance(error, HAError):
        click.echo(f"error: {error}", err=True)
    else:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
    sys.exit(int(exit_code_for(error)))


def run_tool(function: Callable[[], int | None]) -> NoReturn:
    """Run a tool's main body; HAError and OSError become one message plus an exit code."""
    try:
        result = function()
    except (HAError, OSError) as error:
        fail(error)
    sys.exit(int(result or ExitCode.OK))


def main() -> None:
    """Entry point of the `hacluster` console script."""
    try:
        root.main(standalone_mode=True)
    except (HAError, OSError) as error:
        fail(error)
