"""`attrd_updater`: update, query and delete transient node attributes through the local
attribute manager (thin shell over `cib.attrd_api.AttrdClient`).

Options, messages and exit codes are Pacemaker 2.1.5's: one command (-U -B -Y -Q -D -R; the
last given wins, query when none), -n required except for -R, -N for another node, -A for
every node's value (query only), -d dampening, -p private, -s and -l accepted and ignored
(Pacemaker's attrd ignores -l too; sets are not supported here), --output-as=xml.
An unreachable attrd exits 102; a query of an attribute attrd does not know exits 105.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NoReturn

from messaging.help_format import HelpFormatter

if TYPE_CHECKING:
    from cib.attrd_api import AttrdClient, AttrdQuery, AttrdRefresh, AttrdUpdate

_STATUS_TEXT = {0: "OK", 64: "Incorrect usage", 102: "Not connected", 105: "No such object",
                124: "Timeout occurred"}
_COMMANDS = {"U": "update", "B": "update-both", "Y": "update-delay", "Q": "query",
             "D": "delete", "R": "refresh"}


def quoteattr(text: str) -> str:
    """An XML attribute value in double quotes, escaped as libxml2 writes it (importing
    xml.sax.saxutils would cost 35 ms of start-up)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char, entity in (('"', "&quot;"), ("\n", "&#10;"), ("\t", "&#9;"), ("\r", "&#13;")):
        escaped = escaped.replace(char, entity)
    return f'"{escaped}"'


class _Command(argparse.Action):
    """-U/-B/-Y/-Q/-D/-R: the last command given wins, as with Pacemaker's option parser."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.command = self.const
        if isinstance(values, str):
            namespace.value = values


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Pacemaker's one line for a bad command line (exit 64)."""
        unknown = message.partition("unrecognized arguments: ")[2]
        text = f"Unknown option {unknown.split()[0]}" if unknown else message
        print(f"{self.prog}: {text}", file=sys.stderr)
        raise SystemExit(64)


# crm_attribute's parser too: a bad command line exits CRM_EX_USAGE (64), not argparse's 2
UsageParser = _Parser


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="attrd_updater", add_help=False,
        description="query and update node attributes in the attribute manager",
        formatter_class=HelpFormatter)
    parser.add_argument("-h", "--help", "--help-all", action="help")
    parser.add_argument("-n", "--name")
    for letter, long_name in (("U", "update"), ("B", "update-both")):
        parser.add_argument(f"-{letter}", f"--{long_name}", action=_Command, const=letter,
                            metavar="VALUE")
    for letter, long_name in (("Y", "update-delay"), ("Q", "query"), ("D", "delete"),
                              ("R", "refresh")):
        parser.add_argument(f"-{letter}", f"--{long_name}", action=_Command, const=letter,
                            nargs=0)
    parser.add_argument("-d", "--delay", metavar="SECONDS")
    parser.add_argument("-s", "--set")
    parser.add_argument("-N", "--node")
    parser.add_argument("-A", "--all", action="store_true")
    parser.add_argument("-l", "--lifetime")
    parser.add_argument("-p", "--private", action="store_true")
    parser.add_argument("-V", "--verbose", action="count", default=0)
    parser.add_argument("--output-as", choices=("text", "xml"), default="text")
    parser.set_defaults(command="Q", value=None)
    return parser


class _Out:
    """What attrd_updater prints: text lines or Pacemaker's <pacemaker-result> document."""

    def __init__(self, xml: bool, argv: list[str]) -> None:
        self.xml, self.argv = xml, argv
        self.items: list[str] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def attribute(self, name: str, node: str, value: str) -> None:
        if self.xml:
            self.items.append(f"  <attribute name={quoteattr(name)} value={quoteattr(value)} "
                              f"host={quoteattr(node)}/>")
        else:
            print(f'name="{name}" host="{node}" value="{value}"')

    def error(self, text: str) -> None:
        self.errors.append(f"attrd_updater: {text}")

    def finish(self, code: int) -> int:
        if not self.xml:
            for text in self.errors:
                print(text, file=sys.stderr)
            for text in self.warnings:  # Pacemaker prints this one on stdout
                print(text)
            return code
        print(f'<pacemaker-result api-version="2.25" request={quoteattr(" ".join(self.argv))}>')
        if self.items:
            print("\n".join(self.items))
        status = f'  <status code="{code}" message="{_STATUS_TEXT.get(code, "Error")}"'
        if not self.errors:
            print(status + "/>")
        else:
            print(status + ">\n    <errors>")
            for text in self.errors:
                escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                print(f"      <error>{escaped}</error>")
            print("    </errors>\n  </status>")
        print("</pacemaker-result>")
        return code


def _dampening(text: str | None) -> float | None:
    """-d in seconds (or with Pacemaker's ms/s/m/h units); unreadable counts as not given,
    as Pacemaker's attrd ignores an invalid dampening."""
    if text is None:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
    stripped = text.strip().lower()
    unit = next((u for u in sorted(scale, key=len, reverse=True) if stripped.endswith(u)), "")
    try:
        return float(stripped.removesuffix(unit) if unit else stripped) * scale.get(unit, 1.0)
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Run attrd_updater; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        options = _parser().parse_args(args)
    except SystemExit as stop:  # argparse's usage errors are Pacemaker's 64 (help is 0)
        return 0 if stop.code == 0 else 64
    out = _Out(options.output_as == "xml", [sys.argv[0], *args])
    if options.command in "BY" and options.delay is None:
        out.warnings.append(f"Warning: '{options.command}' command given without required "
                            "--delay")
    if options.name is None and options.command != "R":
        out.error("Command requires --name argument")
        return out.finish(64)
    return out.finish(_run(options, out))


def _connect(out: _Out, options: argparse.Namespace) -> AttrdClient | None:
    from cib.attrd_api import AttrdClient
    from messaging.errors import TransportError
    from messaging.state_dir import default_state_dir

    try:
        return AttrdClient(default_state_dir())
    except TransportError:
        if options.command == "Q":
            out.error("Could not connect to attrd: Connection refused")
        else:
            out.error(f"Could not update {_shown(options.name)}={_shown(options.value)}: "
                      "Connection refused (111)")
        return None


def _shown(text: str | None) -> str:
    return "(null)" if text is None else text


def _request(options: argparse.Namespace) -> AttrdUpdate | AttrdQuery | AttrdRefresh:
    from cib.attrd_api import AttrdQuery, AttrdRefresh, AttrdUpdate

    node, delay = options.node or "", _dampening(options.delay)
    command = options.command
    if command == "Q":
        return AttrdQuery(options.name, node, options.all)
    if command == "R":
        return AttrdRefresh()
    if command == "D":
        return AttrdUpdate(options.name, None, node)
    return AttrdUpdate(options.name, options.value, node,
                       None if command == "U" else delay, options.private, command == "Y",
                       options.set)


def _run(options: argparse.Namespace, out: _Out) -> int:
    from cib.attrd_api import AttrdValues
    from messaging.errors import HAError, NotFoundError, TransportError

    client = _connect(out, options)
    if client is None:
        return 102
    try:
        reply = client.request(_request(options))
    except NotFoundError:
        if options.command == "Q":
            out.error(f"Could not query value of {options.name}: No such device or address (6)")
        else:
            out.error(f"Could not update {options.name}={_shown(options.value)}: "
                      "No such device or address (6)")
        return 105
    except TransportError as error:
        out.error(f"Could not {'query value of' if options.command == 'Q' else 'update'} "
                  f"{_shown(options.name)}: {error}")
        return int(error.exit_code)
    except HAError as error:
        out.error(str(error))
        return int(error.exit_code)
    finally:
        client.close()
    if isinstance(reply, AttrdValues):
        for node, value in reply.values:
            out.attribute(reply.name, node, value)
    return 0
