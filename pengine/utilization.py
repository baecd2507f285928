"""Placement strategies: node capacity vs. resource utilization (sched_utilization.c).

Invariants: with placement-strategy "default" nothing here has any effect; otherwise a
node lacking capacity for a resource (plus its still-unassigned colocated dependents) is
banned for it, and "balanced" prefers the node with more remaining capacity.
"""

from __future__ import annotations

from collections.abc import Mapping

from pengine.rules import RuleContext, evaluate
from pengine.state import Unpacked
from pengine.xmlin import nvpairs

Usage = dict[str, int]


def _numbers(values: Mapping[str, str]) -> Usage:
    out: Usage = {}
    for key, value in values.items():
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def node_capacities(u: Unpacked) -> dict[str, Usage]:
    ctx = RuleContext(now=u.now)
    out: dict[str, Usage] = {}
    for el in u.root.iterfind("configuration/nodes/node"):
        name = el.get("uname") or el.get("id") or ""
        out[name] = _numbers(nvpairs(el.findall("utilization"), lambda r: evaluate(r, ctx)))
    return out


def resource_usage(u: Unpacked) -> dict[str, Usage]:
    ctx = RuleContext(now=u.now)
    out: dict[str, Usage] = {}
    for rsc in u.primitives:
        if rsc.element is None:
            out[rsc.id] = {}
            continue
        out[rsc.id] = _numbers(nvpairs(rsc.element.findall("utilization"),
                                       lambda r: evaluate(r, ctx)))
    return out


def fits(capacity: Usage, used: Usage, need: Usage) -> bool:
    return all(capacity.get(k, 0) - used.get(k, 0) >= v for k, v in need.items() if v > 0)


def remaining(capacity: Usage, used: Usage) -> int:
    return sum(capacity.get(k, 0) - used.get(k, 0) for k in capacity)


def combine(*usages: Usage) -> Usage:
    out: Usage = {}
    for usage in usages:
        for key, value in usage.items():
            out[key] = out.get(key, 0) + value
    return out
