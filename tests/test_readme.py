"""Every shell line in the README pastes and runs as written: at least it is valid shell
and each of our commands on it parses against the real click command tree (options and
arguments included), so a line like `hacluster membership [--json]` cannot come back.

Lines are taken from the README's ```sh blocks; `;` separates commands; comments are cut.
`hacluster lab exec NODE CMD...` is checked for the inner command too.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import click
import pytest

from tests.readme import sh_lines as readme_lines

REPO = Path(__file__).resolve().parent.parent
SHELL_BUILTINS = {"cp", "export", "cd", "mkdir", "cat", "docker", "docker-compose"}


def _tool(name: str) -> click.Command | None:
    if name == "hacluster":
        from messaging.command import root

        return root
    if name == "crm_simulate":
        from pengine.cli import crm_simulate

        return crm_simulate
    if name == "stonith_admin":
        from stonithd.cli import command

        return command
    if name == "crm_mon":
        from crmd.mon.cli import crm_mon

        return crm_mon
    if name == "crm_resource":
        from crmd.resource.cli import crm_resource

        return crm_resource
    if name == "crm":
        from crmd.shell.commands import crm

        return crm
    return None


def _commands(line: str) -> list[list[str]]:
    words = shlex.split(line, comments=True)
    commands: list[list[str]] = [[]]
    for word in words:
        if word.endswith(";"):
            if word[:-1]:
                commands[-1].append(word[:-1])
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def _parse(command: click.Command, name: str, args: list[str]) -> list[str]:
    """Parse like click would; returns the words of `lab exec`'s inner command, if any."""
    ctx = command.make_context(name, list(args))
    if isinstance(command, click.Group):
        protected = getattr(ctx, "_protected_args", None)  # click >= 8.2
        rest = [*(ctx.protected_args if protected is None else protected), *ctx.args]
        if not rest:
            return []
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None and sub_name is not None, f"{name}: no command {rest[0]}"
        if name.endswith("lab") and sub_name == "exec":
            return list(sub_args[1:])
        return _parse(sub, f"{name} {sub_name}", sub_args)
    return []


def check_command(words: list[str]) -> None:
    program, *args = words
    if program.startswith("./"):
        assert (REPO / program[2:]).is_file(), f"{program} is not in the repository"
        if program == "./setup.sh":
            assert args and args[0] in ("install", "lab", "test"), \
                f"setup.sh takes install|lab|test: {args}"
        return
    if program in SHELL_BUILTINS:
        return
    command = _tool(program)
    assert command is not None, f"{program} is not one of our commands"
    if program == "crm" and not args:
        return  # the interactive shell
    inner = _parse(command, program, args)
    if inner:
        check_command(inner)


@pytest.mark.parametrize("line", readme_lines())
def test_readme_line_parses(line: str) -> None:
    syntax = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True,
                            check=False)
    assert syntax.returncode == 0, syntax.stderr
    assert "sudo" not in line.split("#")[0], "README commands run as root, without sudo"
    for words in _commands(line):
        check_command(words)


def test_the_bad_tour_line_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        check_command(["hacluster", "lab", "exec", "n1", "hacluster", "membership",
                       "[--json]"])


def test_the_readme_opens_with_exactly_the_two_set_up_commands() -> None:
    first_block = (REPO / "README.md").read_text().split("```sh\n")[1].split("```")[0]
    commands = [line.split("#")[0].split() for line in first_block.splitlines()]
    assert commands == [["./setup.sh", "lab"], ["./setup.sh", "test"]]
    assert all("as root on a fresh Debian 12" in line for line in first_block.splitlines())


def test_the_walk_through_is_one_command_per_step_on_the_lab() -> None:
    steps = readme_lines("Walk-through: status, a move, a failover, a partition")
    assert len(steps) >= 10
    for step in steps:
        words = shlex.split(step, comments=True)
        assert words[:2] == ["hacluster", "lab"] and ";" not in step.split("#")[0], step
    joined = "\n".join(steps)
    for needed in ("crm_mon -1", "crm resource move", "crm resource clear", "lab kill",
                   "lab partition", "lab heal", "crm resource cleanup"):
        assert needed in joined
