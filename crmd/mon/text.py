"""crm_mon's text output (Pacemaker 2.1.5 layout), section by section.

Pure: a `MonView` (the unpacked ClusterStatus, the CIB's own attributes and the history
read from it) plus the display options in, lines out. The resource and node lines come
from the policy engine's renderer (the same lines crm_simulate prints as "Current cluster
status"); only crm_mon's headings, summary and optional sections live here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmd.mon.history import NodeHistory, Operation, ResourceHistory
from pengine.api import (
    ClusterStatus,
    NodeStatus,
    ResourceStatus,
    StatusFacts,
    failed_action_line,
    node_lines,
    rc_text,
    readable_interval,
    resource_counts,
    resource_lines,
)

if TYPE_CHECKING:
    from crmd.mon.extras import Ticket
    from stonithd.api import HistoryEntry


@dataclass(frozen=True, slots=True)
class Display:
    """crm_mon's display switches (-r, -A, -f, -o, -t, -n)."""

    inactive: bool = False
    attributes: bool = False
    failcounts: bool = False
    operations: bool = False
    timing: bool = False
    by_node: bool = False
    tickets: bool = False
    fence_level: int = 1
    # --include/--exclude's result (crmd.mon.sections); None: the default text sections
    sections: frozenset[str] | None = None

    def shows(self, section: str) -> bool:
        """Whether `section` is printed (the -A/-f/-o/-c switches add theirs)."""
        if self.sections is not None:
            return section in self.sections
        from crmd.mon.sections import TEXT_DEFAULT

        return section in TEXT_DEFAULT or {
            "attributes": self.attributes, "failcounts": self.failcounts,
            "operations": self.operations or self.timing, "tickets": self.tickets,
        }.get(section, False)


@dataclass(frozen=True, slots=True)
class MonView:
    """Everything crm_mon prints, already read from the CIB."""

    status: ClusterStatus
    cib_attributes: tuple[tuple[str, str], ...]
    histories: tuple[NodeHistory, ...]
    last_updated: str
    # what the XML status prints from the CIB as written (expected states, feature sets)
    facts: StatusFacts = field(default_factory=StatusFacts)
    tickets: tuple[Ticket, ...] = ()
    fencing: tuple[HistoryEntry, ...] | None = None  # None: no fencer to ask (file mode)
    # ping attributes: (attribute, ping resource id, the score when every host answers)
    expected_scores: tuple[tuple[str, str, int], ...] = ()


def ctime(stamp: int) -> str:
    """Pacemaker's timestamp text ("Fri Mar  2 05:46:23 2012"), in local time."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(stamp))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_lines(view: MonView, display: Display | None = None) -> list[str]:
    """The "Cluster Summary:" block: the lines of the summary sections shown."""
    shows = display.shows if display is not None else (lambda _section: True)
    status = view.status
    options = dict(status.options)
    cib = dict(view.cib_attributes)
    lines = []
    if shows("stack"):
        lines.append(f"  * Stack: {options.get('cluster-infrastructure', 'unknown')}")
    if shows("dc") and status.dc is None:
        lines.append("  * Current DC: NONE")
    elif shows("dc"):
        quorum = "with" if status.have_quorum else "WITHOUT"
        version = options.get("dc-version", "unknown")
        lines.append(f"  * Current DC: {status.dc} (version {version}) - partition "
                     f"{quorum} quorum")
    if shows("times"):
        lines.append(f"  * Last updated: {view.last_updated}")
        change = cib.get("cib-last-written", "")
        for label, key in (("by", "update-user"), ("via", "update-client"),
                           ("on", "update-origin")):
            if cib.get(key):
                change += f" {label} {cib[key]}"
        lines.append(f"  * Last change:  {change}")
    if shows("counts"):
        lines += _count_lines(status)
    return ["Cluster Summary:", *lines] if lines else []


def _count_lines(status: ClusterStatus) -> list[str]:
    total, disabled, blocked = resource_counts(status)
    notes = []
    if disabled:
        notes.append(f"{disabled} DISABLED")
    if blocked:
        notes.append(f"{blocked} BLOCKED from further action due to failure")
    extra = f" ({', '.join(notes)})" if notes else ""
    return [f"  * {_plural(len(status.nodes), 'node')} configured",
            f"  * {_plural(total, 'resource instance')} configured{extra}"]


def _management_note(status: ClusterStatus) -> list[str]:
    options = dict(status.options)
    if options.get("maintenance-mode", "false").lower() in ("true", "yes", "on", "1", "y"):
        return ["", "              *** Resource management is DISABLED ***",
                "  The cluster will not attempt to start, stop or recover services"]
    if options.get("stop-all-resources", "false").lower() in ("true", "yes", "on", "1", "y"):
        # Pacemaker 2.1.5 indents this banner 4 spaces, the maintenance-mode one 14
        return ["", "    *** Resource management is DISABLED ***",
                "  The cluster will keep all resources stopped"]
    return []


def bullets(lines: list[str], indent: str = "  ") -> list[str]:
    """Top-level entries get "* "; nested ones come with their own bullets already."""
    return [f"{indent}{line}" if line.startswith(" ") else f"{indent}* {line}"
            for line in lines]


def resources_section(view: MonView, display: Display) -> list[str]:
    heading = "Full List of Resources:" if display.inactive else "Active Resources:"
    lines = resource_lines(view.status, inactive=display.inactive)
    if not lines:
        empty = "No resources" if display.inactive else "No active resources"
        return [heading, f"  * {empty}"]
    return [heading, *bullets(lines)]


def render(view: MonView, display: Display) -> list[str]:
    """The whole one-shot text output: the sections shown, a blank line between them."""
    out: list[str] = []
    for block in filter(None, _core_blocks(view, display) + _extra_blocks(view, display)):
        out += ([""] if out else []) + block
    return out


def _core_blocks(view: MonView, display: Display) -> list[list[str]]:
    """Summary, management note, nodes and resources."""
    blocks = [summary_lines(view, display)]
    if display.shows("maint-mode"):
        blocks.append(_management_note(view.status)[1:])
    if display.by_node and display.shows("nodes"):
        from crmd.mon.bynode import by_node_sections

        blocks.append(by_node_sections(view, display))
    elif display.shows("nodes"):
        blocks.append(["Node List:", *bullets(node_lines(view.status))])
    if display.shows("resources") and not display.by_node:
        blocks.append(resources_section(view, display))
    return blocks


def _extra_blocks(view: MonView, display: Display) -> list[list[str]]:
    """Attributes, history, failures, fencing, tickets and bans, in Pacemaker's order."""
    from crmd.mon.extras import ban_lines, fencing_lines, ticket_lines

    blocks = []
    if display.shows("attributes"):
        blocks.append(attribute_section(view)[1:])
    if display.shows("operations"):
        blocks.append(operations_section(view, display.timing)[1:])
    elif display.shows("failcounts"):
        blocks.append(migration_section(view)[1:])
    failed = view.status.failed_operations
    if failed and display.shows("failures"):
        blocks.append(["Failed Resource Actions:",
                       *(f"  * {failed_action_line(op)}" for op in failed)])
    level = display.fence_level
    if display.shows("fencing-failed"):
        blocks.append(fencing_lines(view.fencing, level, failed=True)[1:])
    if display.shows("tickets"):
        blocks.append(ticket_lines(view.tickets)[1:])
    if display.shows("bans"):
        blocks.append(ban_lines(view.status))
    if display.shows("fencing-pending") or display.shows("fencing-succeeded"):
        blocks.append(fencing_lines(view.fencing, level, failed=False)[1:])
    return blocks


# Pacemaker never shows attributes with these prefixes under "Node Attributes".
_HIDDEN_ATTRIBUTES = ("fail-count-", "last-failure-", "shutdown", "terminate", "standby", "#")


def shown_attributes(node: NodeStatus) -> list[tuple[str, str]]:
    return [(k, v) for k, v in node.attributes if not k.startswith(_HIDDEN_ATTRIBUTES)]


def attribute_section(view: MonView) -> list[str]:
    """Attributes of online nodes, sorted by name (Pacemaker lists them in hash-table
    order, which no one can reproduce; see the accepted differences in the oracle test).
    A ping resource's attribute says how its connectivity stands, as Pacemaker's does."""
    lines = []
    for node in sorted(view.status.nodes, key=lambda n: node_order(n.name)):
        shown = shown_attributes(node)
        if not node.online or not shown:
            continue
        expected = expected_scores(view, node.name)
        lines.append(f"  * Node: {node.name}:")
        for name, value in shown:
            line = f"    * {name:<32}\t: {value:<10}"
            if name in expected:
                score = _leading_int(value)
                if score <= 0:
                    line += "\t: Connectivity is lost"
                elif score < expected[name]:
                    line += f"\t: Connectivity is degraded (Expected={expected[name]})"
            lines.append(line)
    return ["", "Node Attributes:", *lines] if lines else []


def expected_scores(view: MonView, node: str) -> dict[str, int]:
    """The ping attributes Pacemaker annotates on `node`: those whose ping resource (an
    instance of it, for a clone) runs there."""
    running = {leaf.id.split(":")[0] for leaf in _leaves(view.status.resources)
               if node in leaf.running_on}
    return {name: score for name, rsc, score in view.expected_scores if rsc in running}


def _leaves(resources: tuple[ResourceStatus, ...]) -> list[ResourceStatus]:
    found = []
    for rsc in resources:
        found += [rsc] if rsc.kind == "primitive" else _leaves(rsc.children)
    return found


def node_order(name: str) -> tuple[tuple[int, int | str], ...]:
    """Pacemaker's node order: case-insensitive, runs of digits compared as numbers
    (dhcp69 before dhcp180)."""
    import re

    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.findall(r"\d+|\D+", name.lower()))


def _leading_int(text: str) -> int:
    digits = text.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    number = digits[:len(digits) - len(digits.lstrip("0123456789"))]
    return sign * int(number) if number else 0


def _failure_text(rsc: ResourceHistory, name: str) -> str:
    text = f"{name}: migration-threshold={rsc.migration_threshold}"
    if rsc.fail_count:
        text += f" fail-count={rsc.fail_count}"
        if rsc.last_failure:
            text += f" last-failure='{ctime(rsc.last_failure)}'"
    return text


def _online_histories(view: MonView) -> list[NodeHistory]:
    online = {node.name for node in view.status.nodes if node.online}
    return [history for history in view.histories if history.node in online]


def migration_section(view: MonView) -> list[str]:
    if not any(node.online for node in view.status.nodes):
        return []  # Pacemaker opens the section at the first online node
    lines = []
    for node in _online_histories(view):
        failing = [r for r in node.resources if r.fail_count]
        if not failing:
            continue
        lines.append(f"  * Node: {node.node}:")
        lines += [f"    * {_failure_text(r, r.resource)}" for r in failing]
    return ["", "Migration Summary:", *lines]


def _op_text(op: Operation, timing: bool) -> str:
    task = "probe" if op.task == "monitor" and op.interval_ms == 0 else op.task
    text = f"({op.call_id}) {task}"
    details = []
    if op.interval_ms:
        details.append(f'interval="{op.interval_ms}ms"')
    if timing:
        if op.last_rc_change:
            details.append(f'last-rc-change="{ctime(op.last_rc_change)}"')
        if op.exec_ms is not None:
            details.append(f'exec-time="{op.exec_ms}ms"')
        if op.queue_ms is not None:
            details.append(f'queue-time="{op.queue_ms}ms"')
        rc = max(op.rc, 0)  # pending and unknown results show as 0, as Pacemaker does
        details.append(f"rc={rc} ({rc_text(rc)})")
    return f"{text}: {' '.join(details)}" if details else text


def operations_section(view: MonView, timing: bool) -> list[str]:
    if not any(node.online for node in view.status.nodes):
        return []  # as for the migration summary: no online node, no heading
    lines = ["", "Operations:"]
    for node in _online_histories(view):
        shown = [r for r in node.resources if r.operations]
        if not shown:
            continue
        lines.append(f"  * Node: {node.node}:")
        for rsc in shown:
            lines.append(f"    * {_failure_text(rsc, rsc.name)}:")
            lines += [f"      * {_op_text(op, timing)}" for op in rsc.operations]
    return lines


__all__ = ["Display", "MonView", "ctime", "readable_interval", "render"]
