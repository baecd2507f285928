"""The umbrella `hacluster` command finds every package's group through entry points, and
errors become one line plus the table's exit code."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

import click
import pytest
from click.testing import CliRunner

from messaging.command import ENTRY_POINT_GROUP, OWN_COMMANDS, fail, root
from messaging.errors import ConfigError, Location


def _installed() -> bool:
    try:
        distribution("hacluster")
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _installed(), reason="hacluster is not installed (entry points absent)")
def test_root_lists_every_registered_group() -> None:
    result = CliRunner().invoke(root, ["--help"])
    assert result.exit_code == 0
    for group in ("lab", "lrm", "membership", "node"):
        assert group in result.output


@pytest.mark.skipif(not _installed(), reason="hacluster is not installed (entry points absent)")
def test_own_commands_are_this_distributions_entry_points() -> None:
    """The shortcut table names exactly what pyproject.toml registers (nothing drifts)."""
    registered = {entry.name: entry.value for entry in distribution("hacluster").entry_points
                  if entry.group == ENTRY_POINT_GROUP}
    assert registered == OWN_COMMANDS


def test_own_command_loads_through_the_table() -> None:
    result = CliRunner().invoke(root, ["lab", "--help"])
    assert result.exit_code == 0, result.output
    assert "start" in result.output


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = CliRunner().invoke(root, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_fail_prints_location_and_exits_with_table_code() -> None:
    @click.command()
    def broken() -> None:
        fail(ConfigError("unknown directive 'foo'", location=Location("/etc/ha.d/ha.cf", 3)))

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 78
    assert "error: /etc/ha.d/ha.cf:3: unknown directive 'foo'" in result.output


@pytest.mark.parametrize("module", ["messaging.heartbeat.__main__", "ccm.__main__",
                                    "lrmd.__main__", "cib.__main__", "cib.attrd_daemon",
                                    "crmd.__main__"])
def test_every_daemon_entry_takes_the_launchers_command_line(module: str) -> None:
    import importlib

    command = importlib.import_module(module).main
    line = ["-c", "/etc/ha.d/ha.cf", "-n", "n1", "--state-dir", "/run/x", "--log-level",
            "debug", "--json-logs"]
    params = command.make_context("daemon", line).params
    assert (params["config_path"], params["node"], params["state_dir"], params["log_level"],
            params["json_logs"]) == ("/etc/ha.d/ha.cf", "n1", "/run/x", "debug", True)
