"""What a node must hold for a resource under a placement strategy (pcmk__colocated_resources
and the utilization summed over that list, sched_utilization.c).

Invariants: pure reads of the placer's state at the moment a primitive is assigned; only
resources not yet assigned contribute, and a clone contributes one instance's worth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pengine.scores import INF
from pengine.utilization import Usage, combine

if TYPE_CHECKING:
    from pengine.placement import _Placer


def colocated_resources(placer: _Placer, rid: str) -> list[str]:
    """rid and the resources tied to it by INFINITY colocations, either way, as
    pcmk__colocated_resources collects them: a link counts only while its dependent is
    unassigned (pcmk__colocation_affects, previewing, leaves an assigned dependent's
    colocations alone), and a clone does not lead on to dependents that are not clones
    (which of its nodes they would join is unknown; params-6)."""
    out = [rid]
    for rsc in out:
        links = [c.primary for c in placer.this_with.get(rsc, [])
                 if c.score >= INF and rsc not in placer.assigned]
        from_clone = placer.u.rsc(rsc).kind == "clone"
        links += [c.dependent for c in placer.with_this.get(rsc, [])
                  if c.score >= INF and c.dependent not in placer.assigned
                  and not (from_clone and placer.u.rsc(c.dependent).kind != "clone")]
        out.extend(r for r in dict.fromkeys(links) if r not in out)
    return out


def colocated_usage(placer: _Placer, rid: str) -> Usage:
    """The summed utilization of rid's colocated resources that are still unassigned.

    A group adds its unassigned members not listed themselves; a clone adds nothing when
    an instance is listed, the instances with a member listed, else its first instance
    (one instance's worth; colocated-utilization-clone)."""
    listed = colocated_resources(placer, rid)
    return combine(*(_usage(placer, r, listed) for r in listed))


def _usage(placer: _Placer, rid: str, listed: list[str]) -> Usage:
    rsc = placer.u.rsc(rid)
    if rsc.kind == "primitive":
        return {} if rid in placer.assigned else placer.usage.get(rid, {})
    if rsc.kind == "group":
        return combine(*(placer.usage.get(m, {}) for m in placer.primitives_under(rid)
                         if m not in placer.assigned and m not in listed))
    if rsc.kind != "clone" or not rsc.children:
        return {}
    # An instance in the list adds its own; one with a member listed adds the rest.
    partly = [inst for inst in rsc.children if inst not in listed
              and any(m in listed for m in placer.primitives_under(inst))]
    if partly or any(inst in listed for inst in rsc.children):
        return combine(*(_usage(placer, inst, listed) for inst in partly))
    return _usage(placer, rsc.children[0], listed)
