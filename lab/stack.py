"""The whole membership stack in memory: real heartbeat cores (messaging's SimNet) + ccm cores.

Unlike `lab.sim` (whose heartbeat is a small stand-in), here liveness, signed packets,
reliable ordered delivery of channel "ccm" messages, generations and restarts all come from
`messaging.heartbeat.core`. The two layers are glued exactly like `ccm.service` does:
NodeStatusChanged -> PeerStatusChanged (late counts as up), MessageReceived on "ccm" ->
PeerMessageReceived, ccm Send -> SendRequest(dst, "ccm", msgpack(wire)). Time advances in
small steps (`step`, default 5 ms): ccm reacts to heartbeat events within one step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ccm.api import (
    CHANNEL,
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
from messaging.auth import KeyRing
from messaging.authkeys import parse_authkeys
from messaging.effects import AllNodes, ArmTimer, CancelTimer, Effect, Publish, Send, TimerFired
from messaging.heartbeat.api import MessageReceived, NodeState, NodeStatusChanged
from messaging.heartbeat.events import SendRequest
from messaging.heartbeat.liveness import Timing as HbTiming
from messaging.heartbeat.simnet import SimNet


@dataclass
class _Ccm:
    node: CcmNode
    incarnation: int
    seen: int = 0
    timers: dict[str, float] = field(default_factory=dict)


class StackCluster:
    """N nodes of heartbeat + ccm cores on SimNet, one FakeClock."""

    def __init__(self, names: list[str], *, keepalive: float = 0.2, deadtime: float = 1.0,
                 seed: int = 1, step: float = 0.005, keys: KeyRing | None = None,
                 links: tuple[str, ...] = ("eth0",)) -> None:
        timing = HbTiming(keepalive, deadtime / 2, deadtime, max(2 * deadtime, 2.0))
        keys = keys or parse_authkeys("auth 1\n1 hmac-sha256 lab-stack-secret\n")
        self.net = SimNet(names, keys, timing, seed=seed, links=links)
        self.names = list(names)
        self.seed = seed
        self.step = step
        self.ccm_timing = Timing.for_keepalive(keepalive)
        self.ccm: dict[str, _Ccm] = {}
        self.events: list[tuple[float, str, MembershipChanged]] = []
        for name in names:
            self._boot_ccm(name, 0)
        self.net.start()

    @property
    def now(self) -> float:
        return self.net.now

    def _boot_ccm(self, name: str, incarnation: int) -> None:
        settings = QuorumSettings(nodes=tuple(self.names))
        rng = random.Random(f"{self.seed}:{name}:{incarnation}")
        old = self.ccm.get(name)
        last_view_id = old.node.view.view_id if old else 0  # what the service keeps on disk
        entry = _Ccm(CcmNode(name, settings, self.ccm_timing, rng, incarnation, last_view_id),
                     incarnation)
        self.ccm[name] = entry
        self._perform(name, entry.node.start(self.now))

    def kill(self, name: str) -> None:
        self.net.kill(name)
        self.ccm[name].timers.clear()

    def restart(self, name: str) -> None:
        self.net.restart(name)
        self._boot_ccm(name, self.ccm[name].incarnation + 1)

    def view(self, name: str) -> tuple[int, tuple[str, ...]]:
        view = self.ccm[name].node.view
        return view.view_id, view.members

    # ------------------------------------------------------------------ running
    def run_for(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.net.run_until(min(end, self.now + self.step))
            for name in self.names:
                if self.net.nodes[name].alive:
                    self._drain(name)
                    self._fire_due(name)

    def _drain(self, name: str) -> None:
        entry, events = self.ccm[name], self.net.nodes[name].events
        while entry.seen < len(events):
            event = events[entry.seen]
            entry.seen += 1
            translated = ccm_event(event, name, self.now)
            if translated is not None:
                self._perform(name, entry.node.handle(translated))

    def _fire_due(self, name: str) -> None:
        entry = self.ccm[name]
        for key, deadline in sorted(entry.timers.items(), key=lambda kv: kv[1]):
            if deadline <= self.now and entry.timers.get(key) == deadline:
                del entry.timers[key]
                self._perform(name, entry.node.handle(TimerFired(key, self.now)))

    def _perform(self, name: str, effects: list[Effect]) -> None:
        entry = self.ccm[name]
        for effect in effects:
            if isinstance(effect, Send):
                payload = to_wire(effect.message)
                destination = effect.destination
                dst = "*" if isinstance(destination, AllNodes) else destination.name  # type: ignore[union-attr]
                self.net.feed(name, SendRequest(dst, CHANNEL, payload, self.now))
            elif isinstance(effect, ArmTimer):
                entry.timers[effect.key] = effect.deadline
            elif isinstance(effect, CancelTimer):
                entry.timers.pop(effect.key, None)
            elif isinstance(effect, Publish) and effect.topic == MEMBERSHIP_TOPIC:
                self.events.append((self.now, name, effect.event))


def ccm_event(event: Any, local: str, now: float) -> PeerStatusChanged | PeerMessageReceived | None:
    """The ccm event for one heartbeat publication (None: nothing for ccm)."""
    if isinstance(event, NodeStatusChanged) and event.node != local:
        return PeerStatusChanged(event.node, event.status != NodeState.DEAD, now)
    if isinstance(event, MessageReceived) and event.channel == CHANNEL and event.src != local:
        return PeerMessageReceived(event.src, from_wire(event.payload), now)
    return None
