"""Unpack <nodes> and each <node_state>: membership, cleanliness, standby, attributes.

Invariants: the result lists nodes sorted digit-aware and case-insensitively by name
(node2 before node10); fencing reasons are recorded in creation order (status order),
never acted upon here.
"""

from __future__ import annotations

import re

from messaging.record import Record
from pengine.rules import RuleContext, evaluate
from pengine.scores import INF, char2score
from pengine.unpack_options import Options
from pengine.xmlin import Element, is_true, nvpairs


class NodeWork(Record):
    """A node while the status is being unpacked (mutable only inside unpacking)."""

    __slots__ = ("attrs", "base_score", "expected_up", "fence_calls", "fence_reason",
                 "fenced_later", "id", "kind", "maintenance", "name", "online", "pending",
                 "shutdown", "standby", "standby_onfail", "state", "unclean", "unseen", "weight")

    def __init__(self, name: str, id: str, kind: str, base_score: int, attrs: dict[str, str],
                 online: bool = False, unclean: bool = False, standby: bool = False,
                 maintenance: bool = False, pending: bool = False, shutdown: bool = False,
                 unseen: bool = True, expected_up: bool = False, standby_onfail: bool = False,
                 weight: int = 0, fence_reason: str | None = None,
                 state: Element | None = None) -> None:
        self.name = name
        self.id = id
        self.kind = kind
        self.base_score = base_score
        self.attrs = attrs
        self.online = online
        self.unclean = unclean
        self.standby = standby
        self.maintenance = maintenance
        self.pending = pending
        self.shutdown = shutdown
        self.unseen = unseen
        self.expected_up = expected_up
        self.standby_onfail = standby_onfail
        self.weight = weight
        self.fence_reason = fence_reason
        self.state = state
        self.fence_calls = 0  # how many times unpacking found a reason to fence it
        # Its only fencing comes from scheduling (a dangling migration's unrunnable stop):
        # unpacking alone, as crm_mon does, leaves it clean.
        self.fenced_later = False

    @property
    def available(self) -> bool:
        """Can run resources (pcmk__node_available without the score check)."""
        return (
            self.online and not self.shutdown and not self.unclean and not self.standby
            and not self.maintenance and not self.pending
        )


def node_sort_key(name: str) -> tuple[tuple[int, int], ...]:
    """Digit-aware, case-insensitive ordering of node names."""
    key: list[tuple[int, int]] = []
    for chunk in re.findall(r"\d+|\D", name):
        key.append((ord("0"), int(chunk)) if chunk.isdigit() else (ord(chunk.lower()), 0))
    return tuple(key)


def _attr_true(attrs: dict[str, str], name: str) -> bool:
    return is_true(attrs.get(name))


def _shutdown_requested(attrs: dict[str, str]) -> bool:
    value = attrs.get("shutdown")
    return value is not None and value != "0"


def _terminate(attrs: dict[str, str]) -> bool:
    value = attrs.get("terminate")
    if value is None:
        return False
    if is_true(value):
        return True
    return value[:1].isdigit() and not value.startswith("0")


def fence(node: NodeWork, reason: str, requests: list[tuple[str, str]]) -> None:
    """pe_fence_node: mark unclean and remember the first reason for the fencing op."""
    node.unclean = True
    node.fence_calls += 1
    if node.fence_reason is None:
        node.fence_reason = reason
        requests.append((node.name, reason))


def unpack_nodes(root: Element, options: Options, ctx: RuleContext) -> list[NodeWork]:
    """Build the node list from <nodes> (instance attributes, base score, built-ins)."""
    nodes: list[NodeWork] = []
    for el in root.iterfind("configuration/nodes/node"):
        uname = el.get("uname") or el.get("id") or ""
        node_id = el.get("id") or uname
        kind = (el.get("type") or "member").lower()
        if kind == "normal":
            kind = "member"
        attrs = {
            "#uname": uname, "#id": node_id,
            "#kind": "cluster" if kind == "member" else kind,
            "#is_dc": "true" if node_id == options.dc_uuid else "false",
        }
        nvpairs(el.findall("instance_attributes"), lambda r: evaluate(r, ctx), attrs)
        nodes.append(NodeWork(uname, node_id, kind, char2score(el.get("score")), attrs))
    nodes.sort(key=lambda n: node_sort_key(n.name))
    return nodes


def apply_node_states(
    root: Element, nodes: list[NodeWork], options: Options, requests: list[tuple[str, str]]
) -> None:
    """Apply every <node_state> (status order), then handle unseen nodes."""
    by_id = {n.id: n for n in nodes}
    by_name = {n.name: n for n in nodes}
    for state in root.iterfind("status/node_state"):
        node = by_id.get(state.get("id") or "") or by_name.get(state.get("uname") or "")
        if node is None or node.kind != "member":
            continue
        node.state = state
        node.unseen = False
        transient = state.findall("transient_attributes/instance_attributes")
        nvpairs(transient, lambda _r: True, node.attrs, overwrite=True)
        node.expected_up = state.get("expected") == "member"
        node.shutdown = _shutdown_requested(node.attrs)
        if options.stonith_enabled:
            _online_with_fencing(node, state, requests)
        else:
            _online_without_fencing(node, state, requests)
        _finish_node(node)
    for node in nodes:
        if node.unseen:
            node.unclean = options.stonith_enabled and options.startup_fencing
            node.online = False
            # unpack_node_state reads standby and maintenance, so a node without a
            # <node_state> is neither, whatever its <nodes> attributes say
            node.weight = -INF
    if options.no_quorum_policy == "suicide" and not options.have_quorum:
        for node in nodes:
            if node.online:
                fence(node, "cluster does not have quorum", requests)


def _finish_node(node: NodeWork) -> None:
    if _attr_true(node.attrs, "standby"):
        node.standby = True
    if _attr_true(node.attrs, "maintenance"):
        node.maintenance = True
    if not node.online or node.shutdown:
        node.weight = -INF


def _online_with_fencing(node: NodeWork, state: Element, requests: list[tuple[str, str]]) -> None:
    in_ccm_raw = state.get("in_ccm")
    in_ccm = is_true(in_ccm_raw)
    crmd_up = state.get("crmd") == "online"
    join = state.get("join") or "down"
    terminate = _terminate(node.attrs)
    node.online = in_ccm
    if node.shutdown:
        node.online = crmd_up
    elif in_ccm_raw is None:
        fence(node, "peer has not been seen by the cluster", requests)
    elif join == "banned":
        fence(node, "peer failed Pacemaker membership criteria", requests)
    elif not terminate and not node.expected_up:
        if in_ccm or crmd_up:
            node.pending = True
            node.standby = True
        else:
            node.online = False
    elif terminate and join == "down" and not in_ccm and not crmd_up:
        node.online = False
    elif not in_ccm:
        fence(node, "peer is no longer part of the cluster", requests)
    elif not crmd_up:
        fence(node, "peer process is no longer available", requests)
    elif terminate:
        fence(node, "termination was requested", requests)
    elif join == "member":
        pass
    elif join in ("pending", "down"):
        node.pending = True
        node.standby = True
    else:
        fence(node, "peer was in an unknown state", requests)


def _online_without_fencing(
    node: NodeWork, state: Element, requests: list[tuple[str, str]]
) -> None:
    in_ccm = is_true(state.get("in_ccm"))
    crmd_up = state.get("crmd") == "online"
    node.online = False
    if not in_ccm:
        return
    if crmd_up:
        node.online = (state.get("join") or "down") == "member"
    elif node.expected_up:
        fence(node, "peer is unexpectedly down", requests)
