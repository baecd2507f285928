"""crm_mon: show the cluster's status (Pacemaker 2.1.5's options and layout).

A thin shell: read the CIB (crmd.cibaccess: the local cib daemon, or CIB_file's file),
unpack it with the policy engine, hand the result to the text or XML renderer, print. Exit
codes are Pacemaker's: 0 on success, CRM_EX_DISCONNECT (102) without a cib daemon (with
Pacemaker's "Connection to cluster failed" line, or its XML error document), CRM_EX_USAGE
(64) for bad options. Without -1 and on
a terminal it refreshes every --interval seconds (crmd.mon.live).

Start-up: importing click costs about as much CPU as the rest of a one-shot run, so a
command line made only of crm_mon's on/off flags (`crm_mon -1`, `-1rf`, `--output-as=xml`:
what scripts and monitoring run every few seconds) is read by `_plain_flags` and never
loads click; anything else (a value option, help, a mistake) goes through the click
command, which stays the one definition of the options, their defaults and their errors.
"""

from __future__ import annotations

import datetime
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

from messaging.errors import ExitCode, HAError, UsageError

if TYPE_CHECKING:
    import click
    from lxml import etree

    from crmd.mon.text import Display, MonView
    from pengine.api import ResourceStatus
    from stonithd.api import HistoryEntry


def gather() -> MonView:
    """Read the CIB and build the MonView (imports kept local: crm_mon must start fast)."""
    from crmd.cibaccess import read_cib
    from crmd.mon.extras import fence_history

    return build_view(read_cib(), fencing=fence_history())


def build_view(root: etree._Element, fencing: tuple[HistoryEntry, ...] | None = None
               ) -> MonView:
    """The MonView of a CIB already read (crm_mon's and `crm status`'s)."""
    from crmd.mon.extras import tickets
    from crmd.mon.history import (
        FailCountRule,
        node_histories,
        ping_expectations,
    )
    from crmd.mon.text import MonView
    from pengine.api import per_op_fail_counts, status_facts, unpack_status

    # Pacemaker's crm_mon evaluates rules (and expires failures) at the current time.
    status = unpack_status(root, datetime.datetime.now(datetime.UTC), with_bans=True)
    attributes = tuple((str(k), str(v)) for k, v in root.attrib.items())
    return MonView(status=status, cib_attributes=attributes,
                   histories=node_histories(root, FailCountRule(
                       _anonymous_members(status.resources), per_op_fail_counts(root))),
                   facts=status_facts(root, status), tickets=tickets(root),
                   fencing=fencing, last_updated=time.strftime("%a %b %e %H:%M:%S %Y"),
                   expected_scores=tuple((name, rsc, score) for name, (rsc, score)
                                         in ping_expectations(root).items()))


def _anonymous_members(resources: tuple[ResourceStatus, ...],
                       anonymous: bool = False) -> frozenset[str]:
    """Configured ids of the primitives in anonymous clones."""
    found: set[str] = set()
    for rsc in resources:
        if rsc.kind == "primitive":
            if anonymous:
                found.add(rsc.id.split(":")[0])
            continue
        inside = anonymous or (rsc.kind in ("clone", "promotable") and not rsc.unique)
        found |= _anonymous_members(rsc.children, inside)
    return frozenset(found)


def _render(output_as: str, display: Display) -> str:
    from crmd.cibaccess import CibUnavailable

    try:
        view = gather()
    except CibUnavailable as error:
        if error.exit_code != ExitCode.DISCONNECT:
            raise
        raise NotConnected(output_as) from error
    if output_as == "xml":
        from crmd.mon.xml_out import render_xml

        return render_xml(view, display, " ".join(sys.argv))
    from crmd.mon.text import render

    return "\n".join(render(view, display))


class NotConnected(HAError):
    """No cib daemon: printed as Pacemaker's crm_mon reports a cluster it cannot reach."""

    exit_code = ExitCode.DISCONNECT

    def __init__(self, output_as: str) -> None:
        super().__init__("Connection to cluster failed: Connection refused")
        self.output_as = output_as

    def report(self) -> str:
        if self.output_as != "xml":
            return f"crm_mon: {self.message}"
        return xml_error(int(self.exit_code), "Not connected", self.message)


def xml_error(code: int, status: str, message: str) -> str:
    """Pacemaker's XML result document for a failed crm_mon (printed on stdout)."""
    from xml.sax.saxutils import escape, quoteattr

    from crmd.mon.xml_out import API_VERSION

    return "\n".join([
        f'<pacemaker-result api-version="{API_VERSION}" request={quoteattr(" ".join(sys.argv))}>',
        f'  <status code="{code}" message="{status}">', "    <errors>",
        f"      <error>crm_mon: {escape(message)}</error>", "    </errors>", "  </status>",
        "</pacemaker-result>"])


def run(one_shot: bool = False, inactive: bool = False, attributes: bool = False,
        failcounts: bool = False, operations: bool = False, timing: bool = False,
        by_node: bool = False, interval: str = "5", tickets: bool = False,
        fence_level: int = 1, simple: bool = False, output_as: str = "text",
        as_xml: bool = False) -> None:
    """crm_mon itself, options already parsed (by click or `_plain_flags`); the defaults
    are the click command's."""
    from crmd.mon.text import Display

    if simple:
        _simple_status()
        return

    output = "xml" if as_xml else ("text" if output_as == "console" else output_as)
    display = Display(inactive=inactive, attributes=attributes, failcounts=failcounts,
                      operations=operations, timing=timing, by_node=by_node,
                      tickets=tickets, fence_level=fence_level)
    display = _with_sections(display, output, _SECTION_STEPS)
    if one_shot or output == "xml" or not sys.stdout.isatty():
        text = _render(output, display)
        if text:  # --include=none prints nothing at all, not an empty line
            _echo(text)
        return
    from crmd.mon.live import run_live

    run_live(lambda: _render("text", display), _seconds(interval))


def _command() -> click.Command:
    """The click command: crm_mon's options, help text and usage errors."""
    import click

    @click.command(context_settings={"help_option_names": ["-h", "-?", "--help"]})
    @click.option("-1", "--one-shot", is_flag=True,
                  help="Display the cluster status once and exit.")
    @click.option("-r", "--inactive", is_flag=True, help="Display inactive resources.")
    @click.option("-A", "--show-node-attributes", "attributes", is_flag=True,
                  help="Display node attributes.")
    @click.option("-f", "--failcounts", is_flag=True, help="Display resource fail counts.")
    @click.option("-o", "--operations", is_flag=True, help="Display resource operation history.")
    @click.option("-t", "--timing-details", "timing", is_flag=True,
                  help="Display resource operation history with timing details.")
    @click.option("-n", "--group-by-node", "by_node", is_flag=True,
                  help="Group resources by node.")
    @click.option("-i", "--interval", default="5", metavar="SECONDS",
                  help="Update frequency (default 5 seconds).")
    @click.option("-c", "--tickets", is_flag=True, help="Display cluster tickets.")
    @click.option("-m", "--fence-history", "fence_level", type=click.IntRange(0, 3),
                  default=1, metavar="LEVEL",
                  help="Show fence history: 0=off, 1=failures and pending (default), "
                       "2=add successes, 3=full history.")
    @click.option("-s", "--simple-status", "simple", is_flag=True,
                  help="Display the cluster status once as a simple one line output.")
    @click.option("--output-as", type=click.Choice(["text", "xml", "console"]), default="text",
                  help="Output format.")
    @click.option("-X", "--as-xml", is_flag=True, help="(deprecated) like --output-as=xml.")
    def crm_mon(**options: Any) -> None:
        """Provides a summary of cluster's current state (hacluster's crm_mon)."""
        run(**options)

    return crm_mon


# On/off options `_plain_flags` reads without click: short letter -> run()'s parameter.
_SHORT_FLAGS = {"1": "one_shot", "r": "inactive", "A": "attributes", "f": "failcounts",
                "o": "operations", "t": "timing", "n": "by_node", "c": "tickets",
                "s": "simple", "X": "as_xml"}
_LONG_FLAGS = {"--one-shot": "one_shot", "--inactive": "inactive",
               "--show-node-attributes": "attributes", "--failcounts": "failcounts",
               "--operations": "operations", "--timing-details": "timing",
               "--group-by-node": "by_node", "--tickets": "tickets",
               "--simple-status": "simple", "--as-xml": "as_xml"}
_OUTPUT_AS = ("text", "xml", "console")


def _plain_flags(argv: list[str]) -> dict[str, Any] | None:
    """run()'s arguments when `argv` holds only on/off flags (short ones may be grouped, as
    click allows: -1rf) and --output-as=FORMAT; None for anything else, which click reads."""
    options: dict[str, Any] = {}
    for word in argv:
        if word in _LONG_FLAGS:
            options[_LONG_FLAGS[word]] = True
        elif word.startswith("--output-as=") and word.split("=", 1)[1] in _OUTPUT_AS:
            options["output_as"] = word.split("=", 1)[1]
        elif (len(word) > 1 and word[0] == "-" and word[1] != "-"
              and all(letter in _SHORT_FLAGS for letter in word[1:])):
            options.update((_SHORT_FLAGS[letter], True) for letter in word[1:])
        else:
            return None
    return options


def _echo(text: str, err: bool = False) -> None:
    """click.echo for plain text (crm_mon prints no colours), without loading click."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n")
    stream.flush()


def __getattr__(name: str) -> Any:
    if name == "crm_mon":  # the click command, for callers that embed it (tests, docs)
        return _command()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SECTION_STEPS: list[tuple[str, str]] = []  # main() takes --include/--exclude out of argv


def _with_sections(display: Display, output: str, steps: list[tuple[str, str]]) -> Display:
    """Display narrowed by --include/--exclude (none given: the default sections)."""
    if not steps:
        return display
    from dataclasses import replace

    from crmd.mon.sections import ALL, TEXT_DEFAULT, resolve

    if output == "xml":
        return replace(display, sections=resolve(ALL, steps))
    flagged = {name for name in ALL if display.shows(name)}
    return replace(display, sections=resolve(TEXT_DEFAULT | flagged, steps))


def _take_sections(argv: list[str]) -> list[str]:
    """argv without --include/--exclude, which are checked here (a bad section name is a
    usage error; under --output-as=xml Pacemaker reports it as an XML document on stdout)."""
    from crmd.mon.sections import ALL, resolve, split_steps

    try:
        rest, _SECTION_STEPS[:] = split_steps(argv)
        resolve(ALL, _SECTION_STEPS)
    except UsageError as error:
        if not {"--output-as=xml", "-X", "--as-xml"} & set(argv):
            raise
        _echo(xml_error(int(ExitCode.USAGE), "Incorrect usage", error.message))
        sys.exit(int(ExitCode.USAGE))
    return rest


def _simple_status() -> None:
    from crmd.cibaccess import CibUnavailable
    from crmd.mon.simple import WARNING_NOTE, simple_status

    try:
        view = gather()
    except CibUnavailable as error:
        if error.exit_code != ExitCode.DISCONNECT:
            raise
        raise NotConnected("text") from error
    line, warned = simple_status(view)
    _echo(line)
    if warned:
        _echo(WARNING_NOTE, err=True)


def _seconds(text: str) -> float:
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        raise UsageError(f"--interval: {text!r} is not a number of seconds") from None
    if value <= 0:
        raise UsageError("--interval must be positive")
    return value


def main(argv: list[str] | None = None) -> NoReturn:
    """Console entry point: usage errors exit 64, HAError/OSError map through the table."""
    console_script = argv is None
    try:
        argv = _take_sections(sys.argv[1:] if argv is None else argv)
        options = _plain_flags(argv)
        if options is None:
            _run_click(argv)
        else:
            run(**options)
    except NotConnected as error:
        _echo(error.report(), err=error.output_as != "xml")
        sys.exit(int(error.exit_code))
    except (HAError, OSError) as error:
        from messaging.command import fail  # loads click: only on the way out with an error

        fail(error)
    if console_script:  # nothing runs after this process's output
        from messaging.tool_exit import exit_now

        exit_now(int(ExitCode.OK))
    sys.exit(int(ExitCode.OK))


def _run_click(argv: list[str]) -> None:
    import click

    try:
        _command().main(args=argv, prog_name="crm_mon", standalone_mode=False)
    except click.exceptions.UsageError as error:
        click.echo(f"crm_mon: {error.format_message()}", err=True)
        sys.exit(int(ExitCode.USAGE))
    except click.exceptions.Abort:
        sys.exit(int(ExitCode.ERROR))
