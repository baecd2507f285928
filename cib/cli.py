"""`cibadmin`: query and edit the CIB, option for option like Pacemaker's (thin shell).

With CIB_file=PATH the command works on that file with no cluster, exactly as Pacemaker's
cibadmin does; without it, it asks the local cib daemon (`cib.api.CibClient`), and exits
102 like Pacemaker's when none is running. ACLs are out of scope: -U and -S are accepted
and ignored. Exit codes and the `Call failed: <reason>` texts are Pacemaker's; our detail
follows on the next line.
Heavy modules are imported only by the commands that need them, so the command starts fast.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)

if TYPE_CHECKING:
    import argparse

    from cib.file_mode import Options
    from cib.xmlio import Element

_EPILOG = ("Pacemaker's ACLs are not supported (-U and -S are ignored): members of group "
           "haclient (the cib socket's group, mode 0660) may query; changes are taken from "
           "root and hacluster only (others get exit 4, Permission denied). "
           "Set CIB_file=PATH to work on a CIB file instead of the cluster.")
_COMMANDS = {
    "-u": ("--upgrade", "upgrade", "Upgrade the configuration to the latest syntax"),
    "-Q": ("--query", "query", "Query the contents of the CIB"),
    "-E": ("--erase", "erase", "Erase the contents of the whole CIB"),
    "-B": ("--bump", "bump", "Increase the CIB's epoch value by 1"),
    "-C": ("--create", "create", "Create an object in the CIB (fails if it exists)"),
    "-M": ("--modify", "modify", "Find an object anywhere in the CIB and update it"),
    "-P": ("--patch", "patch", "Apply an XML diff (see crm_diff)"),
    "-R": ("--replace", "replace", "Recursively replace an object in the CIB"),
    "-D": ("--delete", "delete", "Delete the first object matching the element and all its "
           "attributes"),
    "-d": ("--delete-all", "delete-all", "With --xpath, delete every match"),
    "-5": ("--md5-sum", "md5", "Calculate the on-disk CIB digest"),
    "-6": ("--md5-sum-versioned", "md5v", "Calculate an on-the-wire versioned CIB digest"),
}
# The options after the commands, in --help's order: (short, long, dest, takes a value, help).
_OPTIONS: tuple[tuple[str, str, str, bool, str | None], ...] = (
    ("-f", "--force", "force", False, None),
    ("-t", "--timeout", "timeout", True, "Seconds to wait (ignored in file mode)"),
    ("-U", "--user", "user", True, "(ignored: no ACLs)"),
    ("-s", "--sync-call", "sync_call", False, None),
    ("-l", "--local", "local", False, None),
    ("-c", "--allow-create", "allow_create", False, None),
    ("-n", "--no-children", "no_children", False, None),
    ("-X", "--xml-text", "xml_text", True, None),
    ("-x", "--xml-file", "xml_file", True, None),
    ("-p", "--xml-pipe", "xml_pipe", False, None),
    ("-o", "--scope", "scope", True, None),
    ("-A", "--xpath", "xpath", True, None),
    ("-e", "--node-path", "node_path", False, None),
    ("-N", "--node", "node", True, None),
)


def _parser() -> argparse.ArgumentParser:
    import argparse

    from messaging.help_format import HelpFormatter

    parser = argparse.ArgumentParser(prog="cibadmin", add_help=False, epilog=_EPILOG,
                                     description="Query and edit the Pacemaker configuration",
                                     formatter_class=HelpFormatter)
    parser.add_argument("-?", "--help", action="help", help="This text")
    parser.add_argument("-$", "--version", action="version", version="cibadmin (hacluster)")
    parser.add_argument("-V", "--verbose", action="count", default=0)
    for short, (long, name, text) in _COMMANDS.items():
        parser.add_argument(short, long, dest="command", action="store_const", const=name,
                            help=text)
    parser.add_argument("-a", "--empty", dest="empty", nargs="?", const="pacemaker-3.9",
                        help="Output an empty CIB (optionally for a validate-with schema)")
    parser.add_argument("-S", "--show-access", nargs="?", const="auto", help="(ignored: no ACLs)")
    for short, long, dest, valued, option_help in _OPTIONS:
        if valued:
            parser.add_argument(short, long, dest=dest, help=option_help)
        else:
            parser.add_argument(short, long, dest=dest, action="store_true", help=option_help)
    return parser


def _plain_options(args: list[str]) -> Options | None:
    """The options argparse would give for `args` when every word is one of the options
    spelled out whole and each value a separate word not starting with "-" (how scripts
    and the tools call cibadmin); None for anything else, which argparse then decides
    (abbreviations, -Ql, --opt=value, optional values, help, errors). Why: importing
    argparse (with gettext and re) was about a quarter of a live cibadmin's start."""
    from types import SimpleNamespace

    values: dict[str, object] = {"command": None, "empty": None, "show_access": None}
    words: dict[str, tuple[str, object]] = {}  # option word -> (dest, const or _VALUE)
    for short, (long, name, _) in _COMMANDS.items():
        words[short] = words[long] = ("command", name)
    for short, long, dest, valued, _ in _OPTIONS:
        values[dest] = None if valued else False
        words[short] = words[long] = (dest, _VALUE if valued else True)
    position, verbose = 0, 0
    while position < len(args):
        word = args[position]
        if word in ("-V", "--verbose"):
            verbose += 1
        elif word in words:
            dest, const = words[word]
            if const is _VALUE:
                position += 1
                if position == len(args) or args[position].startswith("-"):
                    return None
                const = args[position]
            values[dest] = const
        else:
            return None
        position += 1
    return SimpleNamespace(**values, verbose=verbose)


_VALUE = object()  # in _plain_options' table: the option takes the next word as its value


def main(argv: list[str] | None = None) -> int:
    """Run cibadmin; returns the exit code (also the console script's entry point)."""
    args = argv if argv is not None else sys.argv[1:]
    options = _plain_options(args) or _parser().parse_args(args)
    try:
        code = _run(options)
    except BrokenPipeError:
        code = 0
    if argv is None:  # the console script: nothing runs after this process's output
        from messaging.tool_exit import exit_now

        exit_now(code)
    return code


def _run(options: Options) -> int:
    from messaging.errors import HAError

    if options.empty is not None and options.command is None:
        return _print_empty(options.empty)
    if options.command is None:
        _parser().print_usage(sys.stderr)
        return 64
    try:
        if _live(options):
            text = _well_formed_text(options)
            if text is not None or not _has_input(options):
                from cib.file_mode import run_live_text

                return run_live_text(options, text)
        data = _read_input(options)
        if options.command in ("md5", "md5v"):
            return _digest(options.command, data)
        return _operate(options, data)
    except HAError as error:
        return _fail(error)


def _live(options: Options) -> bool:
    return not os.environ.get("CIB_file") and options.command not in ("md5", "md5v")  # noqa: SIM112


def _has_input(options: Options) -> bool:
    return options.xml_text is not None or options.xml_file is not None or options.xml_pipe


def _well_formed_text(options: Options) -> str | None:
    """The XML input as text when it is well-formed (expat, in C: the live path then sends
    it as it is, the daemon parses it with Pacemaker's parser, and this command never
    loads lxml); None otherwise, and the input is read again by `_read_input`, whose
    recovering parser decides what it means or how it fails, as before."""
    import xml.parsers.expat

    if options.xml_text is not None:
        text = str(options.xml_text)
    elif options.xml_file is not None:
        try:
            with open(options.xml_file, "rb") as handle:
                text = handle.read().decode()
        except (OSError, UnicodeDecodeError):
            return None
    else:
        return None  # stdin cannot be read twice: -p keeps the lxml path
    try:
        xml.parsers.expat.ParserCreate().Parse(text, True)
    except xml.parsers.expat.ExpatError:
        return None
    return text


def _fail(error: Exception) -> int:
    from cib.errors import reason_of
    from cib.xmlio import element_text
    from messaging.errors import HAError, exit_code_for

    output = getattr(error, "output", None)
    if output is not None:
        sys.stdout.write(element_text(output))
    if getattr(error, "bad_input", False):
        print(error, file=sys.stderr)
    elif isinstance(error, HAError):
        print(f"Call failed: {reason_of(error)}\n  {error}", file=sys.stderr)
    return int(exit_code_for(error))


def _print_empty(schema: str) -> int:
    from cib.model import empty_cib
    from cib.xmlio import element_text

    sys.stdout.write(element_text(empty_cib(schema)))
    return 0


def _read_input(options: Options) -> Element | None:
    from cib.xmlio import parse
    from messaging.errors import ValidationError

    if options.xml_text is not None:
        text, source = options.xml_text.encode(), "input string"
    elif options.xml_file is not None:
        source = options.xml_file
        try:
            with open(options.xml_file, "rb") as handle:
                text = handle.read()
        except OSError as error:
            raise _bad_input(f"Couldn't parse input from {source}. ({error.strerror})") from None
    elif options.xml_pipe:
        text, source = sys.stdin.buffer.read(), "stdin"
    else:
        return None
    try:
        return parse(text, source)
    except ValidationError as error:
        raise _bad_input(f"{error.message.rstrip('.')}.") from None


def _bad_input(message: str) -> Exception:
    from messaging.errors import ValidationError

    error = ValidationError(message)
    setattr(error, "bad_input", True)  # noqa: B010  printed as is, without "Call failed"
    return error


def _digest(command: str, data: Element | None) -> int:
    from cib.xmlio import on_disk_digest, versioned_digest

    if data is None:
        print("Please supply XML to process with -X, -x or -p", file=sys.stderr)
        return 64
    if command == "md5":
        print(on_disk_digest(data))
    else:
        print(versioned_digest(data, data.get("crm_feature_set")))
    return 0


def _operate(options: Options, data: Element | None) -> int:
    from cib.file_mode import run_live, run_on_file

    path = os.environ.get("CIB_file")  # noqa: SIM112  Pacemaker's name
    if not path:
        return run_live(options, data)
    return run_on_file(path, options, data)
