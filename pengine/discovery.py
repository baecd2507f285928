"""resource-discovery on location constraints: where a resource may be probed, and where a
resource with exclusive discovery may run.

Owns: each (resource, node)'s discovery mode and the resources flagged for exclusive
discovery. Pacemaker 2.1.5 keeps the mode on the resource's allowed-node entry: applying a
location raises it to the constraint's (always < never < exclusive) on every node the
constraint lists, for the resource named and, as locations recurse, every resource below it;
an exclusive constraint flags each of those resources.
Invariants: a mode is only ever raised; nothing here reads placement results.
"""

from __future__ import annotations

from pengine.constraints import Constraints
from pengine.scores import INF
from pengine.state import Unpacked

ALWAYS, NEVER, EXCLUSIVE = 0, 1, 2
_MODES = {"always": ALWAYS, "never": NEVER, "exclusive": EXCLUSIVE}


class Discovery:
    """Discovery modes per (resource, node) and the exclusive-discovery resources."""

    def __init__(self, u: Unpacked, cons: Constraints) -> None:
        self.u = u
        self.modes: dict[tuple[str, str], int] = {}
        self.exclusive: set[str] = set()
        for loc in cons.locations:
            mode = _MODES.get(loc.discovery, ALWAYS)
            if mode == EXCLUSIVE:
                # flagged when the constraint is unpacked, even one whose role filter keeps
                # it from listing any node (crm_simulate: a Promoted-role exclusive location
                # on a promotable clone bans every node and probes none)
                self.exclusive.add(loc.rsc)
            if mode == ALWAYS or loc.role is not None:
                continue
            for rid in self._subtree(loc.rsc):
                if mode == EXCLUSIVE:
                    self.exclusive.add(rid)
                for node, _score in loc.scores:
                    key = (rid, node)
                    self.modes[key] = max(self.modes.get(key, ALWAYS), mode)

    def _subtree(self, rid: str) -> list[str]:
        out = [rid]
        for child in self.u.rsc(rid).children:
            out.extend(self._subtree(child))
        return out

    def _top(self, rid: str) -> str:
        parent = self.u.rsc(rid).parent
        while parent is not None:
            rid, parent = parent, self.u.rsc(parent).parent
        return rid

    def may_probe(self, rid: str, node: str) -> bool:
        """pcmk__probe_rsc_on_node: with exclusive discovery on the resource or its top-level
        resource, only the nodes an exclusive constraint lists for it; else not where a
        constraint set discovery to never."""
        mode = self.modes.get((rid, node), ALWAYS)
        if rid in self.exclusive or self._top(rid) in self.exclusive:
            return mode == EXCLUSIVE
        return mode != NEVER

    def exclusive_scope(self) -> list[str]:
        """The resources whose nodes not listed exclusive get -INFINITY before assignment.

        apply_exclusive_discovery walks the top-level resources and descends into the
        children only of one flagged exclusive: an exclusive location on a group member
        limits its probes but not its scores (crm_simulate: in a group G of A, B with B
        exclusive on n1 of three nodes, B's scores stay 0 on n2 and n3)."""
        return [rid for rsc in self.u.resources
                if rsc.parent is None and rsc.id in self.exclusive
                for rid in self._subtree(rsc.id)]

    def ban_outside(self, rid: str, table: dict[str, int]) -> None:
        """-INFINITY on every node of `table` no exclusive constraint lists for `rid`."""
        for node in table:
            if self.modes.get((rid, node), ALWAYS) != EXCLUSIVE:
                table[node] = -INF
