"""The crm shell's `ra` level (crmsh 4.4.1's words and layouts): classes, list, providers,
info/meta. Agents and meta-data come from crm_resource's agent queries
(crmd.resource.agents), so both tools see the same agents.

Layouts, as crmsh prints them: `classes` one class a line, "ocf / <providers>" for ocf;
`list` in ls-like columns for an 80-column screen (column width = 80 // columns, columns
from the longest name + 2, names at least 8 wide; the last name of a full row unpadded);
`info` the agent's title, long description, parameters ("name* (type, [default]):
shortdesc", long description indented by 4) and advised operation defaults.
"""

from __future__ import annotations

import functools

import click
from lxml import etree

from messaging.errors import HAError

_SCREEN = 80
_TAB = "    "
_SKIPPED_ACTIONS = ("meta-data", "validate-all")


@click.group()
def ra() -> None:
    """Resource agents: classes, list, providers, info."""


def columns(names: list[str], width: int = _SCREEN) -> list[str]:
    """`names` laid out in rows of equal-width columns (crmsh's ls-like listing)."""
    if not names:
        return []
    longest = max(8, *(len(name) for name in names))
    count = max(1, width // (longest + 2))
    column = width // count
    rows = []
    for start in range(0, len(names), count):
        row = names[start:start + count]
        cells = [name.ljust(column) for name in row]
        if len(row) == count:
            cells[-1] = row[-1]
        rows.append("".join(cells))
    return rows


@ra.command("classes")
def ra_classes() -> None:
    """classes: the agent classes (and OCF providers)."""
    from crmd.resource import agents

    for standard in sorted(agents.list_standards()):
        if standard == "ocf":
            click.echo(f"ocf / {' '.join(agents.list_ocf_providers())}")
        else:
            click.echo(standard)


@ra.command("list")
@click.argument("standard")
@click.argument("provider", required=False)
def ra_list(standard: str, provider: str | None) -> None:
    """list CLASS [PROVIDER]: the agents of a class (or of one OCF provider)."""
    from crmd.resource import agents

    if standard not in agents.list_standards():
        raise HAError(f"ra.list: class {standard} does not exist")
    spec = f"{standard}:{provider}" if provider else standard
    try:
        names = agents.list_agents(spec)
    except HAError:
        names = []
    for line in columns(names):
        click.echo(line)


@ra.command("providers")
@click.argument("agent_type", metavar="TYPE")
def ra_providers(agent_type: str) -> None:
    """providers TYPE: the OCF providers of an agent."""
    from crmd.resource import agents

    try:
        click.echo(" ".join(agents.list_ocf_alternatives(agent_type)))
    except HAError:
        click.echo("")


def full_spec(name: str) -> str:
    """class:provider:type from crmsh's short forms (TYPE is ocf:heartbeat:TYPE)."""
    parts = name.split(":")
    if len(parts) == 1:
        return f"ocf:heartbeat:{name}"
    if len(parts) == 2 and parts[0] == "ocf":
        return f"ocf:heartbeat:{parts[1]}"
    return name


@functools.cache
def agent_parameters(name: str) -> tuple[str, ...]:
    """The parameter names in an agent's meta-data (empty when it has none or is unknown);
    cached, as the shell asks again at every key press."""
    from crmd.resource import agents

    try:
        metadata = agents.show_metadata(full_spec(name))
        root = etree.fromstring(metadata.encode())
    except (HAError, etree.XMLSyntaxError):
        return ()
    return tuple(p.get("name") or "" for p in root.iterfind("parameters/parameter")
                 if p.get("name"))


def _text(node: etree._Element, tag: str) -> str:
    return (node.findtext(tag) or "").strip()


def _shortdesc(node: etree._Element, agent_type: str) -> str:
    short = _text(node, "shortdesc")
    if short and short not in (node.get("name"), _text(node, "longdesc"), agent_type):
        return short
    return ""


def _parameter(node: etree._Element, agent_type: str) -> str:
    head = (node.get("name") or "") + ("*" if node.get("required") == "1" else "")
    content = node.find("content")
    kind = content.get("type") if content is not None else None
    default = content.get("default") if content is not None else None
    if kind and default:
        head += f" ({kind}, [{default}])"
    elif kind:
        head += f" ({kind})"
    lines = [f"{head}: {_shortdesc(node, agent_type)}"]
    longdesc = _text(node, "longdesc")
    if longdesc:
        lines.append(_TAB + longdesc.replace("\n", "\n" + _TAB) + "\n")
    return "\n".join(lines)


def describe(spec: str, metadata: str) -> str:
    """crmsh's human-readable form of an agent's meta-data."""
    root = etree.fromstring(metadata.encode(), etree.XMLParser(remove_blank_text=True))
    agent_type = spec.split(":")[-1]
    short = _shortdesc(root, agent_type)
    parts = [f"{short} ({spec})" if short else spec]
    if _text(root, "longdesc"):
        parts.append(_text(root, "longdesc"))
    parameters = [_parameter(p, agent_type) for p in root.iterfind("parameters/parameter")
                  if p.get("name")]
    if parameters:
        parts.append(("Parameters (*: required, []: default):\n\n"
                      + "\n".join(parameters)).rstrip())
    actions = []
    for action in root.iterfind("actions/action"):
        name = action.get("name")
        if name and name not in _SKIPPED_ACTIONS:
            extras = "".join(f" {k!s}={v!s}" for k, v in action.items() if k != "name" and v)
            actions.append(f"{_TAB}{name:<13}{extras}")
    if actions:
        parts.append("Operations' defaults (advisory minimum):\n\n" + "\n".join(actions))
    return "\n\n".join(parts)


@ra.command("info")
@click.argument("name", metavar="[CLASS:[PROVIDER:]]TYPE")
def ra_info(name: str) -> None:
    """info AGENT: the agent's parameters and operations, readable."""
    from crmd.resource import agents

    spec = full_spec(name)
    try:
        metadata = agents.show_metadata(spec)
    except HAError:
        raise HAError(f"{spec}: got no meta-data, does this RA exist?") from None
    click.echo(describe(spec, metadata))


@ra.command("meta")
@click.argument("name", metavar="[CLASS:[PROVIDER:]]TYPE")
@click.pass_context
def ra_meta(context: click.Context, name: str) -> None:
    """meta AGENT: the old name of info."""
    click.echo("WARNING: This command 'meta' is deprecated, please use 'info'", err=True)
    click.echo('INFO: "meta" is accepted as "info"', err=True)
    context.invoke(ra_info, name=name)


def check_agent(element: etree._Element) -> None:
    """Refuse a primitive as crmsh does: its agent must give meta-data, and (but for fence
    agents, whose parameters the fencer adds to) every parameter must be one the agent
    declares, every required one given.

    Raises:
        NotFoundError: no such agent. ValidationError: an unknown or missing parameter.
    """
    from crmd.resource import agents
    from messaging.errors import NotFoundError, ValidationError

    standard = element.get("class")
    if standard is None:
        return  # built from a template: the template names the agent
    spec = ":".join(p for p in (standard, element.get("provider"), element.get("type")) if p)
    try:
        metadata = etree.fromstring(agents.show_metadata(spec).encode())
    except (HAError, etree.XMLSyntaxError):
        raise NotFoundError(f"{spec}: no such resource agent") from None
    if standard == "stonith":
        return
    declared = {p.get("name"): p.get("required") == "1"
                for p in metadata.iterfind("parameters/parameter")}
    given = [p.get("name") for p in element.iterfind("instance_attributes/nvpair")]
    rid = element.get("id")
    for name in given:
        if name not in declared:
            raise ValidationError(f'{rid}: parameter "{name}" is not known')
    for name, required in declared.items():
        if required and name not in given:
            raise ValidationError(f'{rid}: required parameter "{name}" not defined')
