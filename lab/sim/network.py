"""The simulated LAN: what happens to each datagram between two nodes' heartbeat cores.

`Network` decides every datagram's fate from one seeded `random.Random`: dropped (a dead
link, a partition, a one-way cut, random loss per link or per node), delayed (latency plus
uniform jitter, which also reorders) or duplicated. `rx_cost` models a receiving host that
needs time per datagram (a loaded machine): datagrams to one node are then processed one
after another, so a burst queues up. With `host_cores` set, every node's heartbeat shares
that many CPUs (the namespace lab: 16 nodes on one 2-core host), so a burst that reaches
all nodes at once queues on the shared cores too. Everything is data; `Simulation` asks `fates` and
schedules the deliveries, so a run is a function of (seed, commands).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class LinkModel:
    """Impairments of one link (every datagram on it): seconds and probabilities 0..1."""

    latency: float = 0.001
    jitter: float = 0.0  # extra uniform delay; more than the gap between packets reorders
    drop: float = 0.0
    duplicate: float = 0.0


@dataclass(slots=True)
class Network:
    """Fault model of the simulated LAN (one `LinkModel` per link name)."""

    rng: random.Random
    links: dict[str, LinkModel] = field(default_factory=lambda: {"eth0": LinkModel()})
    loss: dict[str, float] = field(default_factory=dict)  # per sending or receiving node
    groups: list[frozenset[str]] = field(default_factory=list)  # empty: no partition
    cut_links: set[tuple[str, str, str | None]] = field(default_factory=set)  # src, dst, link
    rx_cost: float = 0.0  # seconds a receiving node spends per datagram (0: infinitely fast)
    host_cores: int = 0  # CPUs all nodes share (0: every node has a CPU of its own)
    sent: int = 0
    dropped: int = 0
    _busy_until: dict[str, float] = field(default_factory=dict)
    _cores_free: list[float] = field(default_factory=list)

    def connected(self, src: str, dst: str, link: str | None = None) -> bool:
        """Whether `src` can reach `dst` (on `link`, or on some link when None)."""
        if self.groups and not any(src in g and dst in g for g in self.groups):
            return False
        if (src, dst, None) in self.cut_links:
            return False
        if link is not None:
            return (src, dst, link) not in self.cut_links
        return any((src, dst, name) not in self.cut_links for name in self.links)

    def cut(self, src: str, dst: str, link: str | None = None, *, both: bool = False) -> None:
        """Drop everything `src` sends to `dst` (on one link or all); `both`: also back."""
        self.cut_links.add((src, dst, link))
        if both:
            self.cut_links.add((dst, src, link))

    def uncut(self, src: str, dst: str, link: str | None = None, *, both: bool = False) -> None:
        self.cut_links.discard((src, dst, link))
        if both:
            self.cut_links.discard((dst, src, link))

    def heal(self) -> None:
        """No partition, no cut, no per-node loss (link models are left as they are)."""
        self.groups, self.loss = [], {}
        self.cut_links.clear()

    def fates(self, src: str, dst: str, link: str = "eth0") -> list[float]:
        """Delivery delays of one datagram: [] dropped, one entry, or two if duplicated."""
        self.sent += 1
        model = self.links[link]
        lost = 1 - (1 - self.loss.get(src, 0.0)) * (1 - self.loss.get(dst, 0.0)) * (
            1 - model.drop)
        if not self.connected(src, dst, link) or self.rng.random() < lost:
            self.dropped += 1
            return []
        copies = 2 if model.duplicate and self.rng.random() < model.duplicate else 1
        return [model.latency + (self.rng.uniform(0, model.jitter) if model.jitter else 0.0)
                for _ in range(copies)]

    def processed_at(self, dst: str, arrival: float) -> float:
        """When `dst` gets to a datagram arriving at `arrival` (after the ones before it)."""
        if not self.rx_cost:
            return arrival
        start = max(arrival, self._busy_until.get(dst, 0.0))
        if self.host_cores:
            if len(self._cores_free) != self.host_cores:
                self._cores_free = [0.0] * self.host_cores
            core = min(range(self.host_cores), key=self._cores_free.__getitem__)
            start = max(start, self._cores_free[core])
            self._cores_free[core] = start + self.rx_cost
        done = start + self.rx_cost
        self._busy_until[dst] = done
        return done
