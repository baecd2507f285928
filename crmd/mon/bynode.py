"""crm_mon -n: resources listed under the node they run on, then the inactive ones (-r).

Pure. Pacemaker lists a node's resources in the order it found them active while reading
the status section; that is the order of the node's <lrm_resource> entries, which the
history (crmd.mon.history) keeps, so instances sort by their position there.
"""

from __future__ import annotations

from crmd.mon.text import Display, MonView, bullets
from pengine.api import (
    ResourceStatus,
    node_state_text,
    primitive_line,
    resource_lines,
)


def _leaves(rsc: ResourceStatus, unique: bool = True) -> list[tuple[ResourceStatus, bool]]:
    """Primitive instances with whether they keep their own id: all but an anonymous
    clone's instances (a globally-unique clone's instance beyond clone-max is a top-level
    orphan, shown as "d11:4": seed 1414)."""
    if rsc.kind == "primitive":
        return [(rsc, unique)]
    found = []
    for child in rsc.children:
        found += _leaves(child, rsc.unique if rsc.kind in ("clone", "promotable") else unique)
    return found


def _without_node(line: str, node: str) -> str:
    head, sep, state = line.partition("):\t ")
    return head + sep + state.replace(f" {node}", "", 1)


def _history_order(view: MonView, node_name: str) -> dict[str, int]:
    """Resource id -> position of its history entry on the node.

    Anonymous clone instances are numbered by the engine, not by the history, so their
    configured id maps to the entry that left the resource active (else the first one).
    """
    exact: dict[str, int] = {}
    running: dict[str, int] = {}
    for history in view.histories:
        if history.node != node_name:
            continue
        for index, entry in enumerate(history.resources):
            exact.setdefault(entry.resource, index)
            last = entry.operations[-1] if entry.operations else None
            # a failed start or monitor leaves it active (FAILED) there too
            if last is not None and not (last.task == "stop" and last.rc == 0) \
                    and last.rc != 7:
                running.setdefault(entry.resource.split(":")[0], index)
    for rsc_id, index in exact.items():
        running.setdefault(rsc_id.split(":")[0], index)
    return {**running, **{k: v for k, v in exact.items() if ":" in k}}


def _node_block(view: MonView, node_name: str, instances: list[tuple[ResourceStatus, bool]],
                promotable: set[str]) -> list[str]:
    order = _history_order(view, node_name)
    here = [(rsc, unique) for rsc, unique in instances if node_name in rsc.running_on]
    here.sort(key=lambda item: order.get(item[0].id if item[1] else item[0].id.split(":")[0],
                                         len(order)))
    lines = ["    * Resources:"]
    for rsc, unique in here:
        shown = rsc if unique else rsc.replace(id=rsc.id.split(":")[0])
        # Active on several nodes: each node lists it on its own, without the node list.
        shown = shown.replace(running_on=(node_name,))
        line = _without_node(primitive_line(shown, rsc.id in promotable), node_name)
        if rsc.description:  # listing resources alone, Pacemaker adds their description
            line += f" {rsc.description}"
        lines.append(f"      * {line}")
    return lines


def _inactive(view: MonView) -> list[str]:
    partly = tuple(r for r in view.status.resources
                   if any(not leaf.running_on for leaf, _ in _leaves(r)))
    lines = resource_lines(view.status.replace(resources=partly), inactive_section=True)
    return ["", "Inactive Resources:", *(bullets(lines) or ["  * No inactive resources"])]


def by_node_sections(view: MonView, display: Display) -> list[str]:
    instances = [leaf for rsc in view.status.resources for leaf in _leaves(rsc)]
    promotable = {leaf.id for rsc in view.status.resources if rsc.kind == "promotable"
                  for leaf, _ in _leaves(rsc)}
    busy = {n for rsc, _ in instances for n in rsc.running_on}
    lines = ["Node List:"]
    for node in view.status.nodes:
        lines.append(f"  * Node {node.name}: {node_state_text(node, node.name in busy)}:")
        lines += _node_block(view, node.name, instances, promotable)
    if display.inactive:
        lines += _inactive(view)
    return lines
