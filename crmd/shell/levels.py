"""The crm shell's `resource` and `node` levels (crmsh 4.4.1 words, CIB_file semantics).

resource start/stop set meta target-role, manage/unmanage set is-managed, maintenance sets
maintenance; move/ban/clear/cleanup/locate share crm_resource's library (crmd.resource),
so both tools write the same constraints. node standby/online, maintenance/ready,
attribute and utilization write the node's attributes in <nodes> with crm_attribute's ids
("nodes-<id>", "nodes-<id>-<name>").
"""

from __future__ import annotations

import click

from crmd.shell.session import echo_notes, now, session


@click.group()
def resource() -> None:
    """Resource commands: start, stop, move, ban, clear, cleanup, param, meta, ..."""


def _set_meta(rsc: str, name: str, value: str) -> None:
    from crmd.resource.edit import set_parameter

    state = session()
    outcome = set_parameter(state.live_edit(), rsc, name, value, meta=True)
    state.live_done()
    del outcome  # crmsh prints nothing for start/stop/manage


# One command per meta toggle: (command, meta attribute, value, help). crmsh's resource
# start/stop/manage/unmanage each set one meta attribute of the resource and print nothing.
_RESOURCE_TOGGLES = (
    ("start", "target-role", "Started", "start RSC: target-role=Started."),
    ("stop", "target-role", "Stopped", "stop RSC: target-role=Stopped."),
    ("manage", "is-managed", "true", "manage RSC: is-managed=true."),
    ("unmanage", "is-managed", "false", "unmanage RSC: is-managed=false."),
)


def _add_resource_toggle(name: str, attribute: str, value: str, text: str) -> None:
    @resource.command(name, help=text)
    @click.argument("rsc")
    def toggle(rsc: str) -> None:
        _set_meta(rsc, attribute, value)


for _toggle in _RESOURCE_TOGGLES:
    _add_resource_toggle(*_toggle)


@resource.command("restart")
@click.argument("rsc")
def resource_restart(rsc: str) -> None:
    """restart RSC: stop, then start again."""
    _set_meta(rsc, "target-role", "Stopped")
    _set_meta(rsc, "target-role", "Started")


@resource.command("maintenance")
@click.argument("rsc")
@click.argument("mode", type=click.Choice(["on", "off"]), default="on")
def resource_maintenance(rsc: str, mode: str) -> None:
    """maintenance RSC [on|off]: meta maintenance."""
    _set_meta(rsc, "maintenance", "true" if mode == "on" else "false")


def _mover(kind: str, rsc: str, node: str | None, lifetime: str | None) -> None:
    from crmd.resource import edit
    from pengine.api import unpack_status

    state = session()
    root = state.live_edit()
    function = edit.move if kind == "move" else edit.ban
    outcome = function(root, unpack_status(root), rsc, node, lifetime, now())
    state.live_done()
    echo_notes(list(outcome.out))
    label = "Move" if kind == "move" else "Ban"
    echo_notes([f"INFO: {label} constraint created for {rsc} to {node}",
                f"INFO: Use `crm resource clear {rsc}` to remove this constraint"])


@resource.command("move")
@click.argument("rsc")
@click.argument("node", required=False)
@click.argument("lifetime", required=False)
def resource_move(rsc: str, node: str | None, lifetime: str | None) -> None:
    """move RSC [NODE] [LIFETIME]: cli-prefer-RSC (remove with clear)."""
    _mover("move", rsc, node, lifetime)


@resource.command("ban")
@click.argument("rsc")
@click.argument("node", required=False)
@click.argument("lifetime", required=False)
def resource_ban(rsc: str, node: str | None, lifetime: str | None) -> None:
    """ban RSC [NODE] [LIFETIME]: cli-ban-RSC-on-NODE (remove with clear)."""
    _mover("ban", rsc, node, lifetime)


@resource.command("clear")
@click.argument("rsc")
def resource_clear(rsc: str) -> None:
    """clear RSC: remove move/ban constraints of RSC."""
    from crmd.resource.edit import clear

    state = session()
    outcome = clear(state.live_edit(), rsc, None)
    if outcome.changed:
        state.live_done()
    echo_notes([f"INFO: {line}" for line in outcome.out])


@resource.command("cleanup")
@click.argument("rsc", required=False)
@click.argument("node", required=False)
def resource_cleanup(rsc: str | None, node: str | None) -> None:
    """cleanup [RSC] [NODE]: forget failures."""
    from crmd.resource.edit import cleanup

    state = session()
    outcome = cleanup(state.live_edit(), rsc, node, refresh=False)
    if outcome.changed:
        state.live_done()
    for line in outcome.out:
        click.echo(line)


@resource.command("locate")
@click.argument("rsc")
def resource_locate(rsc: str) -> None:
    """locate RSC: where it runs."""
    from crmd.resource.query import locate
    from pengine.api import unpack_status

    answer = locate(unpack_status(session().live_edit()), rsc)
    for line in answer.out:
        click.echo(line)
    echo_notes(list(answer.err))


def _attribute_command(rsc: str, action: str, name: str, value: str | None,
                       meta: bool) -> None:
    from crmd.resource import attributes, edit

    state = session()
    root = state.live_edit()
    if action == "show":  # crmsh runs crm_resource --get-parameter: its answer, its notes
        from pengine.api import unpack_status

        answer = attributes.get_parameter(root, unpack_status(root), rsc, name, meta)
        for line in answer.out:
            click.echo(line)
        echo_notes(list(answer.err))
        return
    if action == "set":
        if value is None:
            raise click.UsageError("set needs a value")
        outcome = edit.set_parameter(root, rsc, name, value, meta)
    else:
        outcome = edit.delete_parameter(root, rsc, name, meta)
    if outcome.changed:
        state.live_done()
    for line in outcome.out:
        click.echo(line)


_ATTRIBUTE_ACTIONS = click.Choice(["set", "delete", "show"])


@resource.command("param")
@click.argument("rsc")
@click.argument("action", type=_ATTRIBUTE_ACTIONS)
@click.argument("name")
@click.argument("value", required=False)
def resource_param(rsc: str, action: str, name: str, value: str | None) -> None:
    """param RSC set|delete|show NAME [VALUE]."""
    _attribute_command(rsc, action, name, value, meta=False)


@resource.command("meta")
@click.argument("rsc")
@click.argument("action", type=_ATTRIBUTE_ACTIONS)
@click.argument("name")
@click.argument("value", required=False)
def resource_meta(rsc: str, action: str, name: str, value: str | None) -> None:
    """meta RSC set|delete|show NAME [VALUE]."""
    _attribute_command(rsc, action, name, value, meta=True)


@click.group()
def node() -> None:
    """Node commands: standby, online, maintenance, ready, attribute, utilization, show."""


def _node_attribute(name: str, attribute: str, value: str | None, tag: str) -> str | None:
    from crmd import cibedit

    state = session()
    root = state.live_edit()
    element = cibedit.find_node(root, name)
    node_id = element.get("id")
    set_id = f"nodes-{node_id}" + ("-utilization" if tag == "utilization" else "")
    block = element.find(tag)
    if value is None:
        pair = cibedit.get_nvpair(element, tag, attribute)
        return None if pair is None else pair.get("value")
    if block is None:
        from lxml import etree

        block = etree.SubElement(element, tag, id=set_id)
    pair = cibedit.get_nvpair(element, tag, attribute)
    if pair is None:
        from lxml import etree

        pair = etree.SubElement(block, "nvpair", id=f"{block.get('id')}-{attribute}",
                                name=attribute, value=value)
    pair.set("value", value)
    state.live_done()
    return value


def _local_node() -> str:
    import socket

    return socket.gethostname()


# One command per node toggle: (command, node attribute, value, help); NODE defaults to
# this host, as in crmsh.
_NODE_TOGGLES = (
    ("standby", "standby", "on", "standby [NODE]: no resources may run there."),
    ("online", "standby", "off", "online [NODE]: leave standby."),
    ("maintenance", "maintenance", "true",
     "maintenance [NODE]: stop managing the node's resources."),
    ("ready", "maintenance", "off", "ready [NODE]: leave maintenance."),
)


def _add_node_toggle(name: str, attribute: str, value: str, text: str) -> None:
    @node.command(name, help=text)
    @click.argument("name", required=False)
    def toggle(name: str | None) -> None:
        _node_attribute(name or _local_node(), attribute, value, "instance_attributes")


for _toggle in _NODE_TOGGLES:
    _add_node_toggle(*_toggle)


def _node_set(tag: str, name: str, action: str, attribute: str, value: str | None) -> None:
    if action == "set":
        if value is None:
            raise click.UsageError("set needs a value")
        _node_attribute(name, attribute, value, tag)
    elif action == "show":
        found = _node_attribute(name, attribute, None, tag)
        click.echo(f"scope=nodes  name={attribute} value={found}")
    else:
        from crmd import cibedit

        state = session()
        element = cibedit.find_node(state.live_edit(), name)
        if cibedit.delete_nvpair(element, tag, attribute) is not None:
            state.live_done()


@node.command("attribute")
@click.argument("name")
@click.argument("action", type=_ATTRIBUTE_ACTIONS)
@click.argument("attribute")
@click.argument("value", required=False)
def node_attribute(name: str, action: str, attribute: str, value: str | None) -> None:
    """attribute NODE set|delete|show NAME [VALUE]."""
    _node_set("instance_attributes", name, action, attribute, value)


@node.command("utilization")
@click.argument("name")
@click.argument("action", type=_ATTRIBUTE_ACTIONS)
@click.argument("attribute")
@click.argument("value", required=False)
def node_utilization(name: str, action: str, attribute: str, value: str | None) -> None:
    """utilization NODE set|delete|show NAME [VALUE]."""
    _node_set("utilization", name, action, attribute, value)


@node.command("show")
@click.argument("name", required=False)
def node_show(name: str | None) -> None:
    """show [NODE]: nodes with their state and attributes."""
    from crmd.shell.render import render_object

    for element in session().live_edit().iterfind("configuration/nodes/node"):
        if name is None or element.get("uname") == name:
            click.echo(render_object(element, "node"))
