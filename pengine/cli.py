"""crm_simulate: run the policy engine on a CIB file and show or simulate the transition.

A thin shell: it reads the input (file or stdin), hands it to `pengine.api.schedule`,
prints Pacemaker's sections ("Current cluster status:", "Transition Summary:", "Executing
Cluster Transition:", "Revised Cluster Status:") and writes the requested artifacts (graph
XML, dot, the CIB after simulation). Errors become one line on stderr and an exit code from
messaging.errors.ExitCode: USAGE 64 for bad options, NOINPUT 66 for a missing file, CONFIG
78 for an unusable CIB, DISCONNECT 102 for --live-check without a cluster.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click
from lxml import etree

from messaging import schema
from messaging.command import fail
from messaging.errors import (
    ExitCode,
    HAError,
    Location,
    PeerUnreachable,
    UsageError,
    ValidationError,
)
from pengine import graph_xml, simulate, status_text
from pengine.api import Transition, schedule, unpack_status
from pengine.input_check import MAX_INPUT_BYTES, parse_cib, unique_clones
from pengine.model import Action


class InputMissing(HAError):
    """The CIB file named on the command line cannot be read."""

    exit_code = ExitCode.NOINPUT


class OutputFailed(HAError):
    """An artifact file (-G, -D, -O, -I) cannot be written."""

    exit_code = ExitCode.CANTCREAT


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asked for."""

    xml_file: str | None
    xml_pipe: bool
    live_check: bool
    run_simulation: bool
    show_scores: bool
    quiet: bool
    save_graph: str | None
    save_dotfile: str | None
    save_output: str | None
    save_input: str | None
    set_datetime: str | None
    all_actions: bool


def parse_datetime(text: str) -> datetime.datetime:
    """An ISO 8601 date/time; a missing zone means UTC (as Pacemaker's crm_time does)."""
    cleaned = text.strip().replace(" ", "T", 1)
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.datetime.fromisoformat(cleaned)
    except ValueError:
        raise UsageError(f"--set-datetime: {text!r} is not an ISO 8601 date/time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


def _read_input(options: Options) -> tuple[bytes, str]:
    if options.live_check:
        raise PeerUnreachable("could not connect to the CIB manager: no cluster is running "
                              "on this host (use -x FILE to simulate a saved CIB)")
    if options.xml_pipe:  # one byte over the limit is enough for the limit check to fire
        return sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "<stdin>"
    if options.xml_file is None:
        raise UsageError("no input: give -x/--xml-file FILE, -p/--xml-pipe or -L/--live-check")
    path = Path(options.xml_file)
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_INPUT_BYTES + 1), str(path)
    except OSError as error:
        raise InputMissing(f"cannot read CIB file: {error.strerror}",
                           location=Location(str(path))) from None


def _relocate(error: HAError, source: str) -> HAError:
    """Engine errors name the CIB as "<cib>"; point them at the file the user gave."""
    location = error.location
    if location is not None and location.source in ("", "<cib>"):
        error.location = Location(source, location.line, location.element)
    return error


def execution_date_line(transition: Transition) -> str | None:
    """Pacemaker's note when the CIB pins "now" with execution-date (and -t is not used)."""
    stamp = transition.status.execution_date
    if stamp is None:
        return None
    when = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
    return f"Using the original execution date of: {when:%Y-%m-%d %H:%M:%SZ}"


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as error:
        raise OutputFailed(f"cannot write {path}: {error.strerror}") from None


@dataclass(frozen=True, slots=True)
class _Input:
    """The parsed input and what every section needs to know about it."""

    root: etree._Element
    source: str
    now: datetime.datetime | None
    unique: frozenset[str]


def run(options: Options) -> int:
    """The whole command; returns the exit code (errors are raised as HAError)."""
    data, source = _read_input(options)
    now = parse_datetime(options.set_datetime) if options.set_datetime else None
    if not schema.available():
        click.echo(f"warning: Pacemaker's schemas are not in {schema.SCHEMA_DIR} (install "
                   "pacemaker-common): the CIB is not schema-validated", err=True)
    root = parse_cib(data, source)
    if options.save_input:
        _write(options.save_input, etree.tostring(root, encoding="unicode") + "\n")
    given = _Input(root, source, now, unique_clones(root))
    try:
        transition = schedule(root, now)
    except HAError as error:
        raise _relocate(error, source) from None
    date_line = execution_date_line(transition) if now is None else None
    out = _current(options, transition, given, date_line)
    synapses = graph_xml.synapses(transition)
    new_cib = root
    if options.run_simulation:
        new_cib, lines = _simulated(transition, synapses, given, date_line)
        out += lines
    _save_artifacts(options, transition, synapses, new_cib)
    if not options.quiet:
        click.echo("\n".join(out))
    return int(ExitCode.OK)


def _current(options: Options, transition: Transition, given: _Input,
             date_line: str | None) -> list[str]:
    """Everything up to and including the Transition Summary."""
    out: list[str] = []
    if options.set_datetime:
        out.append(f"Setting effective cluster time: {options.set_datetime}")
    if date_line:
        out.append(date_line)
    counts = status_text.counts_line(transition.status)
    if counts:
        out += [counts, ""]
    out += ["Current cluster status:",
            *status_text.render_status(transition.status, unique_clones=given.unique), ""]
    if options.show_scores:
        out += [*transition.scores, ""]
    return [*out, "Transition Summary:", *transition.summary]


def _simulated(transition: Transition, synapses: tuple[graph_xml.Synapse, ...],
               given: _Input, date_line: str | None) -> tuple[etree._Element, list[str]]:
    """Execute the graph on a copy of the CIB: the new CIB and the two last sections."""
    result = simulate.simulate(given.root, synapses, now=int(transition.now.timestamp()))
    _warn_unfired(synapses, result.fired)
    out = ["", "Executing Cluster Transition:", *result.lines]
    if date_line:
        out.append(date_line)
    try:
        revised = unpack_status(result.cib, given.now)
    except HAError as error:
        raise _relocate(error, given.source) from None
    out += ["", "Revised Cluster Status:",
            *status_text.render_status(revised, unique_clones=given.unique)]
    return result.cib, out


def _warn_unfired(synapses: tuple[graph_xml.Synapse, ...],
                  fired: tuple[Action, ...]) -> None:
    """A graph whose actions wait on each other can never complete: say so on stderr."""
    done = {action.id for action in fired}
    stuck = [s.action.key for s in synapses if s.action.id not in done]
    if stuck:
        shown = ", ".join(stuck[:5]) + (", ..." if len(stuck) > 5 else "")
        click.echo(f"warning: transition incomplete: {len(stuck)} of {len(synapses)} actions "
                   f"wait on an ordering cycle and were not executed ({shown})", err=True)


def _save_artifacts(options: Options, transition: Transition,
                    synapses: tuple[graph_xml.Synapse, ...], cib: etree._Element) -> None:
    if options.save_graph:
        _write(options.save_graph, graph_xml.to_xml(transition, synapses))
    if options.save_dotfile:
        _write(options.save_dotfile, graph_xml.to_dot(transition, all_actions=options.all_actions))
    if options.save_output:
        _write(options.save_output, etree.tostring(cib, encoding="unicode") + "\n")


_PATH = click.Path(dir_okay=False)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-x", "--xml-file", type=_PATH, help="Retrieve XML from the named file.")
@click.option("-p", "--xml-pipe", is_flag=True, help="Retrieve XML from stdin.")
@click.option("-L", "--live-check", is_flag=True,
              help="Connect to the CIB manager and use the current CIB contents as input.")
@click.option("-R", "--run", "run_only", is_flag=True,
              help="Process the input and show what actions the cluster will take.")
@click.option("-S", "--simulate", "run_simulation", is_flag=True,
              help="Like --run, but also simulate the actions and show the new status.")
@click.option("-s", "--show-scores", is_flag=True, help="Show allocation scores.")
@click.option("-Q", "--quiet", is_flag=True, help="Display only essential output.")
@click.option("-G", "--save-graph", type=_PATH, help="Save the transition graph (XML).")
@click.option("-D", "--save-dotfile", type=_PATH, help="Save the transition graph (DOT).")
@click.option("-a", "--all-actions", is_flag=True,
              help="Show all possible actions in the DOT graph, even if not in the transition.")
@click.option("-O", "--save-output", type=_PATH, help="Save the CIB after simulation.")
@click.option("-I", "--save-input", type=_PATH, help="Save the input CIB.")
@click.option("-t", "--set-datetime", metavar="DATETIME", help="Set date/time (ISO 8601).")
def crm_simulate(xml_file: str | None, xml_pipe: bool, live_check: bool, run_only: bool,
                 run_simulation: bool, show_scores: bool, quiet: bool, save_graph: str | None,
                 save_dotfile: str | None, all_actions: bool, save_output: str | None,
                 save_input: str | None, set_datetime: str | None) -> None:
    """Simulate a cluster's response to events (hacluster's crm_simulate)."""
    sources = sum((xml_file is not None, xml_pipe, live_check))
    if sources > 1:
        raise UsageError("give only one of -x/--xml-file, -p/--xml-pipe, -L/--live-check")
    options = Options(xml_file, xml_pipe, live_check, run_simulation, show_scores, quiet,
                      save_graph, save_dotfile, save_output, save_input, set_datetime,
                      all_actions)
    sys.exit(run(options))


def main(argv: list[str] | None = None) -> NoReturn:
    """Console entry point: click usage errors exit 64, HAError/OSError via `fail`."""
    try:
        crm_simulate.main(args=argv, prog_name="crm_simulate", standalone_mode=False)
    except click.exceptions.UsageError as error:
        click.echo(f"error: {error.format_message()}", err=True)
        sys.exit(int(ExitCode.USAGE))
    except click.exceptions.Abort:
        sys.exit(int(ExitCode.ERROR))
    except ValidationError as error:
        fail(error)
    except (HAError, OSError) as error:
        fail(error)
    sys.exit(int(ExitCode.OK))


if __name__ == "__main__":
    main()
