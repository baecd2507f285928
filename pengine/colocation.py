"""Colocation arithmetic: apply a placed primary to a dependent, merge dependents' scores.

Invariants: functions here are pure over the tables they are given (they return new dicts);
factor arithmetic rounds half away from zero with a +/-1 floor (scheduler.md §2.4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pengine.constraints import Colocation
from pengine.scores import INF, add
from pengine.unpack_nodes import NodeWork

Table = dict[str, int]


def node_attr(node: NodeWork | None, attr: str) -> str | None:
    if node is None:
        return None
    if attr in ("#uname", ""):
        return node.name
    return node.attrs.get(attr)


def can_run_any(table: Mapping[str, int], nodes: Mapping[str, NodeWork]) -> bool:
    return any(score >= 0 and name in nodes and nodes[name].available
               for name, score in table.items())


def apply_primary(dep_table: Table, primary_nodes: list[NodeWork], c: Colocation,
                  nodes: Mapping[str, NodeWork], *, clone_nodes: bool = False) -> Table:
    """pcmk__apply_coloc_to_weights: the dependent's table after its primary is placed.

    `clone_nodes`: the primary nodes are a clone's instances' for a mandatory colocation
    (node_list_exclude): a node among them the dependent has no entry for gets one at
    -INFINITY (seed 267: an asymmetric cluster lists it for the dependent)."""
    work = dict(dep_table)
    if clone_nodes:
        for node in primary_nodes:
            work.setdefault(node.name, -INF)
    if not primary_nodes:
        if c.score < 0:
            return work
        for name in work:  # an unplaced primary: the score counts against every node
            work[name] = add(work[name], -c.score)
    values = {node_attr(n, c.node_attribute) for n in primary_nodes} - {None}
    for name in work if primary_nodes else ():
        matches = node_attr(nodes.get(name), c.node_attribute) in values
        if matches:
            if c.score < INF:
                work[name] = add(work[name], c.score)
        elif c.score >= INF:
            work[name] = add(work[name], -INF)
    if abs(c.score) < INF and not can_run_any(work, nodes):
        return dict(dep_table)
    return work


def _round_half_away(value: float) -> int:
    return int(value - 0.5) if value < 0 else int(value + 0.5)


# INFINITY_HACK: a positive node that a non-negative merge would take below zero is marked
# unusable until the merge ends (then it becomes 1), so a merge that leaves no node usable
# is rolled back.
UNUSABLE = -100 * INF


def add_matching(work: Table, dep_table: Mapping[str, int], attr: str, factor: float,
                 nodes: Mapping[str, NodeWork], only_positive: bool = False,
                 mark_unusable: bool = False) -> Table:
    """Add factor x the dependent's best score on nodes sharing the attribute value.

    `only_positive` (Pacemaker's non-negative mode) never takes a node below zero: a
    node at 0 keeps 0, a positive one drops to 1 (to UNUSABLE with `mark_unusable`).
    """
    out = dict(work)
    # the dependent's best score on available nodes per attribute value, in one pass (a scan
    # of its table per node made this quadratic in the number of nodes)
    best_by_value: dict[str | None, int] = {}
    for name, score in dep_table.items():
        node = nodes.get(name)
        if node is not None and node.available:
            value = node_attr(node, attr)
            if score > best_by_value.get(value, -INF):
                best_by_value[value] = score
    for name, current in work.items():
        if mark_unusable and current == UNUSABLE:
            continue  # "node was marked unusable": later merges leave it alone
        best = best_by_value.get(node_attr(nodes.get(name), attr), -INF)
        if factor < 0 and best < 0:
            continue
        weight = _round_half_away(factor * best)
        if weight == 0 and best != 0:
            weight = 1 if factor > 0 else -1
        out[name] = add(weight, current)
        if only_positive and out[name] < 0 and current >= 0:
            out[name] = (UNUSABLE if mark_unusable else 1) if current > 0 else current
    return out


def merge_dependents(
    rid: str, work: Table, attr: str, factor: float, *,
    tables: Mapping[str, Table], with_this: Mapping[str, list[Colocation]],
    nodes: Mapping[str, NodeWork], has_influence: Callable[[Colocation], bool],
    merging: frozenset[str], only_positive: bool = False,
    group_last: Callable[[Colocation], str | None] | None = None, last: str | None = None,
    rollback: bool = True,
) -> Table:
    """pcmk__add_colocated_node_scores for dependent `rid` into a primary's table
    (`only_positive`: pe_weights_positive, kept through the recursion).

    `last`: `rid` stands for a group (its first member), whose last member this is: the
    native merge of a group takes its first member's scores (with that member's own "with
    this" colocations), then the colocations with its last member once more (Pacemaker
    2.1.5 pcmk__native_merge_weights; a one-member group counts them twice, seed 96).
    `group_last` tells, for a colocation, the last member when its dependent is a group.
    `rollback` False: a merge that leaves no node usable is kept (only the nested merges
    are rolled back).
    """
    if rid in merging:
        return work
    merging = merging | {rid}
    result = add_matching(work, tables.get(rid, {}), attr, factor, nodes, only_positive,
                          mark_unusable=only_positive)
    if can_run_any(result, nodes):
        lists = [with_this.get(rid, [])] + ([with_this.get(last, [])] if last else [])
        for c in (c for lst in lists for c in lst):
            if not has_influence(c):
                continue
            sign = -1.0 if factor < 0 else 1.0
            result = merge_dependents(
                c.dependent, result, c.node_attribute, sign * c.score / INF, tables=tables,
                with_this=with_this, nodes=nodes, has_influence=has_influence, merging=merging,
                only_positive=only_positive, group_last=group_last,
                last=group_last(c) if group_last else None)
    if rollback and not can_run_any(result, nodes):
        return work
    if only_positive:
        result = {name: 1 if score == UNUSABLE else score for name, score in result.items()}
    return result
