"""A deterministic in-memory cluster: ccm cores over a lossy simulated network and a FakeClock.

`Network` decides the fate of every datagram: dropped (per-node loss, partitions, dead
nodes), delayed (base + jitter, which also reorders) or duplicated, all from one seeded
`random.Random`. `SimHeartbeat` is a small stand-in for the heartbeat layer (a beat every
keepalive, a peer is dead after deadtime without one) that turns the network's behaviour
into `PeerStatusChanged` events. `Cluster` runs everything from one event heap in time order,
so a run is a pure function of (seed, commands). Nothing here sleeps or opens a socket.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ccm.api import (
    MEMBERSHIP_TOPIC,
    CcmNode,
    MembershipChanged,
    PeerMessageReceived,
    PeerStatusChanged,
    QuorumSettings,
    Timing,
)
from ccm.api import protocol_from_wire as from_wire
from ccm.api import protocol_to_wire as to_wire
from messaging.clock import FakeClock
from messaging.effects import AllNodes, ArmTimer, CancelTimer, Effect, Publish, Send, TimerFired


@dataclass(slots=True)
class Network:
    """Fault model of the simulated LAN (all probabilities in 0..1, times in seconds)."""

    rng: random.Random
    delay: float = 0.001
    jitter: float = 0.0
    duplicate: float = 0.0
    loss: dict[str, float] = field(default_factory=dict)  # per receiving or sending node
    groups: list[frozenset[str]] = field(default_factory=list)  # empty: no partition
    cut_links: set[tuple[str, str]] = field(default_factory=set)  # one-way src -> dst
    sent: int = 0
    dropped: int = 0

    def connected(self, src: str, dst: str) -> bool:
        if (src, dst) in self.cut_links:
            return False
        if not self.groups:
            return True
        return any(src in group and dst in group for group in self.groups)

    def fates(self, src: str, dst: str) -> list[float]:
        """Delivery delays for one datagram: [] dropped, one entry normally, two if duplicated."""
        self.sent += 1
        lost = 1 - (1 - self.loss.get(src, 0.0)) * (1 - self.loss.get(dst, 0.0))
        if not self.connected(src, dst) or self.rng.random() < lost:
            self.dropped += 1
            return []
        copies = 2 if self.rng.random() < self.duplicate else 1
        return [self.delay + self.rng.uniform(0, self.jitter) for _ in range(copies)]


class SimHeartbeat:
    """Heartbeat stand-in: beats every keepalive, declares a peer dead after deadtime."""

    def __init__(self, name: str, peers: Iterable[str], keepalive: float, deadtime: float):
        self.name = name
        self.peers = [p for p in peers if p != name]
        self.keepalive = keepalive
        self.deadtime = deadtime
        self.last_heard: dict[str, float] = {}
        self.up: set[str] = set()

    def heard(self, src: str, now: float) -> list[PeerStatusChanged]:
        self.last_heard[src] = now
        if src in self.up:
            return []
        self.up.add(src)
        return [PeerStatusChanged(src, True, now)]

    def check(self, now: float) -> list[PeerStatusChanged]:
        dead = [p for p in sorted(self.up) if now - self.last_heard[p] > self.deadtime]
        self.up.difference_update(dead)
        return [PeerStatusChanged(p, False, now) for p in dead]


@dataclass(slots=True)
class SimNode:
    name: str
    ccm: CcmNode
    heartbeat: SimHeartbeat
    alive: bool = True
    incarnation: int = 0
    timers: dict[str, float] = field(default_factory=dict)


class Cluster:
    """Several nodes, one network, one clock, one event heap."""

    def __init__(
        self,
        seed: int = 1,
        keepalive: float = 0.2,
        deadtime: float = 1.0,
        timing: Timing | None = None,
        quorum: dict[str, Any] | None = None,
    ):
        self.seed = seed
        self.clock = FakeClock()
        self.rng = random.Random(seed)
        self.network = Network(self.rng)
        self.keepalive = keepalive
        self.deadtime = deadtime
        self.timing = timing or Timing.for_keepalive(keepalive)
        self.quorum_options = dict(quorum or {})
        self.names: list[str] = []
        self.nodes: dict[str, SimNode] = {}
        self.events: list[tuple[float, str, MembershipChanged]] = []
        self._heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self._seq = 0

    # ----------------------------------------------------------------- setup
    def add_nodes(self, names: Iterable[str]) -> None:
        new = [name for name in names if name not in self.nodes]
        self.names += new
        for node in self.nodes.values():
            node.heartbeat.peers += new
        for name in new:
            self.nodes[name] = self._make_node(name, None)

    def _make_node(self, name: str, old: SimNode | None) -> SimNode:
        settings = QuorumSettings(nodes=tuple(self.names), **self.quorum_options)
        incarnation = old.incarnation + 1 if old else 0
        rng = random.Random(f"{self.seed}:{name}:{incarnation}")
        node = SimNode(
            name,
            # A reboot keeps only what the service keeps on disk: the last installed view id.
            CcmNode(name, settings, self.timing, rng, incarnation,
                    last_view_id=old.ccm.view.view_id if old else 0),
            SimHeartbeat(name, self.names, self.keepalive, self.deadtime),
            incarnation=incarnation,
        )
        if old is not None and not old.alive:
            node.alive = False
            return node
        self._boot(node)
        return node

    def _boot(self, node: SimNode) -> None:
        now = self.clock.monotonic()
        node.alive = True
        self._perform(node, node.ccm.start(now))
        self._push(now + self.rng.uniform(0, self.keepalive), "beat", (node.name, node.incarnation))

    def kill(self, name: str) -> None:
        self.nodes[name].alive = False
        self.nodes[name].timers.clear()

    def start(self, name: str) -> None:
        """Boot a fresh incarnation of `name` (its old state is gone, like a reboot)."""
        old = self.nodes[name]
        old.alive = True
        self.nodes[name] = self._make_node(name, old)

    # ----------------------------------------------------------------- running
    def run_for(self, seconds: float) -> None:
        self.run_until(self.clock.monotonic() + seconds)

    def run_until(self, deadline: float) -> None:
        while self._heap and self._heap[0][0] <= deadline:
            when, _, kind, data = heapq.heappop(self._heap)
            self.clock.advance(max(0.0, when - self.clock.monotonic()))
            getattr(self, f"_on_{kind}")(*data)
        self.clock.advance(max(0.0, deadline - self.clock.monotonic()))

    def _push(self, when: float, kind: str, data: tuple[Any, ...]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, data))

    def _live(self, name: str, incarnation: int) -> SimNode | None:
        node = self.nodes.get(name)
        if node is None or not node.alive or node.incarnation != incarnation:
            return None
        return node

    def _on_beat(self, name: str, incarnation: int) -> None:
        node = self._live(name, incarnation)
        if node is None:
            return
        now = self.clock.monotonic()
        for peer in node.heartbeat.peers:
            for delay in self.network.fates(name, peer):
                self._push(now + delay, "heard", (peer, name))
        for change in node.heartbeat.check(now):
            self._perform(node, node.ccm.handle(change))
        self._push(now + self.keepalive, "beat", (name, incarnation))

    def _on_heard(self, dst: str, src: str) -> None:
        node = self.nodes[dst]
        if node.alive:
            for change in node.heartbeat.heard(src, self.clock.monotonic()):
                self._perform(node, node.ccm.handle(change))

    def _on_deliver(self, dst: str, src: str, payload: dict[str, Any]) -> None:
        node = self.nodes[dst]
        if node.alive:
            event = PeerMessageReceived(src, from_wire(payload), self.clock.monotonic())
            self._perform(node, node.ccm.handle(event))

    def _on_timer(self, name: str, incarnation: int, key: str, deadline: float) -> None:
        node = self._live(name, incarnation)
        if node is None or node.timers.get(key) != deadline:
            return
        del node.timers[key]
        self._perform(node, node.ccm.handle(TimerFired(key, self.clock.monotonic())))

    def _perform(self, node: SimNode, effects: list[Effect]) -> None:
        now = self.clock.monotonic()
        for effect in effects:
            if isinstance(effect, Send):
                payload = to_wire(effect.message)
                destination = effect.destination
                targets = node.heartbeat.peers if isinstance(destination, AllNodes) else [
                    destination.name]  # type: ignore[union-attr]
                for target in targets:
                    for delay in self.network.fates(node.name, target):
                        self._push(now + delay, "deliver", (target, node.name, payload))
            elif isinstance(effect, ArmTimer):
                node.timers[effect.key] = effect.deadline
                self._push(effect.deadline, "timer",
                           (node.name, node.incarnation, effect.key, effect.deadline))
            elif isinstance(effect, CancelTimer):
                node.timers.pop(effect.key, None)
            elif isinstance(effect, Publish) and effect.topic == MEMBERSHIP_TOPIC:
                self.events.append((now, node.name, effect.event))

    # ----------------------------------------------------------------- checks
    def components(self) -> list[frozenset[str]]:
        """Groups of live nodes that can all hear each other (the partitions)."""
        alive = [n for n in self.names if self.nodes[n].alive]
        remaining, result = set(alive), []
        for name in alive:
            if name not in remaining:
                continue
            group = {m for m in remaining if self._mutual(name, m)}
            remaining -= group
            result.append(frozenset(group))
        return result

    def _mutual(self, a: str, b: str) -> bool:
        return a == b or (self.network.connected(a, b) and self.network.connected(b, a))

    def agreement_problems(self) -> list[str]:
        """Empty when every partition agrees on one view made of exactly its members."""
        problems = []
        for group in self.components():
            views = {self.nodes[n].ccm.view for n in group}
            if len(views) != 1:
                problems.append(f"{' '.join(sorted(group))}: {len(views)} different views")
            elif frozenset(next(iter(views)).members) != group:
                view = next(iter(views))
                problems.append(f"{' '.join(sorted(group))}: view has {' '.join(view.members)}")
        return problems

    def stabilize(self, limit: float = 60.0, step: float = 0.05) -> float | None:
        """Run until views agree with the partitions; seconds it took, None if not within limit."""
        start = self.clock.monotonic()
        while self.clock.monotonic() - start <= limit:
            if not self.agreement_problems():
                return self.clock.monotonic() - start
            self.run_for(step)
        return None
