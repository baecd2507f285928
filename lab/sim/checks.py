"""Questions about a running simulation: partitions, agreement, membership history.

`components` derives the groups of live nodes that can all hear each other from the
network's fault state (the truth the cores should converge to); `agreement_problems` is
empty when every group's ccm cores installed one view made of exactly that group.
"""

from __future__ import annotations

from typing import Any

from ccm.api import MEMBERSHIP_TOPIC, MembershipChanged

from .world import Simulation


def components(sim: Simulation) -> list[frozenset[str]]:
    """Groups of live nodes that can all hear each other (the partitions)."""
    alive = [n for n in sim.names if sim.alive(n)]
    remaining, result = set(alive), []
    for name in alive:
        if name not in remaining:
            continue
        group = {m for m in remaining if _mutual(sim, name, m)}
        remaining -= group
        result.append(frozenset(group))
    return result


def _mutual(sim: Simulation, a: str, b: str) -> bool:
    return a == b or (sim.network.connected(a, b) and sim.network.connected(b, a))


def view(sim: Simulation, node: str) -> Any:
    """The ccm view installed on `node`."""
    return sim.core(node, "ccm").view


def agreement_problems(sim: Simulation) -> list[str]:
    """Empty when every partition agrees on one view made of exactly its members."""
    problems = []
    for group in components(sim):
        views = {view(sim, n) for n in group}
        members = next(iter(views)).members
        if len(views) != 1:
            problems.append(f"{' '.join(sorted(group))}: {len(views)} different views")
        elif frozenset(members) != group:
            problems.append(f"{' '.join(sorted(group))}: view has {' '.join(members)}")
    return problems


def stabilize(sim: Simulation, limit: float = 60.0, step: float = 0.05) -> float | None:
    """Run until views agree with the partitions; seconds it took, None if not in limit."""
    return sim.run_until_true(lambda: not agreement_problems(sim), limit, step)


def membership_events(sim: Simulation) -> list[tuple[float, str, MembershipChanged]]:
    """Every `MembershipChanged` ccm published, in order: (time, node, event)."""
    return [(e.when, e.node, e.event) for e in sim.trace
            if e.topic == MEMBERSHIP_TOPIC and isinstance(e.event, MembershipChanged)]
