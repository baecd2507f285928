"""Node attributes and cluster options in the CIB, as Pacemaker's crm_attribute finds,
sets and deletes them (pure: a CIB tree in, CIB operations or values out).

Invariants: lookups use Pacemaker's search (section, then the node's entry by id, then an
attribute set, then nvpairs by name and/or id); a new attribute gets Pacemaker's set and id
names (cib-bootstrap-options, nodes-<uuid>, status-<uuid>, <section>-options, and
<set>-<name> with ':' and '#' made '.'); setting or deleting where several nvpairs match is
refused with `MultipleMatches` (exit 109). Writes are ordinary cib.ops requests, so they
follow the CIB's version and schema rules.
"""

from __future__ import annotations

from lxml import etree

from cib.errors import NoSuchObject
from cib.request import Op, Request
from cib.xmlio import Element
from messaging.errors import ExitCode, HAError
from messaging.record import Record

NODE_SECTIONS = ("nodes", "status")
OPTION_SECTIONS = ("crm_config", "rsc_defaults", "op_defaults")
_BASE = {"crm_config": "/cib/configuration/crm_config", "nodes": "/cib/configuration/nodes",
         "status": "/cib/status", "rsc_defaults": "/cib/configuration/rsc_defaults",
         "op_defaults": "/cib/configuration/op_defaults"}


class MultipleMatches(HAError):
    """More than one nvpair matches: the caller must pick one by id."""

    exit_code = ExitCode.MULTIPLE

    def __init__(self, message: str, matches: list[Element]) -> None:
        super().__init__(message)
        self.matches = matches


class Target(Record):
    """Where an attribute lives: a section and, for node attributes, the node's id."""

    __slots__ = ("node_uuid", "remote", "section")

    def __init__(self, section: str, node_uuid: str | None = None, remote: bool = False) -> None:
        self.section, self.node_uuid, self.remote = section, node_uuid, remote


def section_for(kind: str | None, node: str | None) -> str:
    """crm_attribute's section from -t/-l and whether -N was given."""
    if kind is None:
        return "nodes" if node is not None else "crm_config"
    section = {"reboot": "status", "forever": "nodes"}.get(kind.lower(), kind)
    if section not in _BASE:
        raise UnknownSection(f"-t/-l {kind!r} is not an attribute section (one of "
                             f"{', '.join(sorted(_BASE))}, or the lifetimes reboot, forever)")
    return section


class UnknownSection(HAError):
    """-t/-l names no attribute section. Pacemaker's crm_attribute fails such a request
    with ENOMSG, which its exit-code table maps to CRM_EX_PROTOCOL (76); scripts see 76."""

    exit_code = ExitCode.PROTOCOL


def node_uuid(cib: Element, name: str) -> tuple[str, bool]:
    """(uuid, is_remote) of a node name: nodes section (case-insensitive), remote and guest
    resources, remote node states. NoSuchObject when the name is unknown."""
    lowered = name.lower()
    for node in cib.iterfind("configuration/nodes/node"):
        if (node.get("uname") or "").lower() == lowered:
            if (node.get("type") or "").lower() == "remote":
                return node.get("uname") or "", True
            return node.get("id") or "", False
    for primitive in cib.iterfind("configuration/resources/primitive"):
        if (primitive.get("class"), primitive.get("provider"), primitive.get("type")) == (
                "ocf", "pacemaker", "remote") and primitive.get("id") == lowered:
            return lowered, True
    for pair in cib.iterfind("configuration/resources/primitive/meta_attributes/nvpair"):
        if pair.get("name") == "remote-node" and (pair.get("value") or "").lower() == lowered:
            return pair.get("value") or "", True
    raise NoSuchObject(f"Could not map name={name} to a UUID")


def _xpath(target: Target, set_name: str | None, attr_id: str | None,
           name: str | None) -> str:
    set_type = "instance_attributes"
    path = _BASE[target.section]
    if target.section == "crm_config":
        set_type = "cluster_property_set"
    elif target.section in ("rsc_defaults", "op_defaults"):
        set_type = "meta_attributes"
    elif target.section == "status":
        path += f"//node_state[@id='{target.node_uuid}']"
        set_type = "transient_attributes"
    else:
        path += f"//node[@id='{target.node_uuid}']"
    path += f"//{set_type}" + (f"[@id='{set_name}']" if set_name else "") + "//nvpair"
    # an empty name is a name like any other (Pacemaker 2.1.5 filters on name="" too)
    if attr_id and name is not None:
        path += f"[@id='{attr_id}' and @name='{name}']"
    elif attr_id:
        path += f"[@id='{attr_id}']"
    elif name is not None:
        path += f"[@name='{name}']"
    return path


def find(cib: Element, target: Target, name: str | None, set_name: str | None = None,
         attr_id: str | None = None) -> list[Element]:
    """Every nvpair matching, in document order."""
    if target.section in NODE_SECTIONS and target.node_uuid is None:
        return []
    found = cib.xpath(_xpath(target, set_name, attr_id, name))
    return [node for node in found if isinstance(node, etree._Element)] \
        if isinstance(found, list) else []


def _sanitize(ident: str) -> str:
    return ident.replace(":", ".").replace("#", ".")


def _new_set_name(target: Target) -> str:
    if target.section == "crm_config":
        return "cib-bootstrap-options"
    if target.node_uuid is not None and target.section in NODE_SECTIONS:
        return f"{target.section}-{target.node_uuid}"
    return f"{target.section}-options"


def update_request(cib: Element, target: Target, name: str, value: str,
                   set_name: str | None = None, attr_id: str | None = None) -> Request:
    """The CIB modify that sets the attribute (creating its set and node entry as needed)."""
    matches = find(cib, target, name, set_name, attr_id)
    if len(matches) > 1:
        raise MultipleMatches(f"Multiple attributes match name={name}", matches)
    if matches:
        pair = etree.Element("nvpair", id=matches[0].get("id") or "", name=name, value=value)
        return Request(Op.MODIFY, pair, scope=target.section)
    set_name = set_name or _new_set_name(target)
    pair = etree.Element("nvpair", id=attr_id or _sanitize(f"{set_name}-{name}"), name=name,
                         value=value)
    return Request(Op.MODIFY, _wrap(target, set_name, pair), scope=target.section)


def _wrap(target: Target, set_name: str, pair: Element) -> Element:
    if target.section == "status":
        top = etree.Element("node_state", id=target.node_uuid or "")
        holder = etree.SubElement(top, "transient_attributes", id=target.node_uuid or "")
        etree.SubElement(holder, "instance_attributes", id=set_name).append(pair)
        return top
    if target.section == "nodes":
        if target.remote:
            top = etree.Element("nodes")
            node = etree.SubElement(top, "node", type="remote", id=target.node_uuid or "",
                                    uname=target.node_uuid or "")
        else:
            top = node = etree.Element("node", id=target.node_uuid or "")
        etree.SubElement(node, "instance_attributes", id=set_name).append(pair)
        return top
    top = etree.Element(target.section)
    kind = "cluster_property_set" if target.section == "crm_config" else "meta_attributes"
    etree.SubElement(top, kind, id=set_name).append(pair)
    return top


def delete_request(cib: Element, target: Target, name: str | None, set_name: str | None = None,
                   attr_id: str | None = None) -> Request | None:
    """The CIB delete that removes the attribute, or None when there is nothing to delete."""
    if attr_id is None:
        matches = find(cib, target, name, set_name, attr_id)
        if len(matches) > 1:
            raise MultipleMatches(f"Multiple attributes match name={name}", matches)
        if not matches:
            return None
        attr_id = matches[0].get("id")
    pair = etree.Element("nvpair", id=attr_id or "")
    if name is not None:
        pair.set("name", name)
    return Request(Op.DELETE, pair, scope=target.section)
