"""crm_simulate's command line: the click command (the one definition of its options, help
and usage errors), built on first use, and `plain_options`, which reads the common runs
(`-x FILE -R -Q -G FILE`, `-S -s`, ...) without loading click.

click's import is about a tenth of a small `crm_simulate -R` run's CPU, so a command line
made only of the options listed here is read by hand; anything else (help, injections,
a value that looks like an option, a bad option) goes to click, which decides and reports
exactly as before. Both readers give `pengine.cli.run_command` the same keyword values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

# What runs the command: pengine.cli.run_command(values, live_source).
Runner = Callable[[dict[str, object], Any], int]
# One click.option(...) decorator.
_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

# On/off options read by hand: spelling -> the click parameter it sets.
_FLAGS = {"-p": "xml_pipe", "--xml-pipe": "xml_pipe", "-L": "live_check",
          "--live-check": "live_check", "-R": "run_only", "--run": "run_only",
          "-S": "run_simulation", "--simulate": "run_simulation", "-X": "in_place",
          "--in-place": "in_place", "-s": "show_scores", "--show-scores": "show_scores",
          "-Q": "quiet", "--quiet": "quiet", "-a": "all_actions", "--all-actions": "all_actions"}
# Options taking one value read by hand (the file names and the output choice).
_VALUED = {"-x": "xml_file", "--xml-file": "xml_file", "-G": "save_graph",
           "--save-graph": "save_graph", "-D": "save_dotfile", "--save-dotfile": "save_dotfile",
           "-O": "save_output", "--save-output": "save_output", "-I": "save_input",
           "--save-input": "save_input", "-t": "set_datetime", "--set-datetime": "set_datetime",
           "--output-as": "output_as", "--output-to": "output_to"}
# The values click checks as click.Path(dir_okay=False).
_PATHS = frozenset({"xml_file", "save_graph", "save_dotfile", "save_output", "save_input"})
# Every parameter of the click command with the value click gives it when not on the line.
_DEFAULTS: dict[str, object] = {
    "xml_file": None, "xml_pipe": False, "live_check": False, "run_only": False,
    "run_simulation": False, "in_place": False, "show_scores": False, "quiet": False,
    "profile_dir": None, "repeat": 1, "node_up": (), "node_down": (), "node_fail": (),
    "op_inject": (), "op_fail": (), "quorum": None, "watchdog": None, "ticket_grant": (),
    "ticket_revoke": (), "ticket_standby": (), "ticket_activate": (), "save_graph": None,
    "save_dotfile": None, "all_actions": False, "save_output": None, "save_input": None,
    "set_datetime": None, "output_as": "text", "output_to": None}


def plain_options(argv: list[str]) -> dict[str, object] | None:
    """The click command's keyword values for `argv`, or None when click must read it.

    Short flags may be grouped (-RQ), long values given as --name=VALUE or as the next
    word; a value must be a non-empty word not starting with "-" (click would take it, or
    report it: left to click). The last of a repeated option wins, as with click.
    """
    given = dict(_DEFAULTS)
    words = iter(argv)
    for word in words:
        name, _, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in _FLAGS and not attached and name == word:
            given[_FLAGS[name]] = True
        elif name in _VALUED:
            value = attached if name != word else next(words, "")
            if not value or value.startswith("-") or (
                    _VALUED[name] in _PATHS and Path(value).is_dir()):
                return None  # click's to take or refuse (a directory: "is a directory")
            given[_VALUED[name]] = value
        elif (len(word) > 2 and word[0] == "-" and word[1] != "-"
              and all(f"-{letter}" in _FLAGS for letter in word[1:])):
            given.update((_FLAGS[f"-{letter}"], True) for letter in word[1:])
        else:
            return None
    return given


def run_click(argv: list[str] | None, run: Runner,
              live_source: object) -> int:
    """Read `argv` with the click command and run it (`live_source` is the context's obj);
    usage errors exit 64."""
    import sys

    import click

    from messaging.errors import ExitCode

    try:
        command = build_command(run)
        command.main(args=argv, prog_name="crm_simulate", standalone_mode=False,
                     obj=live_source)
    except click.exceptions.UsageError as error:
        click.echo(f"error: {error.format_message()}", err=True)
        sys.exit(int(ExitCode.USAGE))
    except click.exceptions.Abort:
        sys.exit(int(ExitCode.ERROR))
    return int(ExitCode.OK)


def build_command(run: Runner) -> click.Command:
    """The click command; it calls `run(values, live_source)` with its keyword values and
    the context's obj (what -L/--live-check reads the CIB from)."""
    import sys

    import click

    def crm_simulate(**given: Any) -> None:
        """Simulate a cluster's response to events (hacluster's crm_simulate)."""
        sys.exit(run(given, click.get_current_context().obj))

    # Applied last to first, as stacked decorators are: --help lists them in this order.
    path = click.Path(dir_okay=False)
    options = _input_options(path) + _injection_options() + _output_options(path)
    for option in reversed(options):
        crm_simulate = option(crm_simulate)
    return click.command(context_settings={"help_option_names": ["-h", "--help"]})(crm_simulate)


def _input_options(path: click.Path) -> list[_Decorator]:
    """Where the CIB comes from and what to do with it."""
    import click

    return [
        click.option("-x", "--xml-file", type=path, help="Retrieve XML from the named file."),
        click.option("-p", "--xml-pipe", is_flag=True, help="Retrieve XML from stdin."),
        click.option("-L", "--live-check", is_flag=True,
                     help="Connect to the CIB manager and use the current CIB contents as input."),
        click.option("-R", "--run", "run_only", is_flag=True,
                     help="Process the input and show what actions the cluster will take."),
        click.option("-S", "--simulate", "run_simulation", is_flag=True,
                     help="Like --run, but also simulate the actions and show the new status."),
        click.option("-X", "--in-place", is_flag=True,
                     help="Like --simulate, but also store the results back to the input file."),
        click.option("-s", "--show-scores", is_flag=True, help="Show allocation scores."),
        click.option("-Q", "--quiet", is_flag=True, help="Display only essential output."),
        click.option("-P", "--profile", "profile_dir", type=click.Path(file_okay=False),
                     help="Schedule every XML file in the directory and print timings."),
        click.option("-N", "--repeat", type=click.IntRange(min=1), default=1,
                     help="With --profile, repeat each test N times."),
    ]


def _injection_options() -> list[_Decorator]:
    """Events injected before the run: node changes, operation results, quorum, tickets."""
    import click

    return [
        click.option("-u", "--node-up", multiple=True, metavar="NODE",
                     help="Simulate bringing a node online."),
        click.option("-d", "--node-down", multiple=True, metavar="NODE",
                     help="Simulate taking a node offline."),
        click.option("-f", "--node-fail", multiple=True, metavar="NODE",
                     help="Simulate a node failing."),
        click.option("-i", "--op-inject", multiple=True, metavar="OPSPEC",
                     help="Inject an operation result: RSC_TASK_INTERVAL@NODE=RC."),
        click.option("-F", "--op-fail", multiple=True, metavar="OPSPEC",
                     help="If the task occurs during the simulation, have it fail with RC."),
        click.option("-q", "--quorum", help="Set to '1' (or 'true') if the cluster has quorum."),
        click.option("-w", "--watchdog",
                     help="Set to '1' (or 'true') if a watchdog is active."),
        click.option("-g", "--ticket-grant", multiple=True, metavar="TICKET",
                     help="Grant a ticket."),
        click.option("-r", "--ticket-revoke", multiple=True, metavar="TICKET",
                     help="Revoke a ticket."),
        click.option("-b", "--ticket-standby", multiple=True, metavar="TICKET",
                     help="Make a ticket standby."),
        click.option("-e", "--ticket-activate", multiple=True, metavar="TICKET",
                     help="Activate a ticket."),
    ]


def _output_options(path: click.Path) -> list[_Decorator]:
    """What is saved or printed, and in which format."""
    import click

    return [
        click.option("-G", "--save-graph", type=path, help="Save the transition graph (XML)."),
        click.option("-D", "--save-dotfile", type=path, help="Save the transition graph (DOT)."),
        click.option("-a", "--all-actions", is_flag=True,
                     help="Show all possible actions in the DOT graph, even if not in the "
                          "transition."),
        click.option("-O", "--save-output", type=path, help="Save the CIB after simulation."),
        click.option("-I", "--save-input", type=path,
                     help="Save the input CIB (after injections)."),
        click.option("-t", "--set-datetime", metavar="DATETIME",
                     help="Set date/time (ISO 8601)."),
        click.option("--output-as", default="text", metavar="FORMAT",
                     help="Output format: text (default) or xml."),
        click.option("--output-to", metavar="DEST",
                     help='Write output here ("-" for stdout).'),
    ]
