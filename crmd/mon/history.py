"""Read what crm_mon shows beside the unpacked status straight from a CIB: the summary's
cluster facts, per-node operation history and fail counts.

Pure: an lxml element in, frozen values out; nothing here prints. Order follows the CIB:
nodes in <status> order, resources in <lrm_resources> order, operations by call id, which
is how Pacemaker walks the history for "Operations" and "Migration Summary".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

INFINITY = 1_000_000


@dataclass(frozen=True, slots=True)
class Operation:
    """One lrm_rsc_op worth showing (probes that found nothing running are left out)."""

    call_id: int
    task: str
    interval_ms: int
    rc: int
    last_rc_change: int | None
    exec_ms: int | None
    queue_ms: int | None


@dataclass(frozen=True, slots=True)
class ResourceHistory:
    """A resource's operations on one node, with its fail count there.

    resource: the history's id; name: the resource it belongs to as Pacemaker names it
    under "Operations" (an anonymous clone instance by its configured id).
    """

    resource: str
    operations: tuple[Operation, ...]
    fail_count: int
    last_failure: int | None
    migration_threshold: int
    name: str


@dataclass(frozen=True, slots=True)
class NodeHistory:
    node: str
    resources: tuple[ResourceHistory, ...]


def is_true(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "yes", "y", "on", "1")


def _int(text: str | None, default: int = 0) -> int:
    if text is None:
        return default
    text = text.strip()
    if text.upper() in ("INFINITY", "+INFINITY"):
        return INFINITY
    if text.upper() == "-INFINITY":
        return -INFINITY
    try:
        return int(text)
    except ValueError:
        return default


def _optional_int(text: str | None) -> int | None:
    return None if text is None else _int(text)


def score_sum(values: list[int]) -> int:
    """Pacemaker adds fail counts like scores: capped at INFINITY."""
    return min(sum(values), INFINITY)


@dataclass(frozen=True, slots=True)
class FailCountRule:
    """How Pacemaker matches a history entry's fail-count attributes.

    anonymous: configured ids of primitives in anonymous clones; their entries count every
    instance's attributes (fail-count-RSC and fail-count-RSC:N alike), any other entry only
    its own id. per_op: a CIB of feature set 3.0.13 or later counts only the per-operation
    names (fail-count-RSC#op_interval), an older one only the per-resource name.
    """

    anonymous: frozenset[str] = frozenset()
    per_op: bool = True

    def name(self, history_id: str) -> str:
        """The resource a history entry belongs to: the configured id for an anonymous
        clone's instance; any other entry (an orphan's too) keeps its own id."""
        base = history_id.split(":")[0]
        return base if base in self.anonymous else history_id

    def pattern(self, prefix: str, history_id: str) -> re.Pattern[str]:
        base = history_id.split(":")[0]
        name = (re.escape(base) + r"(:\d+)?" if base in self.anonymous
                else re.escape(history_id))
        operation = r"#.+_\d+" if self.per_op else ""
        return re.compile(f"^{prefix}-{name}{operation}$")


def fail_count(attributes: dict[str, str], history_id: str,
               rule: FailCountRule) -> tuple[int, int | None]:
    """(fail count, last failure) of one history entry from its node's attributes: the
    sum of every matching fail-count (capped like a score) and the latest last-failure."""
    counts = rule.pattern("fail-count", history_id)
    lasts = rule.pattern("last-failure", history_id)
    values = [_int(v) for k, v in attributes.items() if counts.match(k)]
    last = [_int(v) for k, v in attributes.items() if lasts.match(k)]
    return score_sum(values), max(last) if last else None


def _operation(op: etree._Element) -> Operation | None:
    task = op.get("operation") or ""
    interval = _int(op.get("interval"))
    rc = _int(op.get("rc-code"))
    if task == "monitor" and interval == 0 and rc == 7:
        return None  # a probe that found the resource stopped is no news
    if task == "notify":
        return None  # Pacemaker leaves notifications out of the history it shows
    return Operation(
        call_id=_int(op.get("call-id")), task=task, interval_ms=interval, rc=rc,
        last_rc_change=_optional_int(op.get("last-rc-change")),
        exec_ms=_optional_int(op.get("exec-time")),
        queue_ms=_optional_int(op.get("queue-time")))


def _unique_overflow(root: etree._Element, rid: str) -> bool:
    """Whether history id `rid` is an instance number past a globally-unique clone's
    clone-max (default: one per node): Pacemaker unpacks it as a top-level orphan, without
    the configuration's meta attributes (seed 1414: d11:4 of c10, clone-max 4)."""
    base, colon, number = rid.partition(":")
    clone = root.find(f"configuration/resources/clone/primitive[@id='{base}']/..")
    if not colon or not number.isdigit() or clone is None \
            or not is_true(_meta(clone, "globally-unique") or "false"):
        return False
    limit = _meta(clone, "clone-max")
    nodes = len(root.findall("configuration/nodes/node"))
    return int(number) >= (_int(limit) if limit is not None else nodes)


def _threshold(root: etree._Element, rsc_id: str) -> int:
    for element in root.iterfind("configuration/resources//primitive"):
        if element.get("id") == rsc_id:
            found = _meta(element, "migration-threshold")
            if found is not None:
                return _int(found)
            parent = element.getparent()
            while parent is not None and parent.tag in ("group", "clone", "master"):
                found = _meta(parent, "migration-threshold")
                if found is not None:
                    return _int(found)
                parent = parent.getparent()
    for pair in root.iterfind("configuration/rsc_defaults/meta_attributes/nvpair"):
        if pair.get("name") == "migration-threshold":
            return _int(pair.get("value"))
    return INFINITY


def _meta(element: etree._Element, name: str) -> str | None:
    for pair in element.iterfind("meta_attributes/nvpair"):
        if pair.get("name") == name:
            return pair.get("value")
    return None


def node_histories(root: etree._Element,
                   rule: FailCountRule = FailCountRule()) -> tuple[NodeHistory, ...]:
    """Every node's resource histories, in <status> order."""
    from pengine.api import sort_operations

    out = []
    for node_state in root.iterfind("status/node_state"):
        attributes = {p.get("name") or "": p.get("value") or "" for p in node_state.iterfind(
            "transient_attributes/instance_attributes/nvpair")}
        resources = []
        for lrm_rsc in node_state.iterfind("lrm/lrm_resources/lrm_resource"):
            rid = lrm_rsc.get("id") or ""
            # oldest first, in the scheduler's order (a pending entry by its transition)
            shown = [op for op in lrm_rsc.iterfind("lrm_rsc_op") if _operation(op) is not None]
            ops = [o for o in map(_operation, sort_operations(shown)) if o is not None]
            base = rid.split(":")[0]
            count, last = fail_count(attributes, rid, rule)
            resources.append(ResourceHistory(
                resource=rid, operations=tuple(ops), fail_count=count, last_failure=last,
                migration_threshold=_threshold(root, "" if _unique_overflow(root, rid)
                                               else base), name=rule.name(rid)))
        out.append(NodeHistory(node_state.get("uname") or node_state.get("id") or "",
                               tuple(resources)))
    return tuple(out)


def ping_expectations(root: etree._Element) -> dict[str, tuple[str, int]]:
    """Node attribute -> (ping resource id, the score it writes when every host answers).

    crm_mon compares a node's connectivity attribute with it where that resource runs: a
    ping/pingd resource (by type) writes attribute `name` (default "pingd") as multiplier
    (default 1) times the number of hosts in host_list. The first one for a name wins.
    """
    found: dict[str, tuple[str, int]] = {}
    for primitive in root.iterfind("configuration/resources//primitive"):
        if (primitive.get("type") or "").lower() not in ("ping", "pingd"):
            continue
        params = {pair.get("name"): pair.get("value") or ""
                  for pair in primitive.iterfind("instance_attributes/nvpair")}
        hosts = len((params.get("host_list") or "").split())
        multiplier = _int(params.get("multiplier") or "1")
        found.setdefault(params.get("name") or "pingd",
                         (primitive.get("id") or "", hosts * multiplier))
    return found
