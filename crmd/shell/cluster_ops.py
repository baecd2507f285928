"""The crm shell's commands on the cluster's state rather than its configuration (crmsh
4.4.1 words): resource promote/demote/failcount, node fence/clearstate/delete.

- promote/demote set meta target-role=Master/Slave on a promotable clone (the values
  crmsh 4.4.1 writes, through crm_resource's library); anything else is "RSC is not a
  promotable resource".
- failcount RSC show|set|delete NODE [N]: the transient attribute fail-count-RSC in the
  node's status (set writes it, as crmsh's `crm_attribute -t status`; show sums the
  per-operation counts as crm_failcount does; delete is crm_failcount -D, a cleanup of the
  resource on that node).
- node fence NODE asks the fencer to reboot it; clearstate NODE confirms to the fencer that
  the node is down (crmsh runs `stonith_admin --confirm`); both need the live cluster.
  delete NODE removes an offline node from <nodes> and its <node_state>.
fence, clearstate and delete ask first on a terminal, as crmsh does.
"""

from __future__ import annotations

import click
from lxml import etree

from crmd.shell.levels import node, resource
from crmd.shell.session import session
from messaging.errors import HAError


def _set_role(rsc: str, role: str) -> None:
    from crmd import cibedit
    from crmd.resource.edit import set_parameter

    state = session()
    root = state.live_edit()
    element = cibedit.find_resource(root, rsc)
    promotable = element.tag == "master" or (
        element.tag == "clone" and any(
            pair.get("name") == "promotable" and (pair.get("value") or "").lower() == "true"
            for pair in element.iterfind("meta_attributes/nvpair")))
    if not promotable:
        raise HAError(f"{rsc} is not a promotable resource")
    outcome = set_parameter(root, rsc, "target-role", role, meta=True)
    state.live_done()
    for line in outcome.out:
        click.echo(line)


@resource.command("promote")
@click.argument("rsc")
def resource_promote(rsc: str) -> None:
    """promote RSC: target-role=Master on a promotable clone."""
    _set_role(rsc, "Master")


@resource.command("demote")
@click.argument("rsc")
def resource_demote(rsc: str) -> None:
    """demote RSC: target-role=Slave on a promotable clone."""
    _set_role(rsc, "Slave")


def _transient_block(root: etree._Element, node_name: str) -> etree._Element:
    """The node's status/transient_attributes/instance_attributes, created when absent."""
    from crmd import cibedit

    node_id = cibedit.find_node(root, node_name).get("id") or node_name
    status = root.find("status")
    if status is None:
        status = etree.SubElement(root, "status")
    state = next((s for s in status.iterfind("node_state") if s.get("uname") == node_name),
                 None)
    if state is None:
        state = etree.SubElement(status, "node_state", id=node_id, uname=node_name)
    transient = state.find("transient_attributes")
    if transient is None:
        transient = etree.SubElement(state, "transient_attributes", id=node_id)
    block = transient.find("instance_attributes")
    if block is None:
        block = etree.SubElement(transient, "instance_attributes", id=f"status-{node_id}")
    return block


def fail_count(block: etree._Element, rsc: str) -> int:
    """fail-count-RSC plus every fail-count-RSC#op_interval (INFINITY counts as 1000000)."""
    total = 0
    for pair in block.iterfind("nvpair"):
        name = pair.get("name") or ""
        if name == f"fail-count-{rsc}" or name.startswith(f"fail-count-{rsc}#"):
            value = pair.get("value") or "0"
            total += 1000000 if "INFINITY" in value.upper() else int(value)
    return min(total, 1000000)


@resource.command("failcount")
@click.argument("rsc")
@click.argument("action", type=click.Choice(["show", "set", "delete"]))
@click.argument("node_name", metavar="NODE")
@click.argument("value", required=False)
def resource_failcount(rsc: str, action: str, node_name: str, value: str | None) -> None:
    """failcount RSC show|set|delete NODE [VALUE]."""
    from crmd import cibedit

    state = session()
    root = state.live_edit()
    cibedit.find_resource(root, rsc)
    block = _transient_block(root, node_name)
    if action == "show":
        count = fail_count(block, rsc)
        click.echo(f"scope=status  name=fail-count-{rsc} value={count}")
        return
    if action == "delete":
        from crmd.resource.edit import cleanup

        cleanup(root, rsc, node_name, refresh=False)
    else:
        if value is None or not (value.lstrip("-").isdigit() or value == "INFINITY"):
            raise click.UsageError("failcount set needs a number (or INFINITY)")
        pair = next((p for p in block.iterfind("nvpair")
                     if p.get("name") == f"fail-count-{rsc}"), None)
        if pair is None:
            pair = etree.SubElement(block, "nvpair", id=f"{block.get('id')}-fail-count-{rsc}",
                                    name=f"fail-count-{rsc}")
        pair.set("value", value)
    state.live_done()


def _sure(question: str) -> bool:
    import sys

    if not sys.stdin.isatty():
        return True  # a script means what it says, as in crmsh's batch mode with --force
    return input(f"{question} (y/n)? ").strip().lower().startswith("y")


def _fencer_call(message: object, timeout: float) -> object:
    from stonithd.api import StonithClient

    with StonithClient() as client:
        return client.call(message, timeout)  # type: ignore[arg-type]


@node.command("fence")
@click.argument("name")
def node_fence(name: str) -> None:
    """fence NODE: have the fencer reboot the node."""
    from stonithd.api import FenceRequest, FenceResult

    if not _sure(f"Fencing {name} will shut down the node and migrate any resources that "
                 "are running on it! Do you want to proceed"):
        return
    result = _fencer_call(FenceRequest(name, "reboot", client="crm"), 150.0)
    if not isinstance(result, FenceResult) or not result.ok:
        reason = getattr(result, "reason", "no answer")
        raise HAError(f"fencing {name} failed: {reason}")


@node.command("clearstate")
@click.argument("name")
def node_clearstate(name: str) -> None:
    """clearstate NODE: confirm to the fencer that the node is down (manual fencing)."""
    from stonithd.api import ConfirmRequest

    if _sure(f"Do you really want to drop state for node {name}"):
        _fencer_call(ConfirmRequest(name, client="crm"), 30.0)


@node.command("delete")
@click.argument("name")
def node_delete(name: str) -> None:
    """delete NODE: remove an offline node from the configuration and the status."""
    from crmd import cibedit

    state = session()
    root = state.live_edit()
    element = cibedit.find_node(root, name)
    states = [s for s in root.iterfind("status/node_state") if s.get("uname") == name]
    if any(s.get("crmd") == "online" and s.get("in_ccm") == "true" for s in states):
        raise HAError(f"node {name} is online: stop its cluster services before deleting it")
    if not _sure(f"Do you really want to delete node {name}"):
        return
    for found in [element, *states]:
        cibedit.remove(found)
    state.live_done()

