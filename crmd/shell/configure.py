"""Apply crmsh `configure` commands to a CIB tree (pure: lxml tree in, changed tree out).

crmsh's semantics for where things go: a new primitive is appended to <resources>; group,
clone and ms move their members out of their old place into the new element, appended
at the end; a clone or ms also re-points constraints that named its member (crmsh prints
"modified location:X from A to C"). Constraints must name existing resources. delete
removes constraints left pointing at nothing; rename follows references.

Every check happens before the first change, so a failing command leaves the tree as it
was; the caller writes the file only after success.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from lxml import etree

from crmd import cibedit
from crmd.shell import syntax
from messaging.errors import ExitCode, HAError, NotFoundError, ValidationError

_REFERENCE_ATTRIBUTES = ("rsc", "with-rsc", "first", "then")


class ExistsError(HAError):
    """An object with this id is already configured."""

    exit_code = ExitCode.EXISTS


def _check_new_id(root: etree._Element, ident: str) -> None:
    if not ident or ident in cibedit.ids_in_use(root):
        raise ExistsError(f"id {ident!r} is already in use")


def _resource_ids(root: etree._Element) -> set[str]:
    """Ids a constraint may name: resources and tags (Pacemaker expands a tag's members)."""
    tags = {t.get("id") or "" for t in root.iterfind("configuration/tags/tag")}
    return tags | {e.get("id") or "" for e in root.iterfind("configuration/resources//*")
                   if e.tag in cibedit.RESOURCE_TAGS}


def add_primitive(root: etree._Element, args: list[str], notes: list[str]) -> None:
    element = syntax.primitive(args)
    _check_new_id(root, element.get("id") or "")
    cibedit.section(root, "resources").append(element)


def add_collective(kind: str, root: etree._Element, args: list[str],
                   notes: list[str]) -> None:
    element, members = syntax.collective(kind, args)
    _check_new_id(root, element.get("id") or "")
    found = [cibedit.find_resource(root, member) for member in members]
    for member, node in zip(members, found, strict=True):
        parent = node.getparent()
        if kind != "group" and parent is not None and parent.tag != "resources":
            raise ValidationError(f"{member} is already inside {parent.get('id')}")
        if kind == "group" and node.tag != "primitive":
            raise ValidationError(f"a group holds primitives only; {member} is a {node.tag}")
    if kind == "ms":
        notes.append(f'WARNING: "ms" is deprecated. Please use "clone {" ".join(args)} '
                     'meta promotable=true"')
    for node in found:
        cibedit.remove(node)
        element.append(node)
    cibedit.section(root, "resources").append(element)
    if kind != "group":
        _repoint_constraints(root, members[0], element.get("id") or "", notes)


def _repoint_constraints(root: etree._Element, old: str, new: str, notes: list[str]) -> None:
    for constraint in root.iterfind("configuration/constraints/*"):
        for attribute in _REFERENCE_ATTRIBUTES:
            if constraint.get(attribute) == old:
                constraint.set(attribute, new)
                kind = constraint.tag.removeprefix("rsc_")
                notes.append(f"INFO: modified {kind}:{constraint.get('id')} from {old} "
                             f"to {new}")


def add_constraint(build: Callable[[list[str]], etree._Element], root: etree._Element,
                   args: list[str], notes: list[str]) -> None:
    element = build(args)
    _check_new_id(root, element.get("id") or "")
    known = _resource_ids(root)
    named = [element.get(attribute) for attribute in _REFERENCE_ATTRIBUTES]
    for name in [*named, *(ref.get("id") for ref in element.iter("resource_ref"))]:
        if name is not None and name not in known:
            raise NotFoundError(f"resource {name!r} does not exist "
                                f"(in {element.tag} {element.get('id')})")
    cibedit.section(root, "constraints").append(element)


_DEFAULT_SETS = {"property": ("crm_config", "cluster_property_set", "cib-bootstrap-options"),
                 "rsc_defaults": ("rsc_defaults", "meta_attributes", "rsc-options"),
                 "op_defaults": ("op_defaults", "meta_attributes", "op-options")}


def set_defaults(word: str, root: etree._Element, args: list[str], notes: list[str]) -> None:
    section_name, tag, default_id = _DEFAULT_SETS[word]
    set_id, pairs = syntax.defaults_pairs(args)
    if not pairs:
        raise ValidationError(f"{word} needs name=value pairs")
    container = cibedit.section(root, section_name)
    wanted = set_id or default_id
    block = next((b for b in container.iterfind(tag) if b.get("id") == wanted), None)
    if block is None:
        block = etree.SubElement(container, tag, id=wanted)
    for name, value in pairs:
        pair = next((p for p in block.iterfind("nvpair") if p.get("name") == name), None)
        if pair is None:
            pair = etree.SubElement(block, "nvpair", name=name, value=value,
                                    id=cibedit.unique_id(root, f"{wanted}-{name}"))
        pair.set("value", value)


def add_node(root: etree._Element, args: list[str], notes: list[str]) -> None:
    """`node ID: UNAME [attributes k=v...] [utilization k=v...]` (or just `node UNAME`)."""
    words = list(args)
    if not words:
        raise ValidationError("node needs a name")
    if words[0].endswith(":") and len(words) > 1:
        node_id, uname = words.pop(0)[:-1], words.pop(0)
    else:
        uname = words.pop(0)
        node_id = uname
    uname, _, kind = uname.partition(":")  # "uname:member" names the node type
    nodes = cibedit.section(root, "nodes")
    if any(n.get("uname") == uname for n in nodes):
        raise ExistsError(f"node {uname!r} is already configured")
    node = etree.Element("node", id=node_id, uname=uname)
    if kind:
        node.set("type", kind)
    current = None
    for word in words:
        if word in ("attributes", "utilization"):
            tag = "instance_attributes" if word == "attributes" else "utilization"
            set_id = f"nodes-{node_id}" + ("" if word == "attributes" else "-utilization")
            current = etree.SubElement(node, tag, id=set_id)
            continue
        if current is None:
            raise syntax.fail("expected 'attributes' or 'utilization'", word)
        name, value = syntax.split_assignment(word)
        etree.SubElement(current, "nvpair", id=f"{current.get('id')}-{name}", name=name,
                         value=value)
    nodes.append(node)


def add_xml(root: etree._Element, args: list[str], notes: list[str]) -> None:
    element = syntax.xml_element(args)
    if element.tag in ("crm_config", "rsc_defaults", "op_defaults"):
        for block in list(element):  # a wrapped defaults/property set (see render.xml_form)
            _check_new_id(root, block.get("id") or "")
            cibedit.section(root, element.tag).append(block)
        return
    _check_new_id(root, element.get("id") or "")
    homes = {"primitive": "resources", "group": "resources", "clone": "resources",
             "master": "resources", "bundle": "resources", "rsc_location": "constraints",
             "rsc_colocation": "constraints", "rsc_order": "constraints",
             "rsc_ticket": "constraints", "node": "nodes",
             "cluster_property_set": "crm_config"}
    home = homes.get(element.tag)
    if home is None:
        raise ValidationError(f"xml: cannot place a <{element.tag}> element")
    cibedit.section(root, home).append(element)


HANDLERS: dict[str, Callable[[etree._Element, list[str], list[str]], None]] = {
    "primitive": add_primitive,
    "group": lambda r, a, n: add_collective("group", r, a, n),
    "clone": lambda r, a, n: add_collective("clone", r, a, n),
    "ms": lambda r, a, n: add_collective("ms", r, a, n),
    "location": lambda r, a, n: add_constraint(syntax.location, r, a, n),
    "colocation": lambda r, a, n: add_constraint(syntax.colocation, r, a, n),
    "collocation": lambda r, a, n: add_constraint(syntax.colocation, r, a, n),
    "order": lambda r, a, n: add_constraint(syntax.order, r, a, n),
    "property": lambda r, a, n: set_defaults("property", r, a, n),
    "rsc_defaults": lambda r, a, n: set_defaults("rsc_defaults", r, a, n),
    "op_defaults": lambda r, a, n: set_defaults("op_defaults", r, a, n),
    "node": add_node,
    "xml": add_xml,
}


def apply(root: etree._Element, word: str, args: list[str]) -> list[str]:
    """Apply one configure command; returns crmsh's notes (INFO/WARNING lines)."""
    handler = HANDLERS.get(word)
    if handler is None:
        raise syntax.fail("unknown configure command", word)
    notes: list[str] = []
    handler(root, list(args), notes)
    return notes


def split_commands(text: str) -> list[list[str]]:
    """crmsh text (show output, load files): commands with `\\` continuations joined."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            commands.append(shlex.split(stripped, posix=True) if not stripped.startswith(
                "xml ") else ["xml", stripped[4:]])
    return commands


def reparse(text: str, element: etree._Element) -> bool:
    """Does `text` (one object in crmsh syntax) build this very element again?"""
    from crmd.shell.render import canonical

    scratch = etree.fromstring(b"<cib><configuration><crm_config/><nodes/><resources/>"
                               b"<constraints/></configuration><status/></cib>")
    commands = split_commands(text)
    if len(commands) != 1:
        return False
    word, *args = commands[0]
    try:
        if word in ("group", "clone", "ms"):
            built, _members = syntax.collective(word, args)
            original = etree.fromstring(etree.tostring(element))
            for child in list(original):
                if child.tag in cibedit.RESOURCE_TAGS:
                    original.remove(child)
            return canonical(built) == canonical(original)
        builders = {"primitive": syntax.primitive, "location": syntax.location,
                    "colocation": syntax.colocation, "order": syntax.order}
        if word in builders:
            return canonical(builders[word](args)) == canonical(element)
        apply(scratch, word, args)
    except HAError:
        return False
    rebuilt = scratch.find(".//*[@id='" + (element.get("id") or "") + "']")
    return rebuilt is not None and canonical(rebuilt) == canonical(element)
