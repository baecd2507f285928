"""What a CIB change means to the controller, and the CIB writes its effects become.

Two pure translations between the controller core and the cib daemon's language:

- `diff_events(patch, version, now, wall)`: a `CibDiff` (Pacemaker's v2 patchset as text) as the
  events the core takes: one `CibChanged` (configuration moved when a change touches
  /cib/configuration; transient attributes moved when one touches transient_attributes)
  and, when operation records were created or changed, one `StatusUpdated` holding them
  (each `lrm_rsc_op` inside an `lrm_resource` naming its resource, as Pacemaker's DC reads
  them in `te_update_diff`). Deletions carry no results; as Pacemaker's process_delete_diff
  sorts them: a deleted operation record marks the change `history_removed` (the DC
  replans: a cleanup may have dropped a result the graph counted on); a deleted
  transient_attributes, lrm or node_state part goes to `removals` with its node id, and
  aborts only when the running graph neither fences nor shuts down that node
  (``abort_unless_down``: a lost node's attributes and history go as it is fenced).
  `timing_changed` says whether a controller timing option may have moved
  (`messaging.cib_changes.touches_options`): the daemon re-reads its options only then.
  `version_change(version, now, wall)`: what a non-DC controller takes of a status change.
- `write_of(effect)`: `ModifyCib`, `DeleteCib` and `ClearFailures` as cib write requests
  (`cib.api.WireRequest`): status merges are modifications that may create, xpath deletes
  may match several elements or none.
- `resend_refused(exit_code)`: whether a write the cib answered with this code must be sent
  again (the cib could not tell whether it was applied: the view or the master changed).
- `attribute_write(...)`: a transient attribute as attrd writes it in the status section
  (`transient_attributes/instance_attributes id="status-<node id>"`, nvpair id
  ``status-<node id>-<name>`` with characters ids may not hold replaced by '.').

Invariants: pure (no I/O, no clock); a patch that does not parse yields no events.
"""

from __future__ import annotations

import re

from lxml import etree

from cib.api import WireRequest
from crmd.messages import CibChanged, ClearFailures, DeleteCib, ModifyCib, StatusUpdated
from crmd.options import TIMING_OPTIONS
from messaging.cib_changes import touches_options
from messaging.errors import ExitCode

_RESOURCE_IN_PATH = re.compile(r"lrm_resource\[@id='([^']*)'\]")
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]")


def _parse(text: str) -> etree._Element | None:
    try:
        return etree.fromstring(text.encode())
    except etree.XMLSyntaxError:
        return None


def _changed_ops(change: etree._Element) -> list[etree._Element]:
    """The lrm_rsc_op records a create or modify change carries, each inside an
    lrm_resource element naming its resource."""
    path = change.get("path") or ""
    found = []
    holders = [change] if change.get("operation") == "create" else list(
        change.iterfind("change-result"))
    for holder in holders:
        for op in holder.iter("lrm_rsc_op"):
            parent = op.getparent()
            if parent is not None and parent.tag == "lrm_resource":
                resource = parent.get("id", "")
            else:
                match = _RESOURCE_IN_PATH.search(path)
                resource = match.group(1) if match else ""
            wrapper = etree.Element("lrm_resource", id=resource)
            record = etree.SubElement(wrapper, "lrm_rsc_op")
            for name, value in op.attrib.items():
                record.set(name, value)
            found.append(wrapper)
    return found


_NODE_IN_PATH = re.compile(r"/node_state\[@id='([^']*)'\]")


def _removal(path: str) -> tuple[str, str] | None:
    """Pacemaker's process_delete_diff for a deleted status path: (node id, abort reason)
    for removals that abort unless that node's fencing or shutdown is in the graph
    (``abort_unless_down``), ("", reason) for an operation record (always aborts), None
    for anything else."""
    node = _NODE_IN_PATH.search(path)
    if not path.startswith("/cib/status") or node is None:
        return None
    if "/transient_attributes[" in path:
        return node.group(1), "Transient attribute: removal"
    if "/lrm_rsc_op[" in path:
        return "", "Resource operation removal"
    if "/lrm[" in path:
        return node.group(1), "Resource state removal"
    return node.group(1), "Node state removal"


def diff_events(patch_text: str | etree._Element, version: tuple[int, ...],
                now: float, wall: float = 0.0) -> list[CibChanged | StatusUpdated]:
    """The controller events of one CIB change (see the module docstring); the patch as
    text or as a tree already parsed (left unchanged, so the DC's copy can apply it too)."""
    patch = _parse(patch_text) if isinstance(patch_text, str) else patch_text
    if patch is None:
        return []
    config = attributes = removed = False
    removals: list[tuple[str, str]] = []
    ops: list[etree._Element] = []
    for change in patch.iterfind("change"):
        path = change.get("path") or ""
        config = config or path.startswith("/cib/configuration")
        removal = _removal(path) if change.get("operation") == "delete" else None
        if removal is not None:
            removed = removed or not removal[0]
            removals += [removal] if removal[0] else []
            continue
        attributes = attributes or "transient_attributes" in path or any(
            True for _ in change.iter("transient_attributes"))
        if change.get("operation") in ("create", "modify") and "/cib/status" in path:
            ops += _changed_ops(change)
    events: list[CibChanged | StatusUpdated] = [
        CibChanged(_three(version), now, config_changed=config,
                   attributes_changed=attributes, history_removed=removed,
                   removals=tuple(removals), wall=wall,
                   timing_changed=config and touches_options(patch, TIMING_OPTIONS.__contains__))]
    if ops:
        holder = etree.Element("status")
        holder.extend(ops)
        events.append(StatusUpdated(etree.tostring(holder, encoding="unicode"), now, wall))
    return events


def version_change(version: tuple[int, ...], now: float, wall: float = 0.0) -> CibChanged:
    """A change known only by the version it reached: nothing to abort or re-read."""
    return CibChanged(_three(version), now, wall=wall, timing_changed=False)


def _three(version: tuple[int, ...]) -> tuple[int, int, int]:
    admin_epoch, epoch, updates = (*version, 0, 0, 0)[:3]
    return admin_epoch, epoch, updates


def write_of(effect: ModifyCib | DeleteCib | ClearFailures, node_id: str = "") -> WireRequest:
    """The cib write request that carries out one controller CIB effect."""
    if isinstance(effect, ModifyCib):
        return WireRequest("modify", effect.xml, effect.section, allow_create=True)
    if isinstance(effect, DeleteCib):
        return WireRequest("delete", None, None, effect.xpath, multiple=True, force=True)
    names = (f"fail-count-{effect.resource}#", f"last-failure-{effect.resource}#")
    test = " or ".join(f"starts-with(@name,'{name}')" for name in names)
    xpath = (f"/cib/status/node_state[@uname='{effect.node}']/transient_attributes"
             f"/instance_attributes/nvpair[{test}]")
    return WireRequest("delete", None, None, xpath, multiple=True, force=True)


def resend_refused(exit_code: int) -> bool:
    """A write refused with DISCONNECT (the view or the master changed before the write was
    confirmed everywhere: applied or not, nobody knows) is sent again: every controller
    write is idempotent (merges of absolute values, deletes by xpath), and dropping it
    loses what it carried (an action's result, so the DC waits out the action's timer;
    the rewrite after a join's lrm delete, so the scheduler probes the node again).
    Pacemaker's controller never sees this: its CIB manager queues updates across
    membership changes. Any other refusal (bad XML, schema) would fail again."""
    return exit_code == ExitCode.DISCONNECT


def failure_names(nvpairs_xml: str) -> list[str]:
    """The attribute names in a query answer holding nvpair elements (one, or several
    under the cib's ``xpath-query`` wrapper)."""
    root = _parse(nvpairs_xml)
    if root is None:
        return []
    pairs = [root] if root.tag == "nvpair" else list(root.iter("nvpair"))
    return [str(pair.get("name")) for pair in pairs if pair.get("name")]


def attribute_write(node_id: str, node: str, name: str, value: str) -> WireRequest:
    """Set one transient attribute of `node` in the status section, as attrd writes it."""
    pair_id = _NOT_ID.sub(".", f"status-{node_id}-{name}")
    xml = etree.Element("node_state", id=node_id, uname=node)
    transient = etree.SubElement(xml, "transient_attributes", id=node_id)
    attributes = etree.SubElement(transient, "instance_attributes", id=f"status-{node_id}")
    etree.SubElement(attributes, "nvpair", id=pair_id, name=name, value=value)
    return WireRequest("modify", etree.tostring(xml, encoding="unicode"), "status",
                       allow_create=True)


def merged_status(requests: list[WireRequest]) -> WireRequest | None:
    """Several status modifications as one (`<status>` holding each node_state in order),
    or None when they cannot be merged (a write that is not a status modification)."""
    if len(requests) < 2 or any(r.op != "modify" or r.scope != "status" or r.data is None
                                for r in requests):
        return None
    holder = etree.Element("status")
    for request in requests:
        assert request.data is not None
        element = _parse(request.data)
        if element is None or element.tag != "node_state":
            return None
        holder.append(element)
    return WireRequest("modify", etree.tostring(holder, encoding="unicode"), "status",
                       allow_create=True)


def incremented(old: str | None, value: str) -> str:
    """attrd's value expansion: ``name++`` / ``name+=N`` relative to the current value
    (INFINITY stays INFINITY); anything else is the value itself."""
    if not value.endswith("++") and "+=" not in value:
        return value
    if old == "INFINITY":
        return "INFINITY"
    step = 1 if value.endswith("++") else int(value.split("+=", 1)[1] or "0")
    try:
        base = int(old or "0")
    except ValueError:
        base = 0
    return str(base + step)


__all__ = ["attribute_write", "diff_events", "failure_names", "incremented", "merged_status",
           "resend_refused", "version_change", "write_of"]
