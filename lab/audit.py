"""The double-run auditor, pure: which resources an lrmd runs, and whether a unique resource
ever ran on two nodes at once, judged from samples of every node's lrmd (not from the CIB).

Nothing here does I/O: `lab.audit_live` samples the lab's lrmds (and the simulator reads
its lrmd cores) and feeds `DoubleRunAudit.add` with what each lrmd said and when.

Invariants and the reasoning behind them:
- `running_instances` says a resource runs only when the lrmd's own history proves it: its
  last non-recurring operation (the highest call id, Pacemaker's ``last_0``) is a start,
  promote, demote or migrate_from that succeeded, or a probe that found it running (rc 0 or
  8), and no recurring monitor reported it stopped or failed since. A failed start or stop
  is "unknown", not running: the auditor must never cry double run without proof.
- An instance is (node, resource, `Instance` of that last operation: its call id and when it
  ran): the same instance in two samples means the resource ran without interruption
  between them (any stop or restart takes a new call id; a restarted lrmd counts call ids
  from 1 again, so the time the operation ran tells its instances apart).
- A sample is an answer received some time in [sent, received]; the instance certainly ran
  from the first answer's `received` to the last answer's `sent`. Two instances of one
  resource on different nodes whose certain intervals overlap are a double run. A move
  (stop on A, then start on B) can never overlap that way, however the samples interleave,
  because A's last `sent` precedes the stop and B's first `received` follows the start.
  A double run shorter than two sampling periods can go unseen; none is ever invented.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

RUNNING_ACTIONS = frozenset({"start", "promote", "demote", "migrate_from"})
RUNNING_RCS = frozenset({0, 8})  # OCF_SUCCESS, OCF_RUNNING_PROMOTED
STATUS_DONE = 0  # lrmd's OpStatus.DONE: the agent ran to completion
Instance = tuple[int, float]  # (call id, last_run) of the operation proving it runs


class OpRecord(Protocol):
    """What the auditor reads of an lrmd history record (lrmd.api.OpCompleted)."""

    @property
    def call_id(self) -> int: ...
    @property
    def resource(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def interval_ms(self) -> int: ...
    @property
    def rc(self) -> int: ...
    @property
    def status(self) -> int: ...
    @property
    def last_run(self) -> float: ...


def _proves_running(last: OpRecord) -> bool:
    if last.status != STATUS_DONE or last.rc not in RUNNING_RCS:
        return False
    return last.action in RUNNING_ACTIONS or (last.action == "monitor" and last.interval_ms == 0)


def running_instances(records: Iterable[OpRecord]) -> dict[str, Instance]:
    """{resource: (call id, last_run) of the operation proving it runs} from one lrmd's
    history."""
    by_resource: dict[str, list[OpRecord]] = {}
    for record in records:
        by_resource.setdefault(record.resource, []).append(record)
    running: dict[str, Instance] = {}
    for resource, history in by_resource.items():
        one_shot = [r for r in history if r.interval_ms == 0 and r.action != "cancel"]
        if not one_shot:
            continue
        last = max(one_shot, key=lambda r: r.call_id)
        stopped_since = any(
            r.interval_ms > 0 and r.last_run >= last.last_run
            and (r.status != STATUS_DONE or r.rc not in RUNNING_RCS)
            for r in history)
        if _proves_running(last) and not stopped_since:
            running[resource] = (last.call_id, last.last_run)
    return running


@dataclass
class _Interval:
    first_received: float
    last_sent: float
    samples: int = 1


@dataclass(frozen=True, slots=True)
class DoubleRun:
    """One resource certainly running on two nodes at once, during [start, end]."""

    resource: str
    nodes: tuple[str, str]
    start: float
    end: float

    def __str__(self) -> str:
        return (f"{self.resource} ran on {self.nodes[0]} and {self.nodes[1]} at once "
                f"during [{self.start:.3f}, {self.end:.3f}]")


@dataclass
class DoubleRunAudit:
    """Collects samples of every node's running resources; `double_runs` judges them.

    `unique` names the resources that may run on one node only (primitives and groups'
    members, not clone instances); None audits every resource the lrmds report.
    """

    unique: frozenset[str] | None = None
    _intervals: dict[tuple[str, str, Instance], _Interval] = field(default_factory=dict)
    samples: int = 0
    starts: dict[tuple[str, str], set[Instance]] = field(default_factory=dict)

    def add(self, node: str, sent: float, received: float,
            running: Mapping[str, Instance]) -> None:
        """What `node`'s lrmd answered to a request sent at `sent`, answered by `received`."""
        self.samples += 1
        for resource, instance in running.items():
            if self.unique is not None and resource not in self.unique:
                continue
            self.starts.setdefault((node, resource), set()).add(instance)
            key = (node, resource, instance)
            interval = self._intervals.get(key)
            if interval is None:
                self._intervals[key] = _Interval(received, sent)
            else:
                interval.last_sent = max(interval.last_sent, sent)
                interval.samples += 1

    def double_runs(self) -> list[DoubleRun]:
        """Every pair of instances of one resource on two nodes with overlapping certain
        intervals (empty when the audit found none)."""
        by_resource: dict[str, list[tuple[str, _Interval]]] = {}
        for (node, resource, _), interval in self._intervals.items():
            if interval.first_received <= interval.last_sent:  # at least two samples
                by_resource.setdefault(resource, []).append((node, interval))
        found = []
        for resource, seen in sorted(by_resource.items()):
            for i, (node_a, a) in enumerate(seen):
                for node_b, b in seen[i + 1:]:
                    start = max(a.first_received, b.first_received)
                    end = min(a.last_sent, b.last_sent)
                    if node_a != node_b and start <= end:
                        found.append(DoubleRun(resource, tuple(sorted((node_a, node_b))),  # type: ignore[arg-type]
                                               start, end))
        return found

    def instances_seen(self, resource: str) -> dict[str, int]:
        """How many distinct instances (starts) of `resource` each node was seen running."""
        return {node: len(ids) for (node, rsc), ids in self.starts.items() if rsc == resource}


def placement(running_by_node: Mapping[str, Mapping[str, Instance]]) -> dict[str, set[str]]:
    """{resource: nodes running it} from one round of samples."""
    where: dict[str, set[str]] = {}
    for node, running in running_by_node.items():
        for resource in running:
            where.setdefault(resource, set()).add(node)
    return where


def placement_differences(expected: Mapping[str, set[str]], actual: Mapping[str, set[str]],
                          resources: Iterable[str] | None = None) -> list[str]:
    """Human-readable differences between two placements (empty when they agree)."""
    names = sorted(set(resources) if resources is not None else set(expected) | set(actual))
    return [f"{name}: expected on {sorted(expected.get(name, set())) or 'no node'}, "
            f"runs on {sorted(actual.get(name, set())) or 'no node'}"
            for name in names if set(expected.get(name, set())) != set(actual.get(name, set()))]


__all__ = [
    "DoubleRun",
    "DoubleRunAudit",
    "Instance",
    "OpRecord",
    "placement",
    "placement_differences",
    "running_instances",
]
