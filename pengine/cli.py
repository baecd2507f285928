"""crm_simulate: run the policy engine on a CIB file and show or simulate the transition.

A thin shell: it reads the input (file or stdin), applies the synthetic events
(pengine.inject: -u/-d/-f/-i/-q/-w/-g/-r/-b/-e, stamped with the wall clock as Pacemaker
does), hands the result to `pengine.api.schedule`, prints Pacemaker's sections ("Current
cluster status:", "Performing Requested Modifications:", "Transition Summary:", "Executing
Cluster Transition:", "Revised Cluster Status:") as text or as Pacemaker's XML
(pengine.simulate_xml), and writes the requested artifacts (graph XML, dot, the CIB before
and after simulation). Errors become one line on stderr and an exit code from
messaging.errors.ExitCode: USAGE 64 for bad options, NOINPUT 66 for a missing file, CONFIG
78 for an unusable CIB, NOSUCH 105 for a node that does not exist or an unknown output
format, NOINPUT 66 ("CIB query failed: Input file not available", as Pacemaker says) for
-L/--live-check when the CIB cannot be had. -L reads the CIB through the `LiveSource` the
entry point passes in (crmd.simulate: cib.backend, so CIB_file or the local cib daemon):
the engine's package never talks to a daemon itself. Malformed -i/-F specs are
reported and skipped with exit code 0, as Pacemaker does. A simulated transition whose
actions can never all fire ("Transition failed: terminated") exits ERROR 1, as Pacemaker's
does, after printing every section.
"""

from __future__ import annotations

import copy
import datetime
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from lxml import etree

from messaging import schema
from messaging.errors import (
    ExitCode,
    HAError,
    Location,
    UsageError,
)
from messaging.record import Record
from pengine.api import Transition, schedule, unpack_status
from pengine.cli_options import build_command, plain_options, run_click
from pengine.inject import Injected, Injections, inject
from pengine.input_check import MAX_INPUT_BYTES, parse_cib
from pengine.model import Action, ClusterStatus

LiveSource = Callable[[], bytes]  # the whole live CIB as XML text

if TYPE_CHECKING:  # each output imports its own modules: a -R -Q run loads no renderer
    from pengine.graph_xml import Synapse
    from pengine.simulate import Simulation


class InputMissing(HAError):
    """The CIB file named on the command line cannot be read."""

    exit_code = ExitCode.NOINPUT


class OutputFailed(HAError):
    """An artifact file (-G, -D, -O, -I) cannot be written."""

    exit_code = ExitCode.CANTCREAT


class Options(Record):
    """What the command line asked for."""

    __slots__ = ("all_actions", "injections", "live_check", "live_source", "op_fail", "output_as",
                 "output_to", "quiet", "request", "run_simulation", "save_dotfile", "save_graph",
                 "save_input", "save_output", "set_datetime", "show_scores", "xml_file", "xml_pipe")

    def __init__(self, xml_file: str | None, xml_pipe: bool, live_check: bool, run_simulation: bool,
                 show_scores: bool, quiet: bool, save_graph: str | None, save_dotfile: str | None,
                 save_output: str | None, save_input: str | None, set_datetime: str | None,
                 all_actions: bool, injections: Injections | None = None,
                 op_fail: tuple[str, ...] = (), output_as: str = "text",
                 output_to: str | None = None, request: str = "crm_simulate",
                 live_source: LiveSource | None = None) -> None:
        self.xml_file, self.xml_pipe, self.live_check = xml_file, xml_pipe, live_check
        self.run_simulation, self.show_scores, self.quiet = run_simulation, show_scores, quiet
        self.save_graph, self.save_dotfile = save_graph, save_dotfile
        self.save_output, self.save_input = save_output, save_input
        self.set_datetime, self.all_actions = set_datetime, all_actions
        self.injections: Injections = Injections() if injections is None else injections
        self.op_fail, self.output_as, self.output_to = op_fail, output_as, output_to
        self.request, self.live_source = request, live_source


def parse_datetime(text: str) -> datetime.datetime:
    """An ISO 8601 date/time in the forms Pacemaker's crm_time parses (calendar, ordinal
    `2005-020`, week dates; a space or T before the time); a missing zone means UTC."""
    from pengine.rules import parse_iso

    value = parse_iso(text)
    if value is None:
        raise UsageError(f"--set-datetime: {text!r} is not an ISO 8601 date/time")
    return value


def _read_input(options: Options) -> tuple[bytes, str]:
    if options.live_check:
        try:
            if options.live_source is None:
                raise InputMissing("no CIB source")
            return options.live_source(), "<live CIB>"
        except HAError:
            raise InputMissing("CIB query failed: Input file not available") from None
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


class _Input:
    """The parsed input and what every section needs to know (plain: start-up cost)."""

    __slots__ = ("now", "root", "source")

    def __init__(self, root: etree._Element, source: str, now: datetime.datetime | None
                 ) -> None:
        self.root, self.source, self.now = root, source, now


def _warn_unvalidated(root: etree._Element, options: Options) -> None:
    """cli_config_update's warning for a CIB that disables schema validation, on stderr
    (-Q silences it; confirmed with crm_simulate for validate-with none, NONE and none
    given)."""
    if (root.get("validate-with") or "none").casefold() == "none" and not options.quiet \
            and options.output_as != "xml":
        _echo("Schema validation of configuration is disabled (enabling is encouraged and "
              "prevents common misconfigurations)", err=True)


def run(options: Options) -> int:
    """The whole command; returns the exit code (errors are raised as HAError)."""
    data, source = _read_input(options)
    now = parse_datetime(options.set_datetime) if options.set_datetime else None
    if not schema.available():
        _echo(f"warning: Pacemaker's schemas are not in {schema.SCHEMA_DIR} (install "
                   "pacemaker-common): the CIB is not schema-validated", err=True)
    root = parse_cib(data, source)
    _warn_unvalidated(root, options)
    given = _Input(root, source, now)
    injected = inject(root, options.injections, int(time.time()))
    if options.save_input:
        _write(options.save_input, cib_text(copy.deepcopy(injected.cib)))
    transition = _schedule(injected.cib, given)
    _warn(injected.warnings)
    synapses: tuple[Synapse, ...] = ()
    if options.run_simulation or options.save_graph or options.save_dotfile:
        from pengine.graph_xml import synapses as ordered_synapses

        synapses = ordered_synapses(transition)
    result = None
    if options.run_simulation:
        from pengine.simulate import simulate

        result = simulate(injected.cib, synapses, now=int(transition.now.timestamp()),
                          op_fail=options.op_fail, failure_now=int(time.time()))
        _warn(result.warnings)
    stuck = _unfired(synapses, result.fired) if result is not None and result.failed is None \
        else ()
    run_result = _Run(given, injected, transition, result)
    _save_artifacts(options, transition, synapses, run_result.new_cib)
    errors = _TERMINATED if stuck else ()
    if options.output_as == "xml":  # Pacemaker puts its errors into the document's status
        _emit(options, _xml_lines(options, run_result, errors))
    else:
        for line in errors:
            _echo(line, err=True)
        if not options.quiet:  # -Q: nothing to show, so no status is unpacked or rendered
            _emit(options, _text_lines(options, run_result))
    if stuck:
        # Pacemaker's crm_simulate exits CRM_EX_ERROR when the simulated graph does not
        # complete (pcmk__simulate_transition fails on a terminated graph); without -V it
        # says no more than its two error lines
        return int(ExitCode.ERROR)
    return int(ExitCode.OK)


class _Run:
    """What one run computed, for the output sections.

    A plain class: each dataclass costs ~0.7 ms of start-up, which crm_simulate pays often.
    """

    __slots__ = ("given", "injected", "result", "transition")

    def __init__(self, given: _Input, injected: Injected, transition: Transition,
                 result: Simulation | None) -> None:
        self.given = given
        self.injected = injected
        self.transition = transition
        self.result = result

    @property
    def new_cib(self) -> etree._Element:
        return self.result.cib if self.result is not None else self.injected.cib

    def current_status(self) -> ClusterStatus:
        """The status before the synthetic events (the scheduled one when there were none)."""
        if self.injected.modifications:
            return _status(self.given.root, self.given)
        return self.transition.status


def _schedule(cib: etree._Element, given: _Input) -> Transition:
    try:
        return schedule(cib, given.now)
    except HAError as error:
        raise _relocate(error, given.source) from None


def _status(cib: etree._Element, given: _Input) -> ClusterStatus:
    try:
        return unpack_status(cib, given.now)
    except HAError as error:
        raise _relocate(error, given.source) from None


def _warn(warnings: tuple[str, ...]) -> None:
    for warning in warnings:
        _echo(warning, err=True)


def _emit(options: Options, lines: list[str]) -> None:
    text = "\n".join(lines)
    if options.output_to in (None, "-"):
        _echo(text)
    else:
        _write(options.output_to, text + "\n")


def _xml_lines(options: Options, run: _Run, errors: tuple[str, ...]) -> list[str]:
    from pengine.simulate_xml import XmlReport
    from pengine.status_text import without_pending

    # as in the text output, the revised status shows no pending action (a held start's)
    revised = without_pending(_status(run.new_cib, run.given)) if run.result is not None \
        else None
    text = XmlReport(options.request).render(
        run.current_status(), run.injected, run.transition, run.result, revised,
        (run.given.root, run.new_cib), errors)
    return text.splitlines()


def _text_lines(options: Options, run: _Run) -> list[str]:
    """Pacemaker's text sections, from "Current cluster status" to "Revised Cluster Status"."""
    from pengine import status_text

    date_line = execution_date_line(run.transition) if run.given.now is None else None
    current = run.current_status()
    out: list[str] = []
    if options.set_datetime:
        out.append(f"Setting effective cluster time: {options.set_datetime}")
    if date_line:
        out.append(date_line)
    out += status_text.maintenance_banner(current)
    counts = status_text.counts_line(current)
    if counts:
        out += [counts, ""]
    out += ["Current cluster status:",
            *status_text.render_status(current), ""]
    if run.injected.modifications:
        out += ["Performing Requested Modifications:",
                *(f"  * {step.text()}" for step in run.injected.modifications)]
        if date_line:  # Pacemaker reads the modified CIB again and says so
            out.append(date_line)
        out.append("")
    if options.show_scores:
        out += [*run.transition.scores, ""]
    out += ["Transition Summary:", *run.transition.summary]
    if run.result is None:
        return out
    out += ["", "Executing Cluster Transition:", *run.result.lines]
    if date_line:
        out.append(date_line)
    # crm_simulate shows pending actions (Starting, ...) in the current status only
    revised = status_text.without_pending(_status(run.result.cib, run.given))
    return [*out, "", "Revised Cluster Status:",
            *status_text.render_status(revised)]


# What Pacemaker's simulator reports when actions of the graph can never fire
_TERMINATED = ("Transition failed: terminated", "An invalid transition was produced")


def _unfired(synapses: tuple[Synapse, ...], fired: tuple[Action, ...]) -> list[str]:
    """The actions a simulated graph never fired: they wait on each other, or on an input
    left out of the graph, so the transition cannot complete."""
    done = {action.id for action in fired}
    return [s.action.key for s in synapses if s.action.id not in done]


def _save_artifacts(options: Options, transition: Transition,
                    synapses: tuple[Synapse, ...], cib: etree._Element) -> None:
    if options.save_graph or options.save_dotfile:
        from pengine import graph_xml
    if options.save_graph:
        _write(options.save_graph, graph_xml.to_xml(transition, synapses))
    if options.save_dotfile:
        _write(options.save_dotfile, graph_xml.to_dot(transition, all_actions=options.all_actions))
    if options.save_output:
        _write(options.save_output, cib_text(cib))


def cib_text(cib: etree._Element) -> str:
    """A CIB as crm_simulate saves it: indented by two spaces per level."""
    etree.indent(cib, space="  ")
    return etree.tostring(cib, encoding="unicode") + "\n"


def run_command(given: dict[str, object], live_source: LiveSource | None = None) -> int:
    """Check the command line as a whole (click's or `plain_options`' keyword values), then
    run the command it asks for; `live_source` is what -L/--live-check reads."""
    args = _Args(given)
    if args.text("output_as") not in ("text", "xml"):
        raise UnknownFormat(f"--output-as: unknown output format {args.text('output_as')!r} "
                            "(use text or xml)")
    if args.text("profile_dir"):
        return profile(Path(args.text("profile_dir")), args.number("repeat"),
                       args.text("output_as"), args.text("output_to") or None)
    sources = sum((bool(args.text("xml_file")), args.flag("xml_pipe"), args.flag("live_check")))
    if sources > 1:
        raise UsageError("give only one of -x/--xml-file, -p/--xml-pipe, -L/--live-check")
    in_place = args.flag("in_place")
    if in_place and not args.text("xml_file"):
        raise UsageError("-X/--in-place needs -x/--xml-file")
    injections = Injections(
        quorum=args.text("quorum") or None, watchdog=args.text("watchdog") or None,
        node_up=args.many("node_up"), node_down=args.many("node_down"),
        node_fail=args.many("node_fail"), ticket_grant=args.many("ticket_grant"),
        ticket_revoke=args.many("ticket_revoke"), ticket_standby=args.many("ticket_standby"),
        ticket_activate=args.many("ticket_activate"), op_inject=args.many("op_inject"))
    options = Options(
        args.text("xml_file") or None, args.flag("xml_pipe"), args.flag("live_check"),
        args.flag("run_simulation") or in_place, args.flag("show_scores"), args.flag("quiet"),
        args.text("save_graph") or None, args.text("save_dotfile") or None,
        (args.text("xml_file") if in_place else args.text("save_output")) or None,
        args.text("save_input") or None, args.text("set_datetime") or None,
        args.flag("all_actions"), injections, args.many("op_fail"), args.text("output_as"),
        args.text("output_to") or None, " ".join(["crm_simulate", *sys.argv[1:]]),
        live_source=live_source)
    return run(options)


class _Args:
    """click's keyword arguments, read with their types."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values

    def text(self, name: str) -> str:
        value = self.values.get(name)
        return value if isinstance(value, str) else ""

    def flag(self, name: str) -> bool:
        return self.values.get(name) is True

    def number(self, name: str) -> int:
        value = self.values.get(name)
        return value if isinstance(value, int) else 1

    def many(self, name: str) -> tuple[str, ...]:
        value = self.values.get(name)
        return tuple(str(v) for v in value) if isinstance(value, tuple) else ()


class UnknownFormat(HAError):
    """--output-as names a format crm_simulate does not have (Pacemaker: CRM_EX_NOSUCH)."""

    exit_code = ExitCode.NOSUCH


def profile(directory: Path, repeat: int, output_as: str, output_to: str | None) -> int:
    """-P: schedule each *.xml of `directory` `repeat` times and print the CPU time taken.

    Files are taken in reverse name order, as Pacemaker's profiler walks its sorted list
    from the end; a missing directory prints nothing.
    """
    try:
        files = sorted((p for p in directory.iterdir()
                        if p.suffix == ".xml" and not p.name.startswith(".")), reverse=True)
    except OSError:
        files = []
    timings = []
    for path in files:
        start = time.process_time()
        for _ in range(repeat):
            try:
                schedule(parse_cib(path.read_bytes(), str(path)))
            except (HAError, OSError) as error:
                _echo(f"error: {path}: {error}", err=True)
                break
        timings.append((str(path), time.process_time() - start))
    if output_as == "xml":
        from pengine.simulate_xml import XmlReport

        lines = XmlReport(" ".join(["crm_simulate", *sys.argv[1:]])).timings(timings)
    else:
        lines = ["Timings:", *(f"  * Testing {name} ... {spent:.2f} secs"
                               for name, spent in timings)] if timings else []
    if lines:
        text = "\n".join(lines)
        if output_to in (None, "-"):
            _echo(text)
        else:
            _write(output_to, text + "\n")
    return int(ExitCode.OK)


def main(argv: list[str] | None = None, live_source: LiveSource | None = None) -> NoReturn:
    """Console entry point: click usage errors exit 64, HAError/OSError via `fail`.

    A command line `plain_options` can read runs without loading click.

    Args:
        argv: the arguments (sys.argv's when None).
        live_source: what -L/--live-check reads the CIB text from.
    """
    given = plain_options(sys.argv[1:] if argv is None else argv)
    try:
        if given is None:
            run_click(argv, run_command, live_source)
        else:
            sys.exit(run_command(given, live_source))
    except (HAError, OSError) as error:
        from messaging.command import fail  # loads click: only on the way out with an error

        fail(error)
    sys.exit(int(ExitCode.OK))


def _echo(text: str, err: bool = False) -> None:
    """click.echo for plain text, without loading click."""
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def __getattr__(name: str) -> Any:
    if name == "crm_simulate":  # the click command, for callers that embed it (tests, docs)
        return build_command(run_command)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
