"""Allocation score lines of `crm_simulate -s`: `<function>: <rsc> allocation score on <node>: <n>`.

Pacemaker prints a table whenever an assignment function shows its node weights, in the
order the scheduler computes them (our lines keep that order), each table's nodes sorted by
name, digits compared as numbers, case ignored (pe__output_node_weights: sort_node_uname).

Clones: Pacemaker's pcmk__clone_allocate shows its node weights once per clone, after it has
merged its influencing dependents into the clone's own table and before it sorts and distributes the
instances: the clone's table first, then (pe__show_node_weights recursing into the children,
in the clone's child order) each instance's table, and for a group instance each member's
table after the group's own. Orphaned instances are skipped (no scores are shown for
orphans).

Invariants: lines are only appended to the placer's list, never computed into a score.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from pengine.scores import score2str
from pengine.unpack_nodes import node_sort_key

if TYPE_CHECKING:
    from pengine.placement import _Placer


def table_lines(function: str, rid: str, table: Mapping[str, int]) -> list[str]:
    """One table's lines, its nodes in Pacemaker's order."""
    return [f"{function}: {rid} allocation score on {node}: {score2str(table[node])}"
            for node in sorted(table, key=node_sort_key)]


def show_clone_scores(placer: _Placer, cid: str, table: Mapping[str, int]) -> None:
    """Append the clone's lines: `table` is its own (dependents merged), then its instances'."""
    clone = placer.u.rsc(cid)
    if clone.orphan:
        return
    rows = [(cid, table)]
    for inst in clone.children:
        rows.extend(_instance_rows(placer, inst))
    for rid, rows_table in rows:
        placer.lines.extend(table_lines("pcmk__clone_allocate", rid, rows_table))


def _instance_rows(placer: _Placer, rid: str) -> Iterator[tuple[str, Mapping[str, int]]]:
    """An instance's table, then its members' (recursively), orphans left out."""
    rsc = placer.u.rsc(rid)
    if rsc.orphan:
        return
    if rsc.kind == "primitive":
        yield rid, placer.tables.get(rid, {})
        return
    yield rid, placer.group_tables.get(rid, {})
    for child in rsc.children:
        yield from _instance_rows(placer, child)
