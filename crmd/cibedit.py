"""Small, pure edits of a CIB element tree shared by crm_resource and the crm shell.

This is the one place the operator tools change CIB XML. Every function works on a tree
in memory (parsed by cib.xmlio; the caller reads it and commits the change as a patchset
through crmd.cibaccess), raises NotFoundError for an
unknown id and never leaves a half-made change: lookups happen before any mutation.
Ids of new elements follow Pacemaker's tools ("<rsc>-instance_attributes",
"<set>-<name>", "cli-prefer-<rsc>").
"""

from __future__ import annotations

from lxml import etree

from messaging.errors import NotFoundError

RESOURCE_TAGS = ("primitive", "group", "clone", "master", "bundle")


def section(root: etree._Element, name: str) -> etree._Element:
    """configuration/<name>, created when absent (constraints, rsc_defaults, ...)."""
    configuration = root.find("configuration")
    if configuration is None:
        configuration = etree.SubElement(root, "configuration")
    found = configuration.find(name)
    if found is None:
        found = etree.SubElement(configuration, name)
    return found


def find_resource(root: etree._Element, rsc_id: str) -> etree._Element:
    """The configured resource element with this id (clone instance suffixes allowed)."""
    base = rsc_id.split(":")[0]
    for element in root.iterfind("configuration/resources//*[@id]"):
        if element.tag in RESOURCE_TAGS and element.get("id") == base:
            return element
    raise NotFoundError(f"Resource '{rsc_id}' not found")


def find_by_id(root: etree._Element, element_id: str) -> etree._Element | None:
    for element in root.iterfind(".//*[@id]"):
        if element.get("id") == element_id:
            return element
    return None


def ids_in_use(root: etree._Element) -> set[str]:
    """Ids taken in the configuration (status ids such as lrm_resource live apart)."""
    scope = root.find("configuration") if root.tag == "cib" else root
    if scope is None:
        return set()
    references = ("obj_ref", "resource_ref", "role_ref")  # their ids name other objects
    return {e.get("id") or "" for e in scope.iter()
            if isinstance(e.tag, str) and e.get("id") and e.tag not in references}


def unique_id(root: etree._Element, wanted: str) -> str:
    """`wanted`, or wanted-1, wanted-2... when taken (as crmsh and Pacemaker do)."""
    taken = ids_in_use(root)
    if wanted not in taken:
        return wanted
    number = 1
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def find_node(root: etree._Element, name: str) -> etree._Element:
    for node in root.iterfind("configuration/nodes/node"):
        if node.get("uname") == name:
            return node
    raise NotFoundError(f"Node '{name}' not found")


def get_nvpair(element: etree._Element, set_tag: str, name: str) -> etree._Element | None:
    for pair in element.iterfind(f"{set_tag}/nvpair"):
        if pair.get("name") == name:
            return pair
    return None


def set_nvpair(root: etree._Element, element: etree._Element, set_tag: str, name: str,
               value: str) -> tuple[etree._Element, bool]:
    """Set name=value on the element; (nvpair, was it new?).

    An existing nvpair (in any <set_tag> block) is updated in place. A new one goes, as
    Pacemaker's crm_resource puts it, into the block whose id is "<element id>-<set_tag>"
    (appended after the element's children when absent), not into another existing block.
    """
    pair = get_nvpair(element, set_tag, name)
    if pair is not None:
        pair.set("value", value)
        return pair, False
    block_id = f"{element.get('id')}-{set_tag}"
    block = next((b for b in element.iterfind(set_tag) if b.get("id") == block_id), None)
    if block is None:
        block = etree.Element(set_tag, id=unique_id(root, block_id))
        element.append(block)  # Pacemaker's tools append new sets after existing children
    pair = etree.SubElement(block, "nvpair", id=unique_id(root, f"{block.get('id')}-{name}"),
                            name=name, value=value)
    return pair, True


def delete_nvpair(element: etree._Element, set_tag: str, name: str) -> etree._Element | None:
    """Remove name from the element's <set_tag> blocks; the removed nvpair or None."""
    pair = get_nvpair(element, set_tag, name)
    if pair is not None:
        parent = pair.getparent()
        if parent is not None:
            parent.remove(pair)
    return pair


def remove(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)
