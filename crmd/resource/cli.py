"""crm_resource: Pacemaker's resource tool, on the live CIB or a CIB file (CIB_file=PATH).

Thin shell: parse options, read the CIB (crmd.cibaccess: the cib daemon, or the file),
call crmd.resource.query or .edit, commit the change when an edit made one, print. Errors
print Pacemaker's two lines ("crm_resource: <what>" and "Error performing operation: <exit
code text>") and exit with the CRM_EX code of the error (NotFoundError 105, UsageError 64;
no cib daemon: "Could not connect to the CIB: Transport endpoint is not connected", 102).
--force-start/-stop/-check run the agent once through the lrmd's executor code, without the
cluster.
"""

from __future__ import annotations

import datetime
import sys
from typing import TYPE_CHECKING, NoReturn

import click

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
_ACTIONS = (*_AGENT_QUERIES, "list", "list_raw", "locate", "constraints", "why", "move",
            "ban", "clear", "cleanup", "refresh", "set_parameter", "get_parameter",
            "delete_parameter", "force_start", "force_stop", "force_check")


def _emit(out: tuple[str, ...], err: tuple[str, ...]) -> None:
    for line in out:
        click.echo(line)
    for line in err:
        click.echo(line, err=True)


def _need(rsc: str | None, action: str) -> str:
    if not rsc:
        raise UsageError(f"Must supply a resource id with -r for --{action.replace('_', '-')}")
    return rsc


def _agent_query(action: str, argument: object) -> int:
    """The agent questions (no CIB needed): crmd.resource.agents."""
    from crmd.resource import agents

    if action == "show_metadata":
        click.echo(agents.show_metadata(str(argument)), nl=False)
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
    if action == "get_parameter":
        answer = query.get_parameter(root, _need(rsc, action), str(options["name"]),
                                     bool(options["meta"]), bool(options["utilization"]))
        _emit(answer.out, answer.err)
        return 0
    outcome: Outcome
    if action in ("move", "ban", "clear", "constraints"):
        edit.check_target(unpack_status(root), _need(rsc, action), action)
    if action in ("set_parameter", "delete_parameter", "clear", "cleanup", "refresh"):
        outcome = _edit(action, root, rsc, node, options)
    else:
        status = unpack_status(root)
        if action == "list":
            answer = query.list_resources(status)
        elif action == "locate":
            answer = query.locate(status, _need(rsc, action))
        elif action == "why":
            answer = query.why(status, rsc, node)
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


def _edit(action: str, root: etree._Element, rsc: str | None, node: str | None,
          options: dict[str, object]) -> Outcome:
    from crmd.resource import edit

    meta, utilization = bool(options["meta"]), bool(options["utilization"])
    if action == "set_parameter":
        value = options.get("value")
        if not isinstance(value, str):
            raise UsageError("--set-parameter needs -v/--parameter-value")
        return edit.set_parameter(root, _need(rsc, action), str(options["name"]), value, meta,
                                  utilization, bool(options.get("force")))
    if action == "delete_parameter":
        return edit.delete_parameter(root, _need(rsc, action), str(options["name"]), meta,
                                     utilization)
    if action == "clear":
        return edit.clear(root, _need(rsc, action), node)
    return edit.cleanup(root, rsc, node, refresh=action == "refresh")


@click.command(context_settings={"help_option_names": ["-h", "-?", "--help"]})
@click.option("-L", "--list", "list_", is_flag=True, help="List all cluster resources.")
@click.option("-l", "--list-raw", is_flag=True, help="List resource ids only.")
@click.option("-W", "--locate", is_flag=True, help="Show where a resource is running.")
@click.option("-a", "--constraints", is_flag=True, help="Show constraints on a resource.")
@click.option("-Y", "--why", is_flag=True, help="Show why a resource is (not) running.")
@click.option("-M", "--move", is_flag=True, help="Move a resource to -N node.")
@click.option("-B", "--ban", is_flag=True, help="Keep a resource off -N node.")
@click.option("-U", "--clear", is_flag=True, help="Remove --move/--ban constraints.")
@click.option("-C", "--cleanup", is_flag=True, help="Forget a resource's failures.")
@click.option("-R", "--refresh", is_flag=True, help="Forget a resource's whole history.")
@click.option("-p", "--set-parameter", metavar="NAME", help="Set a resource parameter.")
@click.option("-g", "--get-parameter", metavar="NAME", help="Show a resource parameter.")
@click.option("-d", "--delete-parameter", metavar="NAME", help="Delete a resource parameter.")
@click.option("-v", "--parameter-value", "value", metavar="VALUE", help="Value for -p.")
@click.option("-m", "--meta", is_flag=True, help="Act on meta attributes, not parameters.")
@click.option("-z", "--utilization", is_flag=True,
              help="Act on utilization attributes (wins over --meta).")
@click.option("-r", "--resource", metavar="ID", help="Resource id.")
@click.option("-N", "--node", metavar="NAME", help="Node name.")
@click.option("-u", "--lifetime", metavar="DURATION", help="Lifetime of --move/--ban.")
@click.option("--force-start", is_flag=True, help="Run the agent's start here, now.")
@click.option("--force-stop", is_flag=True, help="Run the agent's stop here, now.")
@click.option("--force-check", is_flag=True, help="Run the agent's monitor here, now.")
@click.option("--list-standards", is_flag=True, help="List supported standards.")
@click.option("--list-ocf-providers", is_flag=True, help="List all available OCF providers.")
@click.option("--list-ocf-alternatives", metavar="TYPE",
              help="List OCF providers of an agent type.")
@click.option("--list-agents", metavar="STD[:PROV]",
              help="List agents of a standard (or OCF provider).")
@click.option("--show-metadata", metavar="SPEC", help="Show an agent's meta-data.")
@click.option("-f", "--force", is_flag=True, help="Accepted for compatibility.")
@click.option("-Q", "--quiet", is_flag=True, help="Accepted for compatibility.")
def crm_resource(**kw: object) -> None:
    """Perform tasks related to cluster resources (hacluster's crm_resource)."""
    # click fills kw in the order the options were given: as with Pacemaker's crm_resource,
    # the last command option on the line wins ("--move --ban" bans)
    given = ["list" if key == "list_" else key for key, value in kw.items() if value]
    kw["list"] = kw.pop("list_")
    kw["name"] = kw.get("set_parameter") or kw.get("get_parameter") or kw.get("delete_parameter")
    chosen = [a for a in given if a in _ACTIONS]
    if not chosen:
        raise UsageError("No command given (try --list, --locate, --move, ... or --help)")
    sys.exit(run(chosen[-1], kw))


def main(argv: list[str] | None = None) -> NoReturn:
    try:
        crm_resource.main(args=argv, prog_name="crm_resource", standalone_mode=False)
    except click.exceptions.UsageError as error:
        _fail(UsageError(error.format_message()))
    except click.exceptions.Abort:
        sys.exit(int(ExitCode.ERROR))
    except (HAError, OSError) as error:
        _fail(error)
    sys.exit(int(ExitCode.OK))


def _fail(error: BaseException) -> NoReturn:
    code = exit_code_for(error)
    click.echo(f"crm_resource: {error}", err=True)
    if code != ExitCode.USAGE:  # usage errors explain themselves, as in Pacemaker
        click.echo(f"Error performing operation: {_ERROR_TEXT.get(code, code.name)}", err=True)
    sys.exit(int(code))
