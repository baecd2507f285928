"""What a CIB change (Pacemaker's v2 patchset, as the cib daemon publishes it) may touch,
for daemons that keep something derived from the CIB and want to skip the rebuild when a
change cannot alter it (Pacemaker's fencer and controller, too, look at the changed paths
of a diff before re-reading).

Pure and conservative: every answer errs towards "may touch". A change whose effect on a
cluster option cannot be read from the patch (a deletion or move names ids, not option
names; a whole section created or replaced) counts as touching every option.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

CONFIGURATION = "/cib/configuration"
CRM_CONFIG = CONFIGURATION + "/crm_config"

OptionFilter = Callable[[str], bool]


def parse_patch(text: str) -> etree._Element | None:
    """The patchset's root, or None when it is not a v2 patchset."""
    try:
        root = etree.fromstring(text.encode(),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    return root if root.tag == "diff" and root.get("format") == "2" else None


def configuration_section(path: str) -> str | None:
    """The <configuration> child a change path lies in ("crm_config"), "" for the
    configuration element itself, None for a path outside the configuration."""
    if path == CONFIGURATION:
        return ""
    if not path.startswith(CONFIGURATION + "/"):
        return None
    return path[len(CONFIGURATION) + 1:].split("/", 1)[0].split("[", 1)[0]


def touches_options(patch: etree._Element, wanted: OptionFilter) -> bool:
    """Whether `patch` may change the value of a cluster option (crm_config nvpair) whose
    name `wanted` accepts."""
    return any(change_touches_options(change, wanted) for change in patch.iterfind("change"))


def change_touches_options(change: etree._Element, wanted: OptionFilter) -> bool:
    """`touches_options` for one <change> element."""
    operation, path = change.get("operation", ""), change.get("path", "")
    if path == "/cib":
        return operation != "modify"  # the root's own attributes are no option
    section = configuration_section(path)
    if section is None or section not in ("", "crm_config"):
        return False
    if not path.startswith(CRM_CONFIG + "/"):
        return True  # the configuration or crm_config itself: anything may have changed
    if operation == "create":
        return any(_named(pair, wanted) for pair in change.iter("nvpair"))
    if operation != "modify":
        return True
    if any(attr.get("name") == "name" for attr in change.iter("change-attr")):
        return True  # renamed: the old name is not in the patch
    result = change.find("change-result")
    return result is None or any(_named(pair, wanted) for pair in result.iter("nvpair"))


def _named(pair: etree._Element, wanted: OptionFilter) -> bool:
    name = pair.get("name")
    return name is None or wanted(name)


__all__ = ["CONFIGURATION", "CRM_CONFIG", "OptionFilter", "change_touches_options",
           "configuration_section", "parse_patch", "touches_options"]
