"""Whether a CIB change (Pacemaker's v2 patchset) can alter stonithd's fencing configuration.

stonithd rebuilds its configuration (`devices.load_config`) from the whole CIB; fetching and
parsing the whole CIB after every configuration change costs every node CPU on every write
(a cluster option written by a tool, a resource's meta attribute). Pacemaker's fencer, too,
re-reads only when a change touches what it uses: fencing devices, fencing topology, node
attributes and the stonith-* cluster options.

`concerns_fencing(patch)` is pure and conservative: it answers False only when every change
of the patch provably lies outside what `load_config` reads (the status section, the root
element's own attributes, configuration sections load_config never reads, crm_config
name/value pairs whose name is not stonith-* before and after). Anything it cannot prove
(an unreadable patch, a deletion or move inside crm_config, a change of a whole section) is
a concern, and the caller fetches the whole CIB as before.
"""

from __future__ import annotations

from lxml import etree

# Sections of <configuration> that devices.load_config reads (keep in step with it).
READ_SECTIONS = frozenset({"resources", "constraints", "fencing-topology", "nodes",
                           "crm_config"})
STONITH_OPTION_PREFIX = "stonith-"
_CONFIGURATION = "/cib/configuration/"
_CRM_CONFIG = _CONFIGURATION + "crm_config/"


def concerns_fencing(patch: str) -> bool:
    """Whether applying `patch` could change what `load_config` builds from the CIB."""
    try:
        root = etree.fromstring(patch.encode(),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return True
    if root.tag != "diff" or root.get("format") != "2":
        return True
    return any(_change_concerns(change) for change in root.iterfind("change"))


def _change_concerns(change: etree._Element) -> bool:
    operation, path = change.get("operation", ""), change.get("path", "")
    if path == "/cib/status" or path.startswith("/cib/status/"):
        return False
    if path == "/cib":
        # The root's own attributes (versions, cib-last-written) are not read; a child
        # created under the root (a whole configuration) is.
        return operation != "modify"
    if not path.startswith(_CONFIGURATION):
        return True
    section = path[len(_CONFIGURATION):].split("/", 1)[0].split("[", 1)[0]
    if section not in READ_SECTIONS:
        return False
    if section == "crm_config" and path.startswith(_CRM_CONFIG):
        return _crm_config_change_concerns(change, operation)
    return True


def _crm_config_change_concerns(change: etree._Element, operation: str) -> bool:
    """A change below <crm_config>: only stonith-* options matter (a deletion or move only
    names ids, not option names, so it is a concern)."""
    if operation == "create":
        return any(_stonith_option(pair.get("name")) for pair in change.iter("nvpair"))
    if operation != "modify":
        return True
    result = change.find("change-result")
    if result is None or len(result) != 1 or result[0].tag != "nvpair":
        return result is None or any(_stonith_option(pair.get("name"))
                                     for pair in result.iter("nvpair"))
    renamed = any(attr.get("name") == "name" for attr in change.iter("change-attr"))
    return renamed or _stonith_option(result[0].get("name"))


def _stonith_option(name: str | None) -> bool:
    return name is None or name.startswith(STONITH_OPTION_PREFIX)


__all__ = ["READ_SECTIONS", "concerns_fencing"]
