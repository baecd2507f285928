"""Colocation blocking (pcmk__block_colocation_dependents).

Invariant: after flag propagation, a primary with no runnable start (or promote) left
makes the start (or promote) of every INFINITY-colocated dependent unrunnable, with the
reason `colocation with <primary>`; returns whether anything changed.
"""

from __future__ import annotations

from messaging.types import Role
from pengine.actions import Work
from pengine.constraints import Colocation
from pengine.scores import INF
from pengine.sealed_actions import SettlingFlags
from pengine.state import Unpacked


def _primitives(u: Unpacked, rid: str) -> list[str]:
    rsc = u.rsc(rid)
    if rsc.kind == "primitive":
        return [rid]
    return [p for child in rsc.children for p in _primitives(u, child)]


def _heads(u: Unpacked, rid: str) -> list[str]:
    """The primitives whose start decides where a dependent goes (group: first member)."""
    rsc = u.rsc(rid)
    if rsc.kind == "primitive":
        return [rid]
    if rsc.kind == "group":
        return _heads(u, rsc.children[0]) if rsc.children else []
    return [p for child in rsc.children for p in _heads(u, child)]


def block_dependents(u: Unpacked, colocations: tuple[Colocation, ...],
                     by_rsc_task: dict[tuple[str | None, str], list[Work]],
                     flags: SettlingFlags) -> bool:
    changed = False
    runnable, reason = flags.runnable, flags.reason
    for c in colocations:
        if c.score < INF:
            continue
        p_task = "promote" if c.primary_role == Role.PROMOTED else "start"
        firsts = [a for p in _primitives(u, c.primary)
                  for a in by_rsc_task.get((p, p_task), ()) if a.node is not None]
        if not firsts or any(runnable[a.id] for a in firsts):
            continue
        d_task = "promote" if c.dependent_role == Role.PROMOTED else "start"
        for dep in _heads(u, c.dependent):
            for act in by_rsc_task.get((dep, d_task), ()):
                if runnable[act.id]:
                    runnable[act.id] = False
                    if reason[act.id] is None:
                        reason[act.id] = f"colocation with {c.primary}"
                    changed = True
    return changed
