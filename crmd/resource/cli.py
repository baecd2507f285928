"""crm_resource: Pacemaker's resource tool, on the live CIB or a CIB file (CIB_file=PATH).

Thin shell: parse options (the click command in crmd.resource.command; the plain
read-only queries by `_plain_read`, without click, so they start fast), read the CIB
(crmd.cibaccess: the cib daemon, or the file), call crmd.resource.query or .edit, commit
the change when an edit made one, print. Errors
print Pacemaker's two lines ("crm_resource: <what>" and "Error performing operation: <exit
code text>") and exit with the CRM_EX code of the error (NotFoundError 105, UsageError 64;
no cib daemon: "Could not connect to the CIB: Transport endpoint is not connected", 102).
--force-start/-stop/-check run the agent once through the lrmd's executor code, without the
cluster.
"""

from __future__ import annotations

import datetime
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from messaging.errors import ExitCode, HAError, UsageError, exit_code_for

if TYPE_CHECKING:
    from lxml import etree

    from crmd.cibaccess import CibConnection
    from crmd.resource.edit import Outcome

_ERROR_TEXT = {ExitCode.NOSUCH: "No such object", ExitCode.USAGE: "Incorrect usage",
               ExitCode.INVALID_PARAM: "Invalid parameter", ExitCode.DISCONNECT:
               "Not connected", ExitCode.NOINPUT: "Cannot open input",
               ExitCode.EXISTS: "Requested item already exists",
               ExitCode.MULTIPLE: "Multiple items match request",
               ExitCode.CONFIG: "Invalid configuration", ExitCode.ERROR: "Error occurred"}
_AGENT_QUERIES = ("list_standards", "list_ocf_providers", "list_ocf_alternatives",
                  "list_agents", "show_metadata")
ACTIONS = (*_AGENT_QUERIES, "list", "list_raw", "locate", "constraints", "why", "move",
            "ban", "clear", "cleanup", "refresh", "set_parameter", "get_parameter",
            "delete_parameter", "force_start", "force_stop", "force_check")


def _emit(out: tuple[str, ...], err: tuple[str, ...]) -> None:
    """Print as click.echo does for plain text (crm_resource prints no colours)."""
    for line in out:
        sys.stdout.write(f"{line}\n")
    sys.stdout.flush()
    for line in err:
        sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


def _need(rsc: str | None, action: str) -> str:
    if not rsc:
        raise UsageError(f"Must supply a resource id with -r for --{action.replace('_', '-')}")
    return rsc


def _agent_query(action: str, argument: object) -> int:
    """The agent questions (no CIB needed): crmd.resource.agents."""
    from crmd.resource import agents

    if action == "show_metadata":
        sys.stdout.write(agents.show_metadata(str(argument)))
        sys.stdout.flush()
        return 0
    lines = {"list_standards": lambda: agents.list_standards(),
             "list_ocf_providers": lambda: agents.list_ocf_providers(),
             "list_ocf_alternatives": lambda: agents.list_ocf_alternatives(str(argument)),
             "list_agents": lambda: agents.list_agents(str(argument))}[action]()
    _emit(tuple(lines), ())
    return 0


def run(action: str, options: dict[str, object]) -> int:
    """Carry out one crm_resource action; returns the exit code."""
    from crmd.cibaccess import connect

    if action in _AGENT_QUERIES:
        return _agent_query(action, options[action])

    connection = connect()
    try:
        return _run_on(connection, action, options)
    finally:
        connection.close()


def _run_on(connection: CibConnection, action: str, options: dict[str, object]) -> int:
    from crmd.resource import edit, query
    from pengine.api import unpack_status

    given_rsc, given_node = options.get("resource"), options.get("node")
    rsc = given_rsc if isinstance(given_rsc, str) else None
    node = given_node if isinstance(given_node, str) else None
    root = connection.read()
    if action.startswith("force_"):
        from crmd.resource.force import force_action

        return force_action(root, _need(rsc, action), action.removeprefix("force_"))
    if action == "list_raw":
        _emit(query.list_raw(unpack_status(root)).out, ())
        return 0
    if action in ("get_parameter", "set_parameter", "delete_parameter"):
        return _parameter(connection, root, _need(rsc, action), action, options)
    outcome: Outcome
    if action in ("move", "ban", "clear", "constraints"):
        edit.check_target(unpack_status(root), _need(rsc, action), action)
    if action in ("clear", "cleanup", "refresh"):
        outcome = _edit(action, root, rsc, node, options)
    else:
        status = unpack_status(root)
        if action == "list":
            answer = query.list_resources(status)
        elif action == "locate":
            answer = query.locate(status, _need(rsc, action))
        elif action == "why":
            answer = query.why(root, status, rsc, node)
        elif action == "constraints":
            answer = query.constraints(root, _need(rsc, action))
        if action not in ("move", "ban"):
            _emit(answer.out, answer.err)
            return 0
        mover = edit.move if action == "move" else edit.ban
        lifetime = options.get("lifetime")
        outcome = mover(root, status, _need(rsc, action), node,
                        lifetime if isinstance(lifetime, str) else None,
                        datetime.datetime.now(datetime.UTC))
    if outcome.changed:
        connection.commit(root)
    _emit(outcome.out, outcome.err)
    return 0


def _parameter(connection: CibConnection, root: etree._Element, rsc: str, action: str,
               options: dict[str, object]) -> int:
    """-g, and -p/-d: one CIB write per resource Pacemaker picks (edit.parameter_owners),
    each printed after it was written, as Pacemaker's crm_resource does."""
    from crmd.resource import attributes, edit

    meta, utilization = bool(options["meta"]), bool(options["utilization"])
    name, force, value = str(options["name"]), bool(options.get("force")), options.get("value")
    if action == "get_parameter":
        from pengine.api import unpack_status

        answer = attributes.get_parameter(root, unpack_status(root), rsc, name, meta,
                                          utilization)
        _emit(answer.out, answer.err)
        return 0
    if action == "set_parameter" and not isinstance(value, str):
        raise UsageError("--set-parameter needs -v/--parameter-value")
    if not force:
        _emit(attributes.matching_listing(root, rsc, name), ())
    owners, notes = edit.parameter_owners(root, rsc, name, meta, utilization, force,
                                          delete=action == "delete_parameter")
    _emit(notes.out, ())
    for owner in owners:
        if isinstance(value, str) and action == "set_parameter":
            outcome = edit.set_parameter(root, owner, name, value, meta, utilization, force)
        else:
            outcome = edit.delete_parameter(root, owner, name, meta, utilization)
        if outcome.changed:
            connection.commit(root)
        _emit(outcome.out, outcome.err)
    return 0


def _edit(action: str, root: etree._Element, rsc: str | None, node: str | None,
          options: dict[str, object]) -> Outcome:
    from crmd.resource import edit

    if action == "clear":
        return edit.clear(root, _need(rsc, action), node)
    return edit.cleanup(root, rsc, node, refresh=action == "refresh")


def main(argv: list[str] | None = None) -> NoReturn:
    try:
        _main(argv)
    except SystemExit as done:
        code = 0 if done.code is None else done.code
        if argv is None and isinstance(code, int):
            # the console script: nothing runs after this process's output
            from messaging.tool_exit import exit_now

            exit_now(code)
        raise


def _main(argv: list[str] | None) -> NoReturn:
    plain = _plain_read(sys.argv[1:] if argv is None else argv)
    try:
        if plain is not None:
            sys.exit(run(*plain))
        _run_click(argv)
    except (HAError, OSError) as error:
        _fail(error)
    sys.exit(int(ExitCode.OK))


def _run_click(argv: list[str] | None) -> None:
    import click

    from crmd.resource.command import crm_resource

    try:
        crm_resource.main(args=argv, prog_name="crm_resource", standalone_mode=False)
    except click.exceptions.UsageError as error:
        _fail(UsageError(error.format_message()))
    except click.exceptions.Abort:
        sys.exit(int(ExitCode.ERROR))


# The read-only queries `_plain_read` takes without click: flag -> run()'s action.
_PLAIN_ACTIONS = {"-L": "list", "--list": "list", "-l": "list_raw", "--list-raw": "list_raw",
                  "-W": "locate", "--locate": "locate", "-a": "constraints",
                  "--constraints": "constraints", "-Y": "why", "--why": "why"}
_PLAIN_VALUES = {"-r": "resource", "--resource": "resource", "-N": "node", "--node": "node"}


def _plain_read(argv: list[str]) -> tuple[str, dict[str, object]] | None:
    """(action, options) for run() when `argv` is one read-only query flag with at most -r
    ID and -N NAME, each spelled out and given a value that is no option; None for anything
    else, which the click command reads (it stays the one definition of every option)."""
    actions: list[str] = []
    options: dict[str, object] = {}
    words = iter(argv)
    for word in words:
        if word in _PLAIN_ACTIONS:
            actions.append(_PLAIN_ACTIONS[word])
        elif word in _PLAIN_VALUES and _PLAIN_VALUES[word] not in options:
            value = next(words, None)
            if value is None or value.startswith("-") or not value:
                return None
            options[_PLAIN_VALUES[word]] = value
        else:
            return None
    return (actions[0], options) if len(actions) == 1 else None


def __getattr__(name: str) -> Any:
    if name == "crm_resource":  # the click command, for callers that embed it (tests, docs)
        from crmd.resource.command import crm_resource

        return crm_resource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fail(error: BaseException) -> NoReturn:
    code = exit_code_for(error)
    lines = [f"crm_resource: {error}"]
    if code != ExitCode.USAGE:  # usage errors explain themselves, as in Pacemaker
        lines.append(f"Error performing operation: {_ERROR_TEXT.get(code, code.name)}")
    _emit((), tuple(lines))
    sys.exit(int(code))
