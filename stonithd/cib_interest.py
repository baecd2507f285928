"""Whether a CIB change (Pacemaker's v2 patchset) can alter stonithd's fencing configuration.

stonithd rebuilds its configuration (`devices.load_config`) from the whole CIB; fetching and
parsing the whole CIB after every configuration change costs every node CPU on every write
(a cluster option written by a tool, a resource's meta attribute). Pacemaker's fencer, too,
re-reads only when a change touches what it uses: fencing devices, fencing topology, node
attributes and the stonith-* cluster options.

`concerns_fencing(patch)` is pure and conservative: it answers False only when every change
of the patch provably lies outside what `load_config` reads (the status section, the root
element's own attributes, configuration sections load_config never reads, crm_config
name/value pairs whose name is not stonith-* before and after:
`messaging.cib_changes.change_touches_options`). Anything it cannot prove (an unreadable
patch, a deletion or move inside crm_config, a change of a whole section) is a concern, and
the caller fetches the whole CIB as before.
"""

from __future__ import annotations

from messaging.cib_changes import change_touches_options, configuration_section, parse_patch

# Sections of <configuration> that devices.load_config reads (keep in step with it).
READ_SECTIONS = frozenset({"resources", "constraints", "fencing-topology", "nodes"})
STONITH_OPTION_PREFIX = "stonith-"


def concerns_fencing(patch: str) -> bool:
    """Whether applying `patch` could change what `load_config` builds from the CIB."""
    root = parse_patch(patch)
    if root is None:
        return True
    for change in root.iterfind("change"):
        path = change.get("path", "")
        if path == "/cib/status" or path.startswith("/cib/status/"):
            continue
        section = configuration_section(path)
        if section in READ_SECTIONS or (section is None and path != "/cib"):
            return True
        if change_touches_options(change, _stonith_option):
            return True
    return False


def _stonith_option(name: str) -> bool:
    return name.startswith(STONITH_OPTION_PREFIX)


__all__ = ["READ_SECTIONS", "concerns_fencing"]
