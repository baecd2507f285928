"""Clone instance distribution (pcmk__clone_allocate / distribute_children).

Invariants: at most clone-max instances are placed and at most clone-node-max per node;
active instances are first offered their current node; an instance whose preferred node
is refused is rolled back completely (tables, counters, score lines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pengine.scores import INF

if TYPE_CHECKING:
    from pengine.placement import _Placer


def _current(placer: _Placer, inst: str) -> str | None:
    for prim in placer.primitives_under(inst):
        running = placer.u.states[prim].running_on
        if running:
            return running[0]
    return None


def _sort_key(placer: _Placer, inst: str, index: int) -> tuple[int, int, int, int, int]:
    prims = placer.primitives_under(inst)
    first = prims[0] if prims else inst
    cur = _current(placer, inst)
    multiple = any(len(placer.u.states[p].running_on) > 1 for p in prims)
    node = placer.nodes.get(cur or "")
    allowed = node is not None and node.available and placer.tables[first].get(cur or "", -INF) >= 0
    failed = any(placer.u.states[p].failed for p in prims)
    return (int(multiple), int(cur is not None and not allowed), int(cur is None),
            int(failed), index)


def _assign_instance(placer: _Placer, inst: str, prefer: str | None,
                     counts: dict[str, int], per_node: int) -> str | None:
    prims = placer.primitives_under(inst)
    saved = {p: dict(placer.tables[p]) for p in prims}
    saved_lines = len(placer.lines)
    saved_count = dict(placer.count)
    for prim in prims:
        for name in placer.tables[prim]:
            if counts.get(name, 0) >= per_node:
                placer.tables[prim][name] = -INF
    node = placer._assign_tree(inst, prefer)
    if prefer is not None and node != prefer:
        for prim in prims:
            placer.assigned.pop(prim, None)
            placer.next_role.pop(prim, None)
            placer.tables[prim] = saved[prim]
        del placer.lines[saved_lines:]
        placer.count = saved_count
        return None
    return node


def distribute(placer: _Placer, cid: str) -> None:
    clone = placer.u.rsc(cid)
    per_node = clone.clone_node_max
    limit = clone.clone_max
    instances = sorted(enumerate(clone.children),
                       key=lambda pair: _sort_key(placer, pair[1], pair[0]))
    counts: dict[str, int] = {}
    allocated = 0
    for _, inst in instances:
        if allocated >= limit:
            break
        cur = _current(placer, inst)
        prims = placer.primitives_under(inst)
        if cur is None or any(placer.u.states[p].failed for p in prims):
            continue
        node = placer.nodes.get(cur)
        if node is None or not node.available or counts.get(cur, 0) >= per_node:
            continue
        if placer.tables[prims[0]].get(cur, -INF) < 0:
            continue
        if _assign_instance(placer, inst, cur, counts, per_node) == cur:
            counts[cur] = counts.get(cur, 0) + 1
            allocated += 1
    for _, inst in instances:
        prims = placer.primitives_under(inst)
        if all(p in placer.assigned for p in prims):
            continue
        if allocated >= limit:
            for prim in prims:
                placer.tables[prim] = dict.fromkeys(placer.tables[prim], -INF)
            placer._assign_tree(inst)
            continue
        chosen = _assign_instance(placer, inst, None, counts, per_node)
        if chosen is not None:
            counts[chosen] = counts.get(chosen, 0) + 1
            allocated += 1
