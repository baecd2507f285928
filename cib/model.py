"""The CIB document: sections, the version triple and Pacemaker's counter arithmetic.

Invariants: versions are (admin_epoch, epoch, num_updates) compared lexicographically; an
absent or unparsable field counts as -1 when comparing a replacement (as Pacemaker's
cib_version_details does) and as 0 when bumping; `expand_plus_plus` implements the
``name++`` / ``name+=N`` values Pacemaker expands, saturating at INFINITY (1000000).
"""

from __future__ import annotations

import re

from lxml import etree

from cib.xmlio import Element, attributes
from messaging.types import Version as Version  # re-exported: the CIB version type

INFINITY = 1_000_000
LATEST_SCHEMA = "pacemaker-3.9"
FEATURE_SET = "3.16.1"

# Section name -> path of element names from <cib> (Pacemaker's cib_sections table).
SECTIONS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "configuration": ("configuration",),
    "crm_config": ("configuration", "crm_config"),
    "nodes": ("configuration", "nodes"),
    "resources": ("configuration", "resources"),
    "constraints": ("configuration", "constraints"),
    "op_defaults": ("configuration", "op_defaults"),
    "rsc_defaults": ("configuration", "rsc_defaults"),
    "acls": ("configuration", "acls"),
    "fencing-topology": ("configuration", "fencing-topology"),
    "tags": ("configuration", "tags"),
    "alerts": ("configuration", "alerts"),
}
WHOLE = frozenset({"cib", "all"})



def _field(cib: Element, name: str, absent: int) -> int:
    value = cib.get(name)
    if value is None:
        return absent
    try:
        return int(value)
    except ValueError:
        return -1


def version_of(cib: Element, absent: int = -1) -> Version:
    """The version triple of a <cib> element."""
    return Version(*(_field(cib, name, absent) for name in ("admin_epoch", "epoch",
                                                             "num_updates")))


def bump_counter(cib: Element, name: str, reset: bool = False) -> None:
    """Pacemaker's cib_update_counter: +1, or "1" when reset or absent."""
    old = cib.get(name)
    if reset or old is None:
        cib.set(name, "1")
        return
    cib.set(name, str(_leading_int(old) + 1))


def manage_counters(cib: Element, config_changed: bool) -> None:
    """After a change: epoch+1 and num_updates=0 for configuration, else num_updates+1."""
    if config_changed:
        cib.set("num_updates", "0")
        cib.set("epoch", str(_field(cib, "epoch", 0) + 1))
    else:
        cib.set("num_updates", str(_field(cib, "num_updates", 0) + 1))


def last_written_text(wall: float) -> str:
    """`wall` (seconds since the epoch) as Pacemaker writes cib-last-written: ctime's
    layout in local time, without the newline ("Sun Dec  6 06:00:00 2026"). datetime is
    imported here, not at the top: cibadmin imports this module at every start, writes only
    sometimes, and datetime costs ~6 M instructions to import (`time` would do, but a pure
    core does not import the clock's module)."""
    from datetime import datetime

    return datetime.fromtimestamp(wall).strftime("%a %b %e %H:%M:%S %Y")


# Pacemaker records the author only in CIBs whose schema has the update-* attributes.
_AUTHOR_ATTRIBUTES = ("update-origin", "update-client", "update-user")


def records_author(validate_with: str | None) -> bool:
    """Whether a CIB validated with `validate_with` takes the update-* attributes:
    pacemaker-1.2 and later, pacemaker-next and none; not older or unknown names."""
    if validate_with in ("pacemaker-next", "none"):
        return True
    match = re.fullmatch(r"pacemaker-(\d+)\.(\d+)", validate_with or "")
    return match is not None and (int(match.group(1)), int(match.group(2))) >= (1, 2)


def stamp_author(cib: Element, origin: str, client: str | None, user: str | None) -> None:
    """Record who made a configuration change on the root, as Pacemaker's cib_perform_op
    does next to cib-last-written; a value not known removes the attribute, so that the
    previous change's author is not shown as this one's."""
    if not records_author(cib.get("validate-with")):
        return
    for name, value in zip(_AUTHOR_ATTRIBUTES, (origin, client, user), strict=True):
        if value is None:
            if name in cib.attrib:
                del cib.attrib[name]
        else:
            cib.set(name, value)


def find_section(cib: Element, scope: str | None) -> Element | None:
    """The element a scope names; None or an unknown scope means the whole CIB (as Pacemaker
    treats them), a known section that is absent gives None."""
    path = SECTIONS.get(scope or "cib")
    if path is None:
        return cib
    node: Element | None = cib
    for name in path:
        node = node.find(name) if node is not None else None
    return node


def section_parent(cib: Element, scope: str) -> Element | None:
    """The element a known section lives in (configuration or the root)."""
    path = SECTIONS[scope]
    return cib if len(path) == 1 else cib.find(path[0])


def empty_cib(validate_with: str = LATEST_SCHEMA, epoch: int = 1) -> Element:
    """Pacemaker's createEmptyCib: the attribute order and sections it writes."""
    cib = etree.Element("cib")
    cib.set("crm_feature_set", FEATURE_SET)
    cib.set("validate-with", validate_with)
    cib.set("epoch", str(epoch))
    cib.set("num_updates", "0")
    cib.set("admin_epoch", "0")
    configuration = etree.SubElement(cib, "configuration")
    etree.SubElement(cib, "status")
    for name in ("crm_config", "nodes", "resources", "constraints"):
        etree.SubElement(configuration, name)
    return cib


_INT = re.compile(r"^\s*([+-]?\d+)")


def _leading_int(text: str) -> int:
    found = _INT.match(text)
    return int(found.group(1)) if found else 0


def char2score(text: str | None) -> int:
    """Pacemaker's score parser: ±INFINITY words, else the leading integer, clamped."""
    if text is None:
        return 0
    lowered = text.strip().lower()
    if lowered == "-infinity":
        return -INFINITY
    if lowered in ("infinity", "+infinity"):
        return INFINITY
    return max(-INFINITY, min(INFINITY, _leading_int(text)))


def expand_plus_plus(target: Element, name: str, value: str, self_expand: bool = False) -> None:
    """Set `name` on `target`, expanding ``name++`` and ``name+=N`` against the old value.

    With `self_expand` the value is already on the element (Pacemaker's final pass over a
    result), so the old value counts as 0 and a plain value is left alone.
    """
    old = target.get(name)
    expandable = (old is not None and value.startswith(name) and len(value) >= len(name) + 2
                  and value[len(name)] == "+" and value[len(name) + 1] in "+=")
    if not expandable:
        if not self_expand:
            target.set(name, value)
        return
    current = 0 if self_expand else char2score(old)
    offset = 1 if value[len(name) + 1] == "+" else char2score(value[len(name) + 2:])
    target.set(name, str(min(current + offset, INFINITY)))


def copy_in_properties(target: Element, source: Element) -> None:
    """Merge `source`'s attributes into `target` with ++ expansion (copy_in_properties)."""
    for name, value in attributes(source):
        expand_plus_plus(target, name, value)


def fix_plus_plus(root: Element) -> None:
    """Expand any ``name++`` left in the tree (a value that names its own attribute)."""
    # XPath finds the candidates in C: a Python walk over every attribute cost more than
    # the rest of a small write on a CIB of a few hundred resources
    found = root.xpath("descendant-or-self::*/@*[contains(., '+')]")
    for value in found if isinstance(found, list) else ():
        owner, name = getattr(value, "getparent", None), getattr(value, "attrname", None)
        if owner is not None and name is not None:  # an attribute value (_ElementUnicodeResult)
            expand_plus_plus(owner(), str(name), str(value), self_expand=True)


def as_started(tree: Element) -> Element:
    """`tree` (changed in place) as a cib starts from its disk copy: the status section
    emptied and ``dc-uuid`` removed (Pacemaker keeps no status across a restart: the
    cluster's copy brings it), missing version fields set to 0."""
    for status in tree.findall("status"):
        tree.remove(status)
    tree.append(etree.Element("status"))
    if "dc-uuid" in tree.attrib:
        del tree.attrib["dc-uuid"]
    for name in ("admin_epoch", "epoch", "num_updates"):
        if tree.get(name) is None:
            tree.set(name, "0")
    return tree
