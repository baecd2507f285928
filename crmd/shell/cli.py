"""`crm`: the one-shot form (`crm configure show`) and, with no command, the interactive
shell (crmd.shell.interactive). `crm -f FILE` runs a script of shell lines.

Errors print "ERROR: <message>" (crmsh's form) and exit with the CRM_EX code of the error.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from messaging.errors import ExitCode, HAError, exit_code_for


def run_line(words: list[str], state: object, prefix: tuple[str, ...] = ()) -> int:
    """Run one command through the click tree; returns its exit code (errors printed)."""
    from crmd.shell.commands import crm

    try:
        result = crm.main(args=[*prefix, *words], prog_name="crm", standalone_mode=False,
                          obj=state)
    except click.exceptions.UsageError as error:
        click.echo(f"ERROR: {error.format_message()}", err=True)
        return int(ExitCode.USAGE)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        return int(ExitCode.ERROR)
    except (HAError, OSError) as error:
        click.echo(f"ERROR: {error}", err=True)
        return int(exit_code_for(error))
    return result if isinstance(result, int) else 0  # click returns Exit's code here


def main(argv: list[str] | None = None) -> NoReturn:
    from crmd.shell.session import Session

    args = list(sys.argv[1:] if argv is None else argv)
    while args and args[0] in ("--force", "-F", "-w", "--wait"):
        args.pop(0)  # accepted for crmsh compatibility; file mode never asks
    if args[:1] == ["-f"] and len(args) >= 2:
        sys.exit(_script(args[1]))
    if not args:
        from crmd.shell.interactive import run_shell

        sys.exit(run_shell())
    state = Session()
    try:
        code = run_line(args, state)
    finally:
        state.close()
    sys.exit(code)


def _script(path: str) -> int:
    """crm -f FILE: the file's lines as typed in the shell (levels, cd/up, commit)."""
    from crmd.shell.interactive import handle
    from crmd.shell.session import Session

    state = Session(interactive=True)
    code, level = 0, ""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            new_level, result = handle(line.rstrip("\n"), level, state)
            code = result or code
            if new_level is None:
                break
            level = new_level
    if state.dirty:
        state.commit()
    state.close()
    return code
