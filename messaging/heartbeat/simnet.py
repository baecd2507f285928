"""An in-memory network for heartbeat cores: fake time, lossy links, no sockets.

`SimNet` runs several `HeartbeatCore`s against one `FakeClock`. Datagrams and timers sit in
one time-ordered queue; `run_until(t)` processes them in order. Links can drop, duplicate
and delay (reorder) datagrams with a seeded `random.Random`, and can be cut per pair of
nodes. Published events are recorded per node. Used by the unit tests and by lab.sim;
it lives here, beside the core, so every user drives the core the same way.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from messaging.auth import KeyRing
from messaging.clock import FakeClock
from messaging.effects import ArmTimer, CancelTimer, Log, Persist, Publish, TimerFired
from messaging.heartbeat.core import PEERS, CoreSettings, HeartbeatCore
from messaging.heartbeat.events import (
    Effect,
    Event,
    PacketReceived,
    SendDatagram,
    Started,
)
from messaging.heartbeat.liveness import Timing
from messaging.heartbeat.peers import PeerMark, decode_marks

PORT = 694


@dataclass
class LinkModel:
    """Impairments of one link (applied to every datagram on it)."""

    latency: float = 0.001
    drop: float = 0.0
    duplicate: float = 0.0
    jitter: float = 0.0  # extra random delay: > latency reorders packets


@dataclass
class SimNode:
    name: str
    core: HeartbeatCore
    address: str
    alive: bool = True
    events: list[Any] = field(default_factory=list)
    logs: list[Log] = field(default_factory=list)
    timers: dict[str, float] = field(default_factory=dict)


class SimNet:
    """Several heartbeat cores on a simulated network."""

    def __init__(self, names: list[str], keys: KeyRing, timing: Timing, *,
                 links: tuple[str, ...] = ("eth0",), seed: int = 0, cluster: str = "test",
                 autojoin: str = "none") -> None:
        self.clock = FakeClock()
        self.keys = keys
        self.timing = timing
        self.links = {name: LinkModel() for name in links}
        self.cluster = cluster
        self.autojoin = autojoin
        self.names = list(names)
        self.rng = random.Random(seed)
        self.cut: set[tuple[str, str, str]] = set()
        # timers fire up to this many seconds late (uniform): a loaded host's scheduler
        self.timer_lateness = 0.0
        self.nodes: dict[str, SimNode] = {}
        self.wire_log: list[tuple[float, str, str, bytes]] = []
        # the replay marks each node's shell persisted: a restart reads them back
        self.disk: dict[str, tuple[PeerMark, ...]] = {}
        self._queue: list[tuple[float, int, str, Any]] = []
        self._order = itertools.count()
        self._generation = itertools.count(100)
        for index, name in enumerate(names):
            self.nodes[name] = self._make(name, f"10.0.0.{index + 1}")

    def _make(self, name: str, address: str) -> SimNode:
        settings = CoreSettings(name, self.cluster, next(self._generation), self.timing,
                                tuple(self.links), tuple(self.names), self.keys, self.autojoin,
                                known_peers=self.disk.get(name, ()))
        return SimNode(name, HeartbeatCore(settings), address)

    @property
    def now(self) -> float:
        return self.clock.monotonic()

    # ---------------------------------------------------------------- control
    def start(self, *names: str) -> None:
        for name in names or tuple(self.nodes):
            self.feed(name, Started(self.now))

    def kill(self, name: str) -> None:
        """The node stops dead: no more packets out, none processed, timers gone."""
        self.nodes[name].alive = False
        self.nodes[name].timers.clear()

    def restart(self, name: str, *, lose_disk: bool = False) -> None:
        """A fresh core (new generation) on the same address; it reads back what it
        persisted unless `lose_disk`."""
        old = self.nodes[name]
        if lose_disk:
            self.disk.pop(name, None)
        self.nodes[name] = self._make(name, old.address)
        self.feed(name, Started(self.now))

    def partition(self, a: str, b: str, link: str | None = None, cut: bool = True) -> None:
        for one in (link,) if link else tuple(self.links):
            for pair in ((a, b, one), (b, a, one)):
                if cut:
                    self.cut.add(pair)
                else:
                    self.cut.discard(pair)

    def inject(self, name: str, link: str, data: bytes, addr: tuple[str, int]) -> None:
        """Hand `name` a datagram of our own making (an attacker's, a garbled one)."""
        self._push(self.now, "packet", (name, PacketReceived(link, data, addr, self.now)))

    # ---------------------------------------------------------------- running
    def feed(self, name: str, event: Event) -> list[Effect]:
        node = self.nodes[name]
        if not node.alive:
            return []
        effects = node.core.handle(event)
        for effect in effects:
            self._perform(node, effect)
        return effects

    def _push(self, when: float, kind: str, item: Any) -> None:
        heapq.heappush(self._queue, (when, next(self._order), kind, item))

    def _perform(self, node: SimNode, effect: Effect) -> None:
        if isinstance(effect, SendDatagram):
            self._transmit(node, effect)
        elif isinstance(effect, ArmTimer):
            node.timers[effect.key] = effect.deadline
            late = self.rng.random() * self.timer_lateness if self.timer_lateness else 0.0
            self._push(effect.deadline + late, "timer", (node.name, effect.key, effect.deadline))
        elif isinstance(effect, CancelTimer):
            node.timers.pop(effect.key, None)
        elif isinstance(effect, Publish):
            node.events.append(effect.event)
        elif isinstance(effect, Log):
            node.logs.append(effect)
        elif isinstance(effect, Persist) and effect.name == PEERS:
            self.disk[node.name] = decode_marks(effect.data.decode())

    def _transmit(self, node: SimNode, effect: SendDatagram) -> None:
        model = self.links[effect.link]
        self.wire_log.append((self.now, node.name, effect.link, effect.data))
        for target in self.nodes.values():
            if target is node or (node.name, target.name, effect.link) in self.cut:
                continue
            if effect.dest is not None and effect.dest[0] != target.address:
                continue
            copies = 2 if self.rng.random() < model.duplicate else 1
            for _ in range(copies):
                if self.rng.random() < model.drop:
                    continue
                delay = model.latency + self.rng.random() * model.jitter
                packet = PacketReceived(effect.link, effect.data, (node.address, PORT), 0.0)
                self._push(self.now + delay, "packet", (target.name, packet))

    def run_until(self, deadline: float) -> None:
        """Process every queued datagram and timer due up to `deadline`, in time order."""
        while self._queue and self._queue[0][0] <= deadline:
            when, _, kind, item = heapq.heappop(self._queue)
            self.clock.advance(max(0.0, when - self.now))
            if kind == "timer":
                name, key, armed_for = item
                if self.nodes[name].timers.get(key) != armed_for:
                    continue  # re-armed or cancelled since
                del self.nodes[name].timers[key]
                self.feed(name, TimerFired(key, self.now))
            else:
                name, packet = item
                self.feed(name, PacketReceived(packet.link, packet.data, packet.addr, self.now))
        if deadline > self.now:
            self.clock.advance(deadline - self.now)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)
