"""The CRM_meta_* a clone adds to the graph attributes of its actions and its members'.

Pacemaker's graph writer asks every resource from an action's up to the top for its graph
meta (the clone variant's add_graph_meta): a clone adds clone_max, clone_node_max,
globally_unique and notify, a promotable one also promoted_max and promoted_node_max (and
their master_* aliases), and a primitive instance of a clone its instance number
(CRM_meta_clone). Seen in Debian's crm_simulate -G: `m6:0_start_0` of a cloned group has
CRM_meta_clone="0" and the clone's four; `g5:0_start_0` and `c9_start_0` the clone's only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pengine.state import Unpacked
    from pengine.unpack_resources import RscConfig

Pairs = list[tuple[str, str]]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _clone_pairs(clone: RscConfig) -> Pairs:
    from pengine.unpack_resources import meta_count
    from pengine.xmlin import is_true

    pairs = [("CRM_meta_clone_max", str(clone.clone_max)),
             ("CRM_meta_clone_node_max", str(clone.clone_node_max)),
             ("CRM_meta_globally_unique", _bool(clone.unique)),
             ("CRM_meta_notify", _bool(is_true(clone.meta.get("notify"), False)))]
    if clone.promotable:
        most = meta_count(clone.meta, "promoted-max", meta_count(clone.meta, "master-max", 1))
        per_node = meta_count(clone.meta, "promoted-node-max",
                              meta_count(clone.meta, "master-node-max", 1))
        pairs += [("CRM_meta_promoted_max", str(most)), ("CRM_meta_master_max", str(most)),
                  ("CRM_meta_promoted_node_max", str(per_node)),
                  ("CRM_meta_master_node_max", str(per_node))]
    return pairs


def collective_meta(u: Unpacked) -> dict[str, Pairs]:
    """Resource id -> the CRM_meta_* its clone ancestors (or itself, a clone) add."""
    out: dict[str, Pairs] = {}
    for rsc in u.resources:
        pairs: Pairs = []
        current: RscConfig | None = rsc
        while current is not None:
            if current.kind == "clone":
                pairs += _clone_pairs(current)
                if rsc.kind == "primitive" and ":" in rsc.id:
                    pairs.append(("CRM_meta_clone", rsc.id.rsplit(":", 1)[1]))
            current = u.rsc(current.parent) if current.parent is not None else None
        if pairs:
            out[rsc.id] = pairs
    out.update(_orphan_instance_meta(u))
    return out


def _orphan_instance_meta(u: Unpacked) -> dict[str, Pairs]:
    """An anonymous clone's orphan instance (history of an instance number past clone-max)
    is a child of the clone in Pacemaker, so its actions carry the clone's meta and its
    own number (Debian's crm_simulate -G: `d2_stop_0` of the orphan d2:2 of a clone of
    two has CRM_meta_clone="2"); we unpack it without a parent."""
    out: dict[str, Pairs] = {}
    for clone in u.resources:
        if clone.kind != "clone":
            continue
        for rid in u.instance_primitives(clone.id):
            if u.anonymous_orphan(rid):
                out[rid] = [*_clone_pairs(clone), ("CRM_meta_clone", rid.rsplit(":", 1)[1])]
    return out
