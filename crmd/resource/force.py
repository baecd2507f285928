"""crm_resource --force-start/--force-stop/--force-check: run a resource's agent once, here.

For debugging an agent outside the cluster: the parameters come from the resource's
instance attributes in the CIB, the run goes through the lrmd's own executor code (no
lrmd daemon needed), and the exit code is the agent's OCF rc, as Pacemaker's tool does.
"""

from __future__ import annotations

import click
from lxml import etree

from crmd import cibedit
from messaging.errors import UsageError

_AGENT_ACTIONS = {"start": "start", "stop": "stop", "check": "monitor"}


def force_action(root: etree._Element, rsc_id: str, which: str) -> int:
    """Run the agent action and report like Pacemaker; returns the agent's rc."""
    from lrmd.api import AgentSpec, ExecRequest, execute_direct
    from pengine.api import rc_text

    element = cibedit.find_resource(root, rsc_id)
    if element.tag != "primitive":
        raise UsageError(f"--force-{which} needs a primitive; {rsc_id} is a {element.tag}")
    agent = ":".join(p for p in (element.get("class"), element.get("provider"),
                                 element.get("type")) if p)
    params = {p.get("name") or "": p.get("value") or ""
              for p in element.iterfind("instance_attributes/nvpair")}
    request = ExecRequest(resource=rsc_id, agent=AgentSpec.parse(agent),
                          action=_AGENT_ACTIONS[which], params=params)
    result = execute_direct(request)
    click.echo(f"Operation force-{which} for {rsc_id} ({agent}) returned {result.rc} "
               f"({rc_text(result.rc)})")
    if result.output:
        click.echo(result.output.rstrip("\n"))
    return result.rc if 0 <= result.rc <= 255 else 1
