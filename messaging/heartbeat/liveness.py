"""Who is alive: per-node and per-link status from the times packets were last heard.

Pure bookkeeping, no I/O. A link is up while it heard the node within deadtime. A node
is up while ANY link heard it within warntime, late after warntime of silence on all links,
dead after deadtime. A node never heard is dead once initdead has passed since start-up
(before that it is reported dead but no change is announced). `Leaving` marks a node dead at
once. `evaluate(now)` returns the nodes whose visible state (status, links, generation)
changed since the last evaluation, so callers publish exactly one event per change.
`to_grid` places keepalives on the cluster's shared wall-clock grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messaging.heartbeat.api import LinkState, NodeInfo, NodeState

# Timers fire at last_heard + warntime exactly; float subtraction may then come out a hair
# short of warntime. Comparisons allow this much so a timer's own deadline always counts.
EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Timing:
    """The four Heartbeat timers, in seconds."""

    keepalive: float
    warntime: float
    deadtime: float
    initdead: float


@dataclass
class NodeLiveness:
    """What we know about one peer's liveness (mutable, owned by `Liveness`)."""

    name: str
    generation: int = 0
    link_heard: dict[str, float] = field(default_factory=dict)
    left_at: float | None = None
    announced: tuple[NodeState, tuple[tuple[str, LinkState], ...], int] | None = None

    def last_heard(self) -> float | None:
        return max(self.link_heard.values()) if self.link_heard else None


class Liveness:
    """Status of every peer, given the links and timers."""

    def __init__(self, local: str, links: tuple[str, ...], timing: Timing) -> None:
        self.local = local
        self.links = links
        self.timing = timing
        self.started: float | None = None
        self.nodes: dict[str, NodeLiveness] = {}

    def add(self, name: str) -> NodeLiveness:
        record = self.nodes.get(name)
        if record is None:
            record = self.nodes[name] = NodeLiveness(name)
        return record

    def heard(self, name: str, link: str, now: float) -> None:
        record = self.add(name)
        record.link_heard[link] = now
        record.left_at = None

    def still_up(self, record: NodeLiveness, link: str) -> bool:
        """Whether hearing `record` on `link` cannot change what was announced: it was
        announced up, with this link up and its current generation. (Silence on other links
        is the check timer's business.) Saves the full evaluation on nearly every packet."""
        announced = record.announced
        if announced is None or announced[0] is not NodeState.UP or record.left_at is not None:
            return False
        if announced[2] != record.generation:
            return False
        return (link, LinkState.UP) in announced[1]

    def left(self, name: str, now: float) -> None:
        record = self.add(name)
        record.left_at = now
        record.link_heard.clear()

    def status(self, record: NodeLiveness, now: float) -> NodeState:
        if record.name == self.local:
            return NodeState.UP
        last = record.last_heard()
        if last is None:
            return NodeState.DEAD
        silence = now - last + EPSILON
        if silence >= self.timing.deadtime:
            return NodeState.DEAD
        return NodeState.LATE if silence >= self.timing.warntime else NodeState.UP

    def link_states(self, record: NodeLiveness, now: float) -> dict[str, LinkState]:
        local = record.name == self.local
        states = {}
        for link in self.links:
            heard = record.link_heard.get(link)
            alive = local or (heard is not None
                              and now - heard + EPSILON < self.timing.deadtime)
            states[link] = LinkState.UP if alive else LinkState.DEAD
        return states

    def _visible(self, record: NodeLiveness, now: float) -> tuple[
            NodeState, tuple[tuple[str, LinkState], ...], int]:
        return (self.status(record, now), tuple(self.link_states(record, now).items()),
                record.generation)

    def _initdead_over(self, now: float) -> bool:
        return (self.started is not None
                and now - self.started + EPSILON >= self.timing.initdead)

    def evaluate(self, now: float, only: str | None = None) -> list[NodeLiveness]:
        """Nodes whose status, links or generation changed since they were last announced
        (just node `only` when given: hearing one node changes nothing about the others)."""
        changed = []
        records = self.nodes.values() if only is None else [self.nodes[only]]
        for record in records:
            visible = self._visible(record, now)
            if visible == record.announced:
                continue
            never_heard = record.announced is None and record.last_heard() is None
            if never_heard and record.left_at is None and not (
                    record.name == self.local or self._initdead_over(now)):
                continue  # still within initdead: no news yet
            record.announced = visible
            changed.append(record)
        return changed

    def next_deadline(self, now: float) -> float | None:
        """The earliest future time at which some status could change by silence alone."""
        t = self.timing
        candidates: list[float] = []
        if self.started is not None and not self._initdead_over(now):
            candidates.append(self.started + t.initdead)
        for record in self.nodes.values():
            if record.name == self.local:
                continue
            for heard in record.link_heard.values():
                candidates += [heard + t.warntime, heard + t.deadtime]
        future = [c for c in candidates if c > now + EPSILON]
        return min(future) if future else None

    def info(self, record: NodeLiveness, now: float) -> NodeInfo:
        return NodeInfo(record.name, self.status(record, now), self.link_states(record, now),
                        record.generation, record.last_heard())


def to_grid(wall: float | None, keepalive: float) -> float:
    """Seconds from `wall` (epoch seconds) to the next multiple of `keepalive`: the
    cluster's keepalive grid. With synchronised clocks every node beats at the same
    instants, so a receiver reads its peers' keepalives in one burst, its code hot, instead
    of one wake-up each: at 16 nodes a third of the CPU per keepalive
    (bench/heartbeat_replay.py --aligned). Liveness is judged per peer from when its packet
    arrived, so the phase moves no deadline. A whole keepalive when the wall clock is
    unknown, or when the multiple is under a tenth of one away (a timer that fires a hair
    early must not beat twice)."""
    if not wall:
        return keepalive
    left = keepalive - wall % keepalive
    return left + keepalive if left < keepalive / 10 else left
