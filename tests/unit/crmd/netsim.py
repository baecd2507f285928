"""A tiny deterministic network for election tests: nodes, partitions, kills, a fake clock.

Messages take `delay` seconds and arrive only if sender and receiver are alive and in the
same partition at delivery time. Every partition change gives each node of every partition
a new view (what ccm does). Everything is ordered by (time, sequence): same inputs, same run.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crmd.election import Election, ElectionTiming, ViewChanged
from crmd.messages import Credentials, PeerMessage, Vote
from messaging.effects import ArmTimer, CancelTimer, Node, Send, TimerFired

FEATURE_SET = "3.16.2"


@dataclass
class Net:
    names: list[str]
    timing: ElectionTiming = field(default_factory=ElectionTiming)
    delay: float = 0.01
    now: float = 0.0
    nodes: dict[str, Election] = field(default_factory=dict)
    alive: set[str] = field(default_factory=set)
    groups: list[frozenset[str]] = field(default_factory=list)
    votes_sent: dict[str, int] = field(default_factory=dict)
    _queue: list[tuple[float, int, str, Any]] = field(default_factory=list)
    _seq: int = 0
    _timers: dict[tuple[str, str], float] = field(default_factory=dict)
    _incarnation: dict[str, int] = field(default_factory=dict)

    def boot(self, name: str) -> None:
        incarnation = self._incarnation.get(name, 0) + 1
        self._incarnation[name] = incarnation
        node = Election(Credentials(name, FEATURE_SET, 1000.0 + self.now), self.timing)
        self.nodes[name] = node
        self.alive.add(name)
        self._apply(name, node.start(self.now))

    def start_all(self) -> None:
        for name in self.names:
            self.boot(name)
        self.partition([self.names])

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        listed = [frozenset(g) & self.alive for g in groups]
        rest = self.alive - set().union(*listed) if listed else set(self.alive)
        self.groups = [g for g in listed if g] + [frozenset({n}) for n in sorted(rest)]
        for group in self.groups:
            for name in sorted(group):
                self._apply(name, self.nodes[name].handle(ViewChanged(tuple(sorted(group)),
                                                                      self.now)))

    def kill(self, name: str) -> None:
        self.alive.discard(name)
        self.partition([g - {name} for g in self.groups])

    def revive(self, name: str, join: str | None = None) -> None:
        self.boot(name)
        groups = [set(g) for g in self.groups]
        target = next((g for g in groups if join in g), None) if join else None
        if target is None:
            groups.append({name})
        else:
            target.add(name)
        self.partition(groups)

    def group_of(self, name: str) -> frozenset[str]:
        return next(g for g in self.groups if name in g)

    def _apply(self, name: str, effects: list[Any]) -> None:
        incarnation = self._incarnation[name]
        for effect in effects:
            if isinstance(effect, Send):
                if isinstance(effect.message, Vote):
                    self.votes_sent[name] = self.votes_sent.get(name, 0) + 1
                self._push(self.now + self.delay, "msg", (name, incarnation, effect))
            elif isinstance(effect, ArmTimer):
                self._timers[(name, effect.key)] = effect.deadline
                self._push(effect.deadline, "timer", (name, incarnation, effect))
            elif isinstance(effect, CancelTimer):
                self._timers.pop((name, effect.key), None)

    def _push(self, when: float, kind: str, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, kind, payload))

    def run_until(self, deadline: float) -> None:
        while self._queue and self._queue[0][0] <= deadline:
            when, _, kind, (source, incarnation, effect) = heapq.heappop(self._queue)
            self.now = max(self.now, when)
            if kind == "timer":
                self._fire(source, incarnation, effect)
            else:
                self._deliver(source, incarnation, effect)
        self.now = max(self.now, deadline)

    def _fire(self, name: str, incarnation: int, timer: ArmTimer) -> None:
        if name not in self.alive or self._incarnation[name] != incarnation:
            return
        if self._timers.get((name, timer.key)) != timer.deadline:
            return  # cancelled or re-armed
        del self._timers[(name, timer.key)]
        self._apply(name, self.nodes[name].handle(TimerFired(timer.key, self.now)))

    def _deliver(self, source: str, incarnation: int, send: Send) -> None:
        assert isinstance(send.destination, Node)
        target = send.destination.name
        if source not in self.alive or target not in self.alive:
            return
        if self._incarnation[source] != incarnation or target not in self.group_of(source):
            return
        event = PeerMessage(source, send.message, self.now)
        self._apply(target, self.nodes[target].handle(event))

    def dc_views(self) -> dict[frozenset[str], set[str | None]]:
        """Per partition: the set of DCs its members believe in."""
        return {g: {self.nodes[n].dc for n in g} for g in self.groups}

    def agreed(self) -> bool:
        for group, dcs in self.dc_views().items():
            if len(dcs) != 1:
                return False
            dc = next(iter(dcs))
            if dc is None or dc not in group or not self.nodes[dc].is_dc:
                return False
            if [n for n in group if self.nodes[n].is_dc] != [dc]:
                return False
        return True
