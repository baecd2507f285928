"""`hacluster membership`: this node's view, quorum and per-link node status.

Like corosync-quorumtool / cl_status: asks the local ccm (`ccm.ctl` in the state dir from
ha.cf, or --state-dir) and prints either a table or, with --json, one JSON object:
``{"node", "view_id", "members", "coordinator", "quorate", "expected_votes",
"total_votes", "quorum", "nodes": {name: {"state", "links": {link: state}}}}``.
Exit codes (messaging.errors table): 0 on an answer, 102 when ccm is not running, 124 when
it does not answer in time, 78 for an unusable ha.cf.
"""

from __future__ import annotations

import json

import click

from messaging.command import fail
from messaging.errors import HAError

from .api import CcmClient, MembershipStatus
from .config import load


def render(status: MembershipStatus) -> str:
    """The human-readable report."""
    quorum = "yes" if status.quorate else "NO"
    lines = [
        f"Node:            {status.node}",
        f"View id:         {status.view_id} (coordinator {status.coordinator or '-'})",
        f"Members:         {' '.join(status.members) or '-'}",
        f"Quorate:         {quorum}",
        f"Expected votes:  {status.expected_votes}",
        f"Total votes:     {status.total_votes}",
        f"Quorum:          {status.quorum}",
        "",
        f"{'Node':<16} {'State':<6} {'Member':<7} Links",
    ]
    for info in status.nodes:
        member = "yes" if info.name in status.members else "no"
        links = " ".join(f"{link}:{state}" for link, state in info.links) or "-"
        lines.append(f"{info.name:<16} {info.state:<6} {member:<7} {links}")
    return "\n".join(lines)


@click.command("membership")
@click.option("-c", "--config", "config_path", default="/etc/ha.d/ha.cf", show_default=True,
              help="ha.cf (for state_dir)")
@click.option("--state-dir", default=None, help="the node's state directory (overrides ha.cf)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--timeout", default=3.0, show_default=True, help="seconds to wait for ccm")
def membership(config_path: str, state_dir: str | None, as_json: bool, timeout: float) -> None:
    """Show membership view, quorum and node/link status of this node."""
    try:
        directory = state_dir or load(config_path).ha.state_dir
        status = CcmClient(directory).query(timeout=timeout)
    except HAError as error:
        fail(error)
    if as_json:
        click.echo(json.dumps(status.to_json(), sort_keys=True))
    else:
        click.echo(render(status))
