"""The choice of a node for one primitive (pcmk__assign_resource, native_choose_node and
sched_nodes.c compare_nodes): nodes ranked by score and placement strategy, capacity bans
(pcmk__ban_insufficient_capacity), and the tie rules (keep an active resource where it is,
fall back on GHashTable iteration order).

Invariants: reads the placer's tables and counts; writes only the chosen primitive's
table (capacity bans) and its managed flag.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pengine.colocation import Table
from pengine.glib_order import hash_order, list_sort, node_name_key
from pengine.placement_utilization import colocated_usage
from pengine.scores import INF
from pengine.utilization import compare_capacity, insufficient_capacity

if TYPE_CHECKING:
    from pengine.placement import _Placer


def spare_capacity(placer: _Placer, node: str) -> dict[str, int]:
    """What `node` has left of each capacity after the primitives assigned to it so far."""
    used = placer.used.get(node, {})
    return {k: v - used.get(k, 0) for k, v in placer.capacity.get(node, {}).items()}


def limit_utilization(placer: _Placer, rid: str, table: Table,
                      effective: Callable[[str], int]) -> tuple[Table, str | None]:
    """Ban nodes without capacity (pcmk__ban_insufficient_capacity)."""
    spare = {n: spare_capacity(placer, n) for n in placer.capacity}
    together = colocated_usage(placer, rid)
    # The most capable node is the first of equals in the table's iteration order.
    candidates = [n for n in table_order(placer, table) if effective(n) >= 0]
    banned, most = insufficient_capacity(candidates, spare, placer.usage.get(rid, {}),
                                         together)
    return {n: (-INF if n in banned else s) for n, s in table.items()}, most


def rank_nodes(placer: _Placer, table: Table, current: str | None = None) -> list[str]:
    """A table's nodes, best first (sched_nodes.c compare_nodes)."""
    strategy = placer.u.options.placement_strategy

    def effective(name: str) -> int:
        node = placer.nodes.get(name)
        return table[name] if node is not None and node.available else -INF

    def compare(a: str, b: str) -> int:
        if effective(a) != effective(b):
            return -1 if effective(a) > effective(b) else 1
        if strategy != "minimal":
            result = compare_capacity(spare_capacity(placer, a), spare_capacity(placer, b)) \
                if strategy == "balanced" else 0
            result = result or placer.count.get(a, 0) - placer.count.get(b, 0)
            result = result or (a != current) - (b != current)
            if result:
                return -1 if result < 0 else 1
        return -1 if a.encode() < b.encode() else (1 if a != b else 0)

    # native_choose_node sorts g_hash_table_get_values(): reversed iteration order.
    if strategy == "balanced":
        return list_sort(table_order(placer, table)[::-1], compare)
    # Without the capacity comparison, compare is a total order (names are unique), so
    # g_list_sort's merge and a key sort give the same list; the key sort is far cheaper.
    scores = {name: effective(name) for name in table}
    if strategy == "minimal":
        return sorted(table_order(placer, table)[::-1],
                      key=lambda n: (-scores[n], n.encode()))
    return sorted(table_order(placer, table)[::-1],
                  key=lambda n: (-scores[n], placer.count.get(n, 0), n != current, n.encode()))


def table_order(placer: _Placer, table: Table) -> list[str]:
    """The table's nodes in GHashTable iteration order (keyed by node id, inserted in
    Pacemaker's node-list order): what ties among incomparable nodes fall back on."""
    known = sorted((n for n in table if n in placer.nodes), key=node_name_key)
    by_id = {placer.nodes[n].id: n for n in known}
    return [by_id[i] for i in hash_order(tuple(by_id))] + \
        [n for n in table if n not in placer.nodes]


def choose(placer: _Placer, rid: str, prefer: str | None = None) -> str | None:
    """The node for primitive `rid` (None: it stays stopped); `prefer` wins a tie."""
    st = placer.u.states[rid]
    if placer.unmanage_assigned and rid not in placer.stay_managed:
        placer.managed[rid] = False
    if not placer.managed[rid]:
        # an unmanaged resource stays on pe__current_node: a partial migration's
        # source, not the first node it was found on (seed 1265)
        return placer.u.current_node(rid)
    if placer.u.options.stop_all_resources:
        return None
    table = placer.tables[rid]
    current = st.current_node

    def effective(name: str) -> int:
        node = placer.nodes.get(name)
        return table[name] if node is not None and node.available else -INF

    strategy = placer.u.options.placement_strategy
    if strategy != "default":
        table, most = limit_utilization(placer, rid, table, effective)
        # The bans are location constraints on the resource's allowed nodes
        # (resource_location), so they stay for whatever merges its scores later,
        # such as the clone instance order of a clone colocated with it (seed 496).
        placer.tables[rid] = table
        if prefer is None:
            prefer = most

    ranked = rank_nodes(placer, table, current)
    if not ranked:
        return None
    best = ranked[0]
    if prefer is not None and prefer in table and effective(prefer) >= 0 \
            and effective(prefer) >= effective(best):
        return prefer
    if effective(best) > 0 and rid not in placer.unique_instances:
        # assign_best_node looks at pe__current_node first: a partial migration's source
        first = [current] if current is not None else []
        best = current_if_tied(placer, first + st.running_on, table, best, effective)
    if effective(best) < 0:
        return None
    return best


def current_if_tied(placer: _Placer, running_on: list[str], table: Table, best: str,
                    effective: Callable[[str], int]) -> str:
    """The first available node the resource runs on that scores as well as `best`,
    else `best`: among equal nodes Pacemaker keeps a resource where it is active."""
    for cur in running_on:
        node = placer.nodes.get(cur)
        if node is not None and node.available and cur in table \
                and effective(cur) == effective(best):
            return cur
    return best
