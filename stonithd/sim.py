"""An in-memory cluster of fencers: real `Fencer` cores, a fake clock, fake agents.

`SimCluster` performs every effect the way the service shell does, but in memory: `Send`
is delivered after `latency` fake seconds (dropped when a node is down), timers fire by
the `FakeClock`, and `RunAgent` is answered by a scripted `agents(node, run)` function
returning (Outcome, duration). Tests and `lab.sim` drive whole fencing operations through
it deterministically, without sockets, processes or sleeps.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from messaging.clock import FakeClock
from messaging.effects import ArmTimer, CancelTimer, Client, Log, Node, Publish, Send, TimerFired
from stonithd.core import ClientRequest, ConfigChanged, Fencer, PeerMessage, PeersChanged
from stonithd.devices import FencingConfig, load_config
from stonithd.executor import AgentFinished, RunAgent
from stonithd.results import Outcome

AgentScript = Callable[[str, RunAgent], tuple[Outcome, float]]


def always_ok(node: str, run: RunAgent) -> tuple[Outcome, float]:
    """Default agent behaviour: every action succeeds after 0.1 s (status says on)."""
    return Outcome(True, powered_on=True), 0.1


@dataclass
class SimCluster:
    """Fencers on `nodes`, each with `configs[node]` (or the shared `config`)."""

    nodes: tuple[str, ...]
    config: FencingConfig
    agents: AgentScript = always_ok
    latency: float = 0.001
    seed: int = 1
    configs: dict[str, FencingConfig] = field(default_factory=dict)
    clock: FakeClock = field(default_factory=FakeClock)
    down: set[str] = field(default_factory=set)
    replies: list[tuple[str, str, Any]] = field(default_factory=list)
    published: list[tuple[str, Any]] = field(default_factory=list)
    runs: list[tuple[str, RunAgent]] = field(default_factory=list)
    logs: list[tuple[str, Log]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fencers = {n: Fencer(n, random.Random(self.seed), peers=self.nodes)
                        for n in self.nodes}
        self._queue: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self._timers: dict[tuple[str, str], int] = {}
        for node, fencer in self.fencers.items():
            config = self.configs.get(node, self.config)
            self._apply(node, fencer.handle(ConfigChanged(config, {}, self.clock.monotonic())))

    @classmethod
    def from_cib(cls, nodes: tuple[str, ...], cib_xml: str, **kw: Any) -> SimCluster:
        """Every node loads the same CIB, each seeing which devices it may run."""
        configs = {n: load_config(cib_xml, local_node=n) for n in nodes}
        return cls(nodes, load_config(cib_xml), configs=configs, **kw)

    def _push(self, when: float, node: str, item: Any) -> int:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, node, item))
        return self._seq

    def _apply(self, node: str, effects: list[Any]) -> None:
        now = self.clock.monotonic()
        for effect in effects:
            if isinstance(effect, Send) and isinstance(effect.destination, Client):
                self.replies.append((node, effect.destination.token, effect.message))
            elif isinstance(effect, Send) and isinstance(effect.destination, Node):
                target = effect.destination.name
                if target not in self.down and node not in self.down:
                    self._push(now + self.latency, target, ("peer", node, effect))
            elif isinstance(effect, Publish):
                self.published.append((node, effect.event))
            elif isinstance(effect, ArmTimer):
                seq = self._push(effect.deadline, node, ("timer", effect.key))
                self._timers[(node, effect.key)] = seq
            elif isinstance(effect, CancelTimer):
                self._timers.pop((node, effect.key), None)
            elif isinstance(effect, RunAgent):
                self.runs.append((node, effect))
                outcome, duration = self.agents(node, effect)
                if duration <= effect.timeout:
                    result = outcome
                else:
                    duration = effect.timeout
                    result = Outcome(False, f"{effect.action} timed out")
                self._push(now + duration, node, ("agent", effect.run_id, result))
            elif isinstance(effect, Log):
                self.logs.append((node, effect))

    def request(self, node: str, message: Any, client: str = "client:1") -> None:
        """A local client of `node` sends `message` now."""
        now = self.clock.monotonic()
        event = ClientRequest(client, message, now, self.clock.wall())
        self._apply(node, self.fencers[node].handle(event))

    def _deliver(self, seq: int, node: str, item: tuple[Any, ...]) -> None:
        now = self.clock.monotonic()
        if item[0] == "timer":
            if self._timers.get((node, item[1])) != seq:
                return
            del self._timers[(node, item[1])]
            event: Any = TimerFired(item[1], now)
        elif item[0] == "agent":
            event = AgentFinished(item[1], item[2], now)
        else:
            sender, send = item[1], item[2]
            event = PeerMessage(sender, send.message, now, self.clock.wall())
        if node in self.down:
            return
        self._apply(node, self.fencers[node].handle(event))

    def run(self, until: float | None = None) -> None:
        """Process events in time order until none is left (or time `until` is reached)."""
        while self._queue:
            when, seq, node, item = self._queue[0]
            if until is not None and when > until:
                break
            heapq.heappop(self._queue)
            if item[0] == "timer" and self._timers.get((node, item[1])) != seq:
                continue  # cancelled or re-armed: must not move the clock
            if when > self.clock.monotonic():
                self.clock.advance(when - self.clock.monotonic())
            self._deliver(seq, node, item)
        if until is not None and until > self.clock.monotonic():
            self.clock.advance(until - self.clock.monotonic())

    def membership(self, members: tuple[str, ...]) -> None:
        """A new view: every running member's fencer hears `PeersChanged(members)` now."""
        now = self.clock.monotonic()
        for node in members:
            if node not in self.down:
                self._apply(node, self.fencers[node].handle(PeersChanged(members, now)))

    def replies_to(self, client: str) -> list[Any]:
        return [message for _, c, message in self.replies if c == client]
