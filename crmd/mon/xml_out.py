"""crm_mon --output-as=xml: Pacemaker 2.1.5's <pacemaker-result api-version="2.25"> document.

Pure: a MonView in, XML text out. Like Pacemaker's XML output it always carries every
section (summary, nodes, resources with inactive ones, node_attributes, node_history,
failures) whatever the text display switches say, and ends with <status code="0">.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from lxml import etree

from crmd.mon.history import NodeHistory, is_true
from crmd.mon.text import Display, MonView, ctime
from pengine.api import (
    ClusterStatus,
    ResourceStatus,
    ResourceWriter,
    duration_ms,
    exec_status_text,
    leaves,
    nodes_element,
    rc_text,
    resources_element,
)

API_VERSION = "2.25"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _summary(parent: etree._Element, view: MonView, shows: Callable[[str], bool]) -> None:
    """<summary>: the elements of the summary sections shown (none shown: no element)."""
    if not any(map(shows, ("stack", "dc", "times", "counts", "options"))):
        return
    status = view.status
    options = dict(status.options)
    cib = dict(view.cib_attributes)
    summary = etree.SubElement(parent, "summary")
    if shows("stack"):
        etree.SubElement(summary, "stack",
                         type=options.get("cluster-infrastructure", "unknown"))
    dc = next((n for n in status.nodes if n.name == status.dc), None)
    if shows("dc") and dc is None:
        etree.SubElement(summary, "current_dc", present="false")
    elif shows("dc") and dc is not None:
        etree.SubElement(summary, "current_dc", present="true",
                         version=options.get("dc-version", ""), name=dc.name, id=dc.id,
                         with_quorum=_bool(status.have_quorum), mixed_version="false")
    if shows("times"):
        etree.SubElement(summary, "last_update", time=view.last_updated)
        etree.SubElement(summary, "last_change", time=cib.get("cib-last-written", ""),
                         user=cib.get("update-user", ""),
                         client=cib.get("update-client", ""),
                         origin=cib.get("update-origin", ""))
    from pengine.api import resource_counts

    total, disabled, blocked = resource_counts(status)
    if shows("counts"):
        etree.SubElement(summary, "nodes_configured", number=str(len(status.nodes)))
        etree.SubElement(summary, "resources_configured", number=str(total),
                         disabled=str(disabled), blocked=str(blocked))
    if not shows("options"):
        return
    etree.SubElement(summary, "cluster_options", {
        "stonith-enabled": _bool(status.stonith_enabled),
        "symmetric-cluster": options.get("symmetric-cluster", "true"),
        "no-quorum-policy": _no_quorum_policy(status, cib),
        "maintenance-mode": _bool(is_true(options.get("maintenance-mode"))),
        "stop-all-resources": options.get("stop-all-resources", "false"),
        "stonith-timeout-ms": str(duration_ms(options.get("stonith-timeout"), 60000)),
        "priority-fencing-delay-ms": str(duration_ms(options.get("priority-fencing-delay"), 0))})


def _no_quorum_policy(status: ClusterStatus, cib: dict[str, str]) -> str:
    """The policy in force: Pacemaker resets "suicide" to "stop" when fencing is disabled,
    or when the cluster has never had quorum (no quorum now, no no-quorum-panic)."""
    policy = dict(status.options).get("no-quorum-policy", "stop")
    if policy.lower() == "suicide" and not (
            status.stonith_enabled and (status.have_quorum or is_true(cib.get("no-quorum-panic")))):
        return "stop"
    return policy


def _by_node(nodes: etree._Element, view: MonView) -> None:
    """-n: each node element lists the primitives active on it, in the order of that
    node's resource history (Pacemaker's per-node running list), as in its XML output."""
    writer = ResourceWriter(view.status, view.facts)
    members = _leaves_with_anonymity(view.status.resources, False)
    order = {h.node: [r.resource for r in h.resources] for h in view.histories}
    for element in nodes:
        name = element.get("name", "")
        history = order.get(name, [])
        here = [(leaf, anon) for leaf, anon in members if name in leaf.running_on]
        here.sort(key=lambda pair: _history_index(history, pair[0].id))
        for leaf, anonymous in here:
            writer.resource(element, leaf, anonymous)


def _history_index(history: list[str], rsc_id: str) -> int:
    """Where `rsc_id` stands in a node's history (a clone instance's number there may
    differ from ours: then its configured id decides)."""
    if rsc_id in history:
        return history.index(rsc_id)
    bases = [entry.split(":")[0] for entry in history]
    base = rsc_id.split(":")[0]
    return bases.index(base) if base in bases else len(history)


def _leaves_with_anonymity(resources: tuple[ResourceStatus, ...], anonymous: bool
                           ) -> list[tuple[ResourceStatus, bool]]:
    found: list[tuple[ResourceStatus, bool]] = []
    for rsc in resources:
        if rsc.kind == "primitive":
            found.append((rsc, anonymous))
            continue
        inside = anonymous or (rsc.kind in ("clone", "promotable") and not rsc.unique)
        found += _leaves_with_anonymity(rsc.children, inside)
    return found


def _attributes(parent: etree._Element, view: MonView) -> None:
    from crmd.mon.text import expected_scores, node_order, shown_attributes

    status = view.status
    nodes = [n for n in sorted(status.nodes, key=lambda n: node_order(n.name))
             if n.online and shown_attributes(n)]
    if not nodes:
        return
    section = etree.SubElement(parent, "node_attributes")
    for node in nodes:
        shown = shown_attributes(node)
        if shown:
            element = etree.SubElement(section, "node", name=node.name)
            expected = expected_scores(view, node.name)
            for name, value in shown:
                attribute = etree.SubElement(element, "attribute", name=name, value=value)
                if name in expected:
                    attribute.set("expected", str(expected[name]))


def _history(parent: etree._Element, histories: list[NodeHistory]) -> None:
    section = etree.SubElement(parent, "node_history")
    for node in histories:
        shown = [r for r in node.resources if r.operations]
        if not shown:
            continue
        element = etree.SubElement(section, "node", name=node.node)
        for rsc in shown:
            # Pacemaker says orphan="true" only for a history it has no resource for, and it
            # makes one (an orphan resource) for every history with operations.
            attrs = {"id": rsc.name, "orphan": "false",
                     "migration-threshold": str(rsc.migration_threshold)}
            if rsc.fail_count:
                attrs["fail-count"] = str(rsc.fail_count)
                if rsc.last_failure:
                    attrs["last-failure"] = ctime(rsc.last_failure)
            history = etree.SubElement(element, "resource_history", attrs)
            for op in rsc.operations:
                probe = op.task == "monitor" and op.interval_ms == 0
                rc = max(op.rc, 0)
                values = {"call": str(op.call_id), "task": "probe" if probe else op.task,
                          "rc": str(rc), "rc_text": rc_text(rc)}
                if op.interval_ms:
                    values["interval"] = f"{op.interval_ms}ms"
                if op.last_rc_change:
                    values["last-rc-change"] = ctime(op.last_rc_change)
                if op.exec_ms is not None:
                    values["exec-time"] = f"{op.exec_ms}ms"
                if op.queue_ms is not None:
                    values["queue-time"] = f"{op.queue_ms}ms"
                etree.SubElement(history, "operation_history", values)


def _failures(parent: etree._Element, status: ClusterStatus) -> None:
    if not status.failed_operations:
        return
    section = etree.SubElement(parent, "failures")
    for op in status.failed_operations:
        # Pacemaker names the entry by its operation key when the history has one, and
        # says "none" only for a missing exit-reason (an empty one stays empty).
        values = {"op_key" if op.op_key else "id": op.op_key or op.op_id, "node": op.node,
                  "exitstatus": rc_text(op.rc),
                  "exitreason": "none" if op.exit_reason is None else op.exit_reason,
                  "exitcode": str(op.rc), "call": str(op.call_id),
                  "status": exec_status_text(op.status)}
        if op.last_rc_change:
            when = datetime.datetime.fromtimestamp(op.last_rc_change, datetime.UTC)
            values["last-rc-change"] = f"{when:%Y-%m-%d %H:%M:%SZ}"
            if op.queue_time_ms is not None:
                values["queued"] = str(op.queue_time_ms)
            if op.exec_time_ms is not None:
                values["exec"] = str(op.exec_time_ms)
            values.update({"interval": str(op.interval_ms), "task": op.task})
        etree.SubElement(section, "failure", values)


def _bans(parent: etree._Element, view: MonView) -> None:
    if not view.status.bans:
        return
    section = etree.SubElement(parent, "bans")
    for ban in view.status.bans:
        etree.SubElement(section, "ban", {
            "id": ban.id, "resource": ban.resource, "node": ban.node,
            "weight": str(ban.weight), "promoted-only": _bool(ban.promoted_only),
            "master_only": _bool(ban.promoted_only)})


def render_xml(view: MonView, display: Display, request: str) -> str:
    """The whole XML document: every section unless --include/--exclude narrowed it (the
    other display switches do not narrow it, as in Pacemaker)."""
    shows = (lambda _name: True) if display.sections is None else display.sections.__contains__
    root = etree.Element("pacemaker-result", {"api-version": API_VERSION, "request": request})
    _summary(root, view, shows)
    if shows("nodes"):
        nodes = nodes_element(root, view.status, view.facts)
        if display.by_node:
            _by_node(nodes, view)
    if shows("resources"):
        # -n: a resource active everywhere it has instances is listed under its nodes
        # instead (a partly active group or clone stays here; none left: no element,
        # seed 1238)
        resources_element(root, view.status, view.facts, lambda rsc: display.by_node and all(
            leaf.running_on for leaf in leaves(rsc)))
    if shows("attributes"):
        _attributes(root, view)
    online = {n.name for n in view.status.nodes if n.online}
    if online and (shows("operations") or shows("failcounts")):
        # Pacemaker opens the section at the first online node
        _history(root, [h for h in view.histories if h.node in online])
    if shows("failures"):
        _failures(root, view.status)
    from crmd.mon.extras import fencing_xml, tickets_xml

    if shows("fencing-failed") or shows("fencing-pending") or shows("fencing-succeeded"):
        fencing_xml(root, view.fencing)
    if shows("tickets"):
        tickets_xml(root, view.tickets)
    if shows("bans"):
        _bans(root, view)
    etree.SubElement(root, "status", code="0", message="OK")
    return etree.tostring(root, pretty_print=True, encoding="unicode").rstrip("\n")
