"""crm_mon -s/--simple-status: Pacemaker 2.1.5's one-line check (for Nagios-style use).

Pure: a MonView in, (line, warned) out. Without a DC or with a node that is not online the
line is "CLUSTER WARN: " + "No DC" and/or "offline node: NAME" for each such node (joined
by spaces, after ", " when both); otherwise "CLUSTER OK: N node(s) online" plus ", N standby
node(s)" and ", N maintenance node(s)" counted among online nodes, and "N resource
instance(s) configured". On a warning Pacemaker 2.1.5 also prints "Error outputting status
info from the fencer or CIB" on stderr, and still exits 0: the shell reproduces both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmd.mon.text import MonView

WARNING_NOTE = "Error outputting status info from the fencer or CIB"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def simple_status(view: MonView) -> tuple[str, bool]:
    """The one line, and whether it is a warning."""
    from pengine.api import resource_counts

    status = view.status
    online = standby = maintenance = 0
    offline: list[str] = []
    for node in status.nodes:
        if node.online and node.standby:
            standby += 1
        elif node.online and node.maintenance:
            maintenance += 1
        elif node.online:
            online += 1
        else:
            offline.append(f"offline node: {node.name}")
    if status.dc is None or offline:
        parts = (["No DC"] if status.dc is None else []) + ([" ".join(offline)] if offline
                                                           else [])
        return f"CLUSTER WARN: {', '.join(parts)}", True
    extra = "".join(f", {_plural(count, f'{word} node')}" for count, word in
                    ((standby, "standby"), (maintenance, "maintenance")) if count)
    instances = resource_counts(status)[0]
    return (f"CLUSTER OK: {_plural(online, 'node')} online{extra}, "
            f"{_plural(instances, 'resource instance')} configured"), False
