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


def combine(*usages: Usage) -> Usage:
    out: Usage = {}
    for usage in usages:
        for key, value in usage.items():
            out[key] = out.get(key, 0) + value
    return out


def compare_capacity(cap1: Usage, cap2: Usage) -> int:
    """Negative when node 1 has more spare capacity on more keys than node 2."""
    result = 0
    for key in dict.fromkeys([*cap1, *cap2]):
        one, two = cap1.get(key, 0), cap2.get(key, 0)
        if one > two:
            result -= 1
        elif one < two:
            result += 1
    return result


def insufficient_capacity(candidates: list[str], spare: Mapping[str, Usage],
                          own: Usage, together: Usage) -> tuple[set[str], str | None]:
    """Nodes to ban for lack of capacity, and the most capable node to prefer.

    `candidates` are the available nodes with a non-negative score (in table order);
    `spare` maps each node to its remaining capacity. If some candidate can hold the
    resource together with its unassigned colocated resources, every candidate that
    cannot is banned and nothing is preferred; otherwise only candidates that cannot
    hold the resource alone are banned, and the node with most spare capacity is
    preferred.
    """
    most: str | None = None
    for name in candidates:
        if most is None or compare_capacity(spare.get(name, {}), spare.get(most, {})) < 0:
            most = name
    if any(fits(spare.get(n, {}), {}, together) for n in candidates):
        return {n for n in candidates if not fits(spare.get(n, {}), {}, together)}, None
    return {n for n in candidates if not fits(spare.get(n, {}), {}, own)}, most
