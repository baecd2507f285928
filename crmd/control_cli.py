"""`hacluster crm status|stop` and `crmadmin -D/-S`: ask this node's controller how it is.

Both read the controller's control socket (`crmd.control`) in the node's state directory
($HACLUSTER_STATE_DIR or /var/lib/hacluster). `crmadmin` prints Pacemaker's lines
("Designated Controller is: NODE", "Controller on NODE in state S_IDLE: ok"); -S of
another node is relayed by this node's controller to that node's over the cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from messaging.command import run_tool
from messaging.config import default_state_dir
from messaging.errors import NotFoundError, UsageError


def _state_dir(value: str | None) -> Path:
    return Path(value or default_state_dir())


@click.group("crm")
def crm() -> None:
    """The controller (crmd) of this node."""


@crm.command("status")
@click.option("--state-dir", default=None, help="the node's state directory")
@click.option("--json", "as_json", is_flag=True, help="one JSON object")
def status(state_dir: str | None, as_json: bool) -> None:
    """FSA state, DC and transition state of this node's controller."""

    def body() -> int:
        from crmd.control import query_status

        answer = query_status(_state_dir(state_dir))
        if as_json:
            click.echo(json.dumps(answer.to_json(), sort_keys=True))
            return 0
        click.echo(f"node: {answer.node}\nstate: {answer.state}\n"
                   f"dc: {answer.dc or '(none)'}\nmembers: {' '.join(answer.members)}\n"
                   f"quorate: {'yes' if answer.quorate else 'no'}")
        if answer.is_dc:
            click.echo(f"transition: {answer.transition} (#{answer.transition_id})")
        return 0

    run_tool(body)


@crm.command("stop")
@click.option("--state-dir", default=None, help="the node's state directory")
def stop(state_dir: str | None) -> None:
    """Ask the DC to move this node's resources away and stop its controller."""

    def body() -> int:
        from crmd.control import request_stop

        answer = request_stop(_state_dir(state_dir))
        click.echo(f"shutdown of {answer.node} requested (DC: {answer.dc or 'none'})")
        return 0

    run_tool(body)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-D", "--dc_lookup", "dc_lookup", is_flag=True,
              help="Display the uname of the node co-ordinating the cluster")
@click.option("-S", "--status", "status_of", metavar="NODE",
              help="Display the status of the specified node's controller")
@click.option("--state-dir", default=None, hidden=True)
def crmadmin(dc_lookup: bool, status_of: str | None, state_dir: str | None) -> None:
    """Pacemaker's crmadmin -D / -S against this node's controller."""

    def body() -> int:
        from crmd.control import query_status

        if not dc_lookup and not status_of:
            raise UsageError("crmadmin: one of -D or -S NODE is required")
        if dc_lookup:
            answer = query_status(_state_dir(state_dir))
            if not answer.dc:
                raise NotFoundError("No DC is elected")
            click.echo(f"Designated Controller is: {answer.dc}")
        if status_of:
            answer = query_status(_state_dir(state_dir), node=status_of)
            click.echo(f"Controller on {answer.node} in state {answer.state}: ok")
        return 0

    run_tool(body)


__all__ = ["crm", "crmadmin"]
