"""cibadmin's two backends: file mode (CIB_file=PATH) and live mode (the local cib daemon).

Both turn the command line into one `Request` (`request_from`) and print the result the
same way (`_print`); only where the operation runs differs. Live mode sends the request
through `cib.api.CibClient` to the daemon whose sockets are in the state directory
(`messaging.config.default_state_dir`) and exits with the daemon's code.

File mode: load the file, run one operation, write it back.

Invariants: the file is read once and written at most once: after every successful write
operation, even one that changed nothing (Pacemaker's file backend does the same),
atomically (cib.store.write_atomically), pretty-printed as Pacemaker writes it; a failed
operation leaves the file byte for byte as it was. Loading adds an empty <status> when the
file has none and refuses a CIB that fails its schema, as Pacemaker's file backend does.
"""

from __future__ import annotations

import sys

from cib.errors import InvalidArgument, NoSuchObject, SchemaViolation
from cib.request import Op, Outcome, Request, WireRequest
from messaging.errors import HAError, ValidationError

TYPE_CHECKING = False  # typing.TYPE_CHECKING: the live path loads neither lxml nor the ops
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from types import SimpleNamespace

    from cib.api import CibClient
    from cib.xmlio import Element
    from messaging.cib_contract import CibReply

    # a command line's options: argparse's, or cib.cli's own parse of a plain command line
    Options = argparse.Namespace | SimpleNamespace

_OPS = {
    "query": Op.QUERY, "create": Op.CREATE, "modify": Op.MODIFY, "replace": Op.REPLACE,
    "delete": Op.DELETE, "delete-all": Op.DELETE, "erase": Op.ERASE, "bump": Op.BUMP,
    "upgrade": Op.UPGRADE, "patch": Op.PATCH,
}
_NEEDS_DATA = {Op.CREATE, Op.MODIFY, Op.REPLACE}


def load(path: str) -> Element:
    """The CIB in `path`, with a <status> section, validated against its schema."""
    from cib.ops import schema_validator
    from cib.xmlio import parse

    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise NoSuchObject(f"Could not connect to the CIB: {path} does not exist") from None
    except OSError as error:
        raise NoSuchObject(f"Could not connect to the CIB: {error}") from None
    try:
        cib = parse(text, path)
    except ValidationError as error:
        raise SchemaViolation(f"Could not connect to the CIB: {error.message}") from None
    if cib.find("status") is None:
        cib.append(parse("<status/>"))
    try:
        schema_validator(cib)
    except SchemaViolation as error:
        raise SchemaViolation(f"Could not connect to the CIB: {path} does not validate "
                              f"against its schema ({error.message})", error.reports) from None
    return cib


def request_from(options: Options, data: Element | None) -> Request:
    """The Request a cibadmin command line asks for."""
    op = _OPS[options.command]
    if data is None and (op in _NEEDS_DATA or (op is Op.DELETE and options.xpath is None)):
        raise InvalidArgument("this command needs XML input (-X, -x or -p)")
    return Request(op, data=data, scope=options.scope, xpath=options.xpath,
                   allow_create=options.allow_create, no_children=options.no_children,
                   node_path=options.node_path, multiple=options.command == "delete-all",
                   force=options.force)


def run_on_file(path: str, options: Options, data: Element | None) -> int:
    """Run the command line's operation on the CIB file; returns the exit code."""
    from cib.ops import perform
    from cib.xmlio import element_text

    if options.command == "patch" and data is None:
        return 0
    try:
        cib = load(path)
    except HAError as error:
        print(f"{error.message}\nInit failed, could not perform requested operations",
              file=sys.stderr)
        return int(error.exit_code)
    request = request_from(options, data)
    outcome = perform(cib, request)
    _print(outcome, options)
    if request.op is not Op.QUERY:
        from pathlib import Path

        from cib.store import write_atomically

        write_atomically(Path(path).absolute(), element_text(outcome.cib).encode())
    return 0


def run_live(options: Options, data: Element | None) -> int:
    """Run the command line's operation through the local cib daemon; returns the exit code."""
    if options.command == "patch" and data is None:
        return 0
    request = request_from(options, data)
    return _ask_daemon(options, lambda client: client.perform(request))


def _ask_daemon(options: Options, ask: Callable[[CibClient], CibReply]) -> int:
    from cib.api import CibClient
    from messaging.state_dir import default_state_dir

    timeout = float(options.timeout) if options.timeout else 30.0
    try:
        with CibClient(default_state_dir(), timeout=timeout, name="cibadmin") as client:
            reply = ask(client)
    except HAError as error:
        print("Could not connect to the CIB: Transport endpoint is not connected\n"
              f"Init failed, could not perform requested operations\n  ({error.message})",
              file=sys.stderr)
        return int(error.exit_code)
    if reply.exit_code != 0:
        if reply.output is not None:
            sys.stdout.write(reply.output)
        print(f"Call failed: {reply.reason or reply.message}\n  {reply.message}",
              file=sys.stderr)
        return reply.exit_code
    _print_text(reply.output, reply.paths)
    return 0


def run_live_text(options: Options, text: str | None) -> int:
    """`run_live` for XML input given as well-formed text (or none): the request leaves as
    text, so the command builds no tree (the daemon parses it as `run_live` would have)."""
    op = _OPS[options.command]
    if options.command == "patch" and text is None:
        return 0
    if text is None and (op in _NEEDS_DATA or (op is Op.DELETE and options.xpath is None)):
        raise InvalidArgument("this command needs XML input (-X, -x or -p)")
    wire = WireRequest(op.value, text, options.scope, options.xpath, options.allow_create,
                       options.command == "delete-all", options.force)
    return _ask_daemon(options, lambda client: client.perform_wire(
        wire, options.no_children, options.node_path))


def _print(outcome: Outcome, options: Options) -> None:
    from cib.xmlio import element_text

    output = element_text(outcome.output) if outcome.output is not None else None
    _print_text(output, outcome.paths)


def _print_text(output: str | None, paths: tuple[str, ...]) -> None:
    if paths:
        sys.stdout.write("".join(f"{path}\n" for path in paths))
    elif output is not None:
        sys.stdout.write(output)
