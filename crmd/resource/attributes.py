"""crm_resource's attribute reads: --get-parameter (with --meta/--utilization) and the
"Multiple attributes match" listing that -p/-d print first.

Pure: the CIB element (and, for -g, its unpacked ClusterStatus) in, lines out. Pacemaker
2.1.5's crm_resource answers -g from the values the resource effectively has, not only its
own nvpairs:
- --meta: the resource element's own XML attributes (id, class, provider, type, and `clone`
  with the instance number for a clone's child), its meta_attributes, then its parent's
  whole meta table (the same, recursively, plus what unpacking adds to a clone:
  globally-unique, and resource-stickiness 1 when unset; to a clone's group instance:
  clone-max), then rsc_defaults; the first value wins;
- parameters: its instance_attributes, then each ancestor's, then rsc_defaults';
- --utilization: its own utilization only.
The resource is the instance Pacemaker resolves (an anonymous clone's child named "d2" is
"d2:0"), and a resource active on more than one node gets a note on stderr first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmd import cibedit
from crmd.resource.query import Answer

if TYPE_CHECKING:
    from lxml import etree

    from pengine.api import ClusterStatus

_CLONE_TAGS = ("clone", "master")


def set_tag(meta: bool, utilization: bool = False) -> str:
    """The attribute block -p/-g/-d act on: --utilization's, --meta's or the parameters'."""
    if utilization:
        return "utilization"
    return "meta_attributes" if meta else "instance_attributes"


def _top(element: etree._Element) -> etree._Element:
    """The top-level resource `element` belongs to (itself when top-level)."""
    while (parent := element.getparent()) is not None and parent.tag in cibedit.RESOURCE_TAGS:
        element = parent
    return element


def matching_listing(root: etree._Element, rsc_id: str, name: str) -> tuple[str, ...]:
    """What Pacemaker 2.1.5's crm_resource prints before a -p or -d without --force: when
    more than one nvpair called `name` lies anywhere under the resource's top-level
    resource (any kind of attribute set, members' and children's included), each one's
    value and id, then a blank line; nothing otherwise."""
    top = _top(cibedit.find_resource(root, rsc_id))
    pairs = [pair for pair in top.iter("nvpair") if pair.get("name") == name]
    if len(pairs) < 2:
        return ()
    return (f"Multiple attributes match name={name}",
            *(f"  Value: {pair.get('value')} \t(id={pair.get('id')})" for pair in pairs), "")


def _nvpairs(element: etree._Element, tag: str, table: dict[str, str]) -> None:
    for pair in element.iterfind(f"{tag}/nvpair"):
        table.setdefault(pair.get("name") or "", pair.get("value") or "")


def _meta_table(element: etree._Element, instance: str | None, defaults: dict[str, str],
                node_count: int) -> dict[str, str]:
    """The resource's meta table as Pacemaker's get_meta_attributes builds it for -g."""
    table = {str(key): str(value) for key, value in element.attrib.items()}
    parent = element.getparent()
    in_clone = parent is not None and parent.tag in _CLONE_TAGS
    if in_clone and instance is not None:
        table.setdefault("clone", instance)  # the instance's copy carries its number
    _nvpairs(element, "meta_attributes", table)
    if parent is not None and parent.tag in cibedit.RESOURCE_TAGS:
        for key, value in _unpacked_meta(parent, instance, defaults, node_count).items():
            table.setdefault(key, value)
    for key, value in defaults.items():
        table.setdefault(key, value)
    return table


def _unpacked_meta(element: etree._Element, instance: str | None, defaults: dict[str, str],
                   node_count: int) -> dict[str, str]:
    """An ancestor's meta table after unpacking: a clone always has globally-unique, and
    resource-stickiness 1 when neither it nor rsc_defaults set one; a clone's group
    instance has clone-max (the clone's default: one per node)."""
    table = _meta_table(element, instance, defaults, node_count)
    parent = element.getparent()
    if parent is not None and parent.tag in _CLONE_TAGS:
        table.setdefault("clone-max", str(node_count))
    if element.tag in _CLONE_TAGS:
        table.setdefault("globally-unique", "false")
        table.setdefault("resource-stickiness", "1")
    return table


def _instance_table(element: etree._Element) -> dict[str, str]:
    table: dict[str, str] = {}
    current: etree._Element | None = element
    while current is not None and current.tag in cibedit.RESOURCE_TAGS:
        _nvpairs(current, "instance_attributes", table)
        current = current.getparent()
    return table


def _defaults(root: etree._Element, tag: str) -> dict[str, str]:
    table: dict[str, str] = {}
    defaults = root.find("configuration/rsc_defaults")
    if defaults is not None:
        _nvpairs(defaults, tag, table)
    return table


def effective_attributes(root: etree._Element, rsc_id: str, instance: str | None,
                         tag: str, node_count: int) -> dict[str, str]:
    """Every name -g can answer for the resource, with the value it answers."""
    element = cibedit.find_resource(root, rsc_id)
    table: dict[str, str] = {}
    if tag == "utilization":
        _nvpairs(element, tag, table)
    elif tag == "meta_attributes":
        table = _meta_table(element, instance, _defaults(root, tag), node_count)
    else:
        table = _instance_table(element)
        for key, value in _defaults(root, tag).items():
            table.setdefault(key, value)
    return table


def get_parameter(root: etree._Element, status: ClusterStatus, rsc_id: str, name: str,
                  meta: bool, utilization: bool = False) -> Answer:
    """--get-parameter: the value, or a note on stderr when it is not set (rc 0)."""
    from crmd.resource.edit import active_nodes
    from crmd.resource.query import find_status

    cibedit.find_resource(root, rsc_id)
    shown = find_status(status, rsc_id, any_clone=True).id
    instance = shown.rpartition(":")[2] if ":" in shown else None
    notes = []
    if len(active_nodes(status, shown)) > 1:
        notes.append(f"{shown} is active on more than one node, returning the default value "
                     f"for {name}")
    table = effective_attributes(root, rsc_id, instance, set_tag(meta, utilization),
                                 len(status.nodes))
    if name not in table:
        return Answer(err=(*notes, f"Attribute '{name}' not found for '{shown}'"))
    return Answer((table[name],), tuple(notes))
