"""``hacluster lrm``: run and inspect resource agents through the node's lrmd.

``lrm exec CLASS:PROVIDER:TYPE ACTION [name=value ...]`` goes through the lrmd when one
answers on ``--state-dir``, otherwise runs the agent directly with the same executor code.
It prints the result and exits with the agent's rc; a timed-out operation exits with 124
(like timeout(1)), which no OCF agent returns. Other commands: ``lrm list``,
``lrm history [--json]``, ``lrm metadata AGENT``, ``lrm cancel RESOURCE ACTION``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from lrmd.api import (
    Ack,
    AgentSpec,
    CancelRequest,
    ExecRequest,
    HistoryReply,
    HistoryRequest,
    LrmdClient,
    MetadataReply,
    MetadataRequest,
    OpCompleted,
)
from messaging.command import fail
from messaging.config import DEFAULT_STATE_DIR, STATE_DIR_ENV, default_state_dir
from messaging.errors import ExitCode, HAError, NotFoundError, UsageError
from messaging.types import OpStatus

TIMEOUT_EXIT = 124
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|msec|s|sec|m|min|h|hr)?\s*$")
_UNIT_MS = {
    None: 1000,
    "s": 1000,
    "sec": 1000,
    "ms": 1,
    "msec": 1,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
}


def parse_duration_ms(text: str, option: str) -> int:
    """Pacemaker's time syntax (plain number = seconds) in milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{option}: {text!r} is not a duration like 20s, 500ms or 1m")
    return round(float(match.group(1)) * _UNIT_MS[match.group(2)])


def parse_assignments(items: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise UsageError(f"parameter {item!r}: expected name=value")
        params[name] = value
    return params


def _state_dir_option(function: Any) -> Any:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_state_dir,
        show_default=f"${STATE_DIR_ENV} or {DEFAULT_STATE_DIR}",
        help="Where the lrmd listens.",
    )(function)


def _guard(function: Any) -> Any:
    """Turn our errors into one line and the table's exit code."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (HAError, OSError) as error:
            fail(error)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def lrm() -> None:
    """Run and inspect resource agents (the local resource manager).

    Commands talk to the node's lrmd (python -m lrmd --state-dir DIR) when it runs; exec and
    metadata fall back to running the agent directly.
    """


@lrm.command("exec")
@click.argument("agent")
@click.argument("action")
@click.argument("params", nargs=-1)
@click.option("--timeout", default="20s", show_default=True, help="Operation timeout.")
@click.option(
    "--interval",
    default="0",
    show_default=True,
    help="Monitor interval; > 0 leaves a recurring monitor in the lrmd.",
)
@click.option("--resource", default="", help="Resource id (default: the agent type).")
@click.option("--meta", "meta", multiple=True, help="Meta attribute name=value (repeatable).")
@click.option("--direct", is_flag=True, help="Do not use the lrmd even if it runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_state_dir_option
@_guard
def exec_command(
    agent: str,
    action: str,
    params: tuple[str, ...],
    timeout: str,
    interval: str,
    resource: str,
    meta: tuple[str, ...],
    direct: bool,
    as_json: bool,
    state_dir: Path,
) -> None:
    """Run ACTION of AGENT (CLASS:PROVIDER:TYPE) with parameters name=value.

    Exits with the agent's rc, or 124 when the operation timed out.
    """
    spec = AgentSpec.parse(agent)
    if parse_duration_ms(timeout, "--timeout") <= 0:
        raise UsageError(f"--timeout {timeout!r} must be longer than 0")
    request = ExecRequest(
        resource=resource or spec.type,
        agent=spec,
        action=action,
        params=parse_assignments(params),
        meta=parse_assignments(meta),
        interval_ms=parse_duration_ms(interval, "--interval"),
        timeout_ms=parse_duration_ms(timeout, "--timeout"),
    )
    result = None
    if not direct:
        with LrmdClient(state_dir) as client:
            if client.is_running():
                result = client.execute(request)
    if result is None:
        result = asyncio.run(run_direct(request, state_dir))
    _print_result(result, as_json)
    if result.status == OpStatus.TIMEOUT:
        sys.exit(TIMEOUT_EXIT)
    sys.exit(result.rc if 0 <= result.rc <= 255 else int(ExitCode.ERROR))


def _print_result(result: OpCompleted, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_plain(result), indent=2, sort_keys=True))
        return
    if result.output:
        click.echo(result.output.rstrip("\n"))
    click.echo(result.describe(), err=result.action == "meta-data")


def _plain(result: OpCompleted) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    data["agent"] = str(result.agent)
    data["status_name"] = OpStatus(result.status).name
    return data


async def run_direct(request: ExecRequest, state_dir: Path) -> OpCompleted:
    """Run one request with the lrmd's own core and runner, without a daemon."""
    from lrmd.ops import LrmdCore
    from lrmd.runner import SubprocessRunner
    from lrmd.service import Executor

    done: asyncio.Future[OpCompleted] = asyncio.get_running_loop().create_future()

    def send(_client: str, message: Any) -> None:
        if isinstance(message, OpCompleted) and not done.done():
            done.set_result(message)

    core = LrmdCore(max_parallel=1, kill_grace=2.0)
    executor = Executor(
        core, SubprocessRunner(state_dir=state_dir), send=send, publish=lambda _event: None
    )
    executor.submit(request, "00")
    try:
        return await done
    finally:
        executor.shutdown()


@lrm.command("cancel")
@click.argument("resource")
@click.argument("action")
@click.option("--interval", default="0", show_default=True, help="The operation's interval.")
@_state_dir_option
@_guard
def cancel_command(resource: str, action: str, interval: str, state_dir: Path) -> None:
    """Cancel RESOURCE's ACTION in the running lrmd; use --interval for a recurring monitor."""
    with LrmdClient(state_dir) as client:
        reply = client.request(
            CancelRequest(resource, action, parse_duration_ms(interval, "--interval"))
        )
    if not isinstance(reply, Ack) or not reply.ok:
        raise NotFoundError(f"no {resource}_{action}_{parse_duration_ms(interval, 'x')} queued")
    click.echo(f"cancelled {resource}_{action}_{parse_duration_ms(interval, 'x')}")


@lrm.command("list")
@click.argument("standard", required=False, default="")
@click.option("--classes", is_flag=True, help="Only the resource classes.")
@click.option("--providers", is_flag=True, help="Only the OCF providers.")
@_guard
def list_command(standard: str, classes: bool, providers: bool) -> None:
    """List resource agents (optionally of one CLASS or CLASS:PROVIDER)."""
    from lrmd.agents import list_agents, lsb_dir, ocf_roots

    agents = list_agents(ocf_roots(), lsb_dir())
    if classes:
        lines = sorted({a.standard for a in agents} | {"stonith"})
    elif providers:
        lines = sorted({a.provider for a in agents if a.provider})
    else:
        lines = [str(a) for a in agents if str(a).startswith(standard)]
    if standard and not lines:
        raise UsageError(f"no agents of {standard!r}")
    click.echo("\n".join(lines))


@lrm.command("history")
@click.option("--resource", default="", help="Only this resource.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records.")
@_state_dir_option
@_guard
def history_command(resource: str, as_json: bool, state_dir: Path) -> None:
    """Show the lrmd's operation history (last, last failure, recurring ops)."""
    with LrmdClient(state_dir) as client:
        reply = client.request(HistoryRequest(resource))
    assert isinstance(reply, HistoryReply)
    if as_json:
        click.echo(json.dumps([_plain(r) for r in reply.records], indent=2, sort_keys=True))
        return
    for record in reply.records:
        click.echo(f"call={record.call_id} {record.describe()} digest={record.op_digest}")


@lrm.command("metadata")
@click.argument("agent")
@_state_dir_option
@_guard
def metadata_command(agent: str, state_dir: Path) -> None:
    """Print AGENT's meta-data XML (cached by the lrmd when it runs)."""
    spec = AgentSpec.parse(agent)
    with LrmdClient(state_dir) as client:
        if client.is_running():
            reply = client.request(MetadataRequest(spec), timeout=15.0)
            assert isinstance(reply, MetadataReply)
            click.echo(reply.xml.rstrip("\n"))
            return
    from lrmd.runner import SubprocessRunner
    from lrmd.service import metadata

    click.echo(asyncio.run(metadata(SubprocessRunner(), spec, {})).rstrip("\n"))
