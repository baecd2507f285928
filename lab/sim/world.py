"""The whole-cluster simulator: every daemon core of every node on one fake clock.

One `FakeScheduler` (messaging.runtime) is the single event queue; each (node, daemon)
core is driven by its own `messaging.runtime.Runner` on that scheduler, so timers, effect
dispatch and event ordering are exactly what the daemons' shells do. What a shell does
with sockets, the simulator does in memory:

- datagrams (heartbeat's `SendDatagram`) cross `Network` (loss, delay, partition, cuts);
- a daemon's request to another daemon of its node (ccm -> heartbeat `SendRequest`) takes
  `ipc_delay`, one request at a time per sender, like a REQ/REP socket;
- `Publish(topic, event)` reaches the daemons of the same node that subscribe to `topic`
  (their `DaemonSpec.subscriptions` translate it into their own events) and the trace;
- replies to local clients land in `Simulation.replies`.

Daemons are registered, never hard-wired: a `DaemonSpec` names the daemon and gives
`build` (the core for one boot of one node), `boot`, the effect handlers of its own effect
types, how its `Send` leaves the node and its topic subscriptions. `kill` closes a node's
runners (timers gone, later deliveries dropped); `start` boots a new incarnation whose
`memory` (what the daemon keeps on disk) survives. Randomness: one `random.Random(seed)`
for the network and one per (node, daemon, incarnation) for the cores, so the same seed
and commands give the same trace.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from messaging.config import DEFAULT_PORT
from messaging.effects import AllNodes, Client, Node, Publish, Send
from messaging.errors import InternalError
from messaging.runtime import Cancellable, EffectHandler, FakeScheduler, Runner

from .network import LinkModel, Network

Translate = Callable[["DaemonContext", Any], Iterable[Any]]
BROADCAST = "*"


@dataclass(frozen=True, slots=True)
class DaemonSpec:
    """How the simulator runs one daemon on every node (see the module docstring)."""

    name: str
    build: Callable[[DaemonContext], Any]
    boot: Callable[[DaemonContext], None] = lambda ctx: None
    handlers: Callable[[DaemonContext], Mapping[type, EffectHandler]] = lambda ctx: {}
    send: Callable[[DaemonContext, Send], None] | None = None  # None: replies to clients
    subscriptions: Mapping[str, Translate] = field(default_factory=dict)


@dataclass
class TraceEntry:
    when: float
    node: str
    daemon: str
    topic: str
    event: Any

    def line(self) -> str:
        return f"{self.when:8.3f} {self.node} {self.daemon} {self.topic}: {self.event!r}"


@dataclass(frozen=True)
class LogRecord:
    level: str
    event: str
    fields: dict[str, Any]


class LogRecorder:
    """A structlog-like logger that keeps every `LogRecord` for tests to read."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        if level.startswith("_"):
            raise AttributeError(level)

        def record(event: str, **fields: Any) -> None:
            self.records.append(LogRecord(level, event, fields))
        return record


class _LateScheduler:
    """The shared scheduler, with timers firing up to `lateness` seconds late (a loaded
    host); deliveries are not affected."""

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim

    def monotonic(self) -> float:
        return self._sim.scheduler.monotonic()

    def wall(self) -> float:
        return self._sim.scheduler.wall()

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        late = self._sim.timer_lateness
        if late:
            deadline += self._sim.rng.random() * late
        return self._sim.scheduler.call_at(deadline, callback)


class DaemonContext:
    """One daemon on one node for one boot: its core, runner, memory and scratch state."""

    def __init__(self, sim: Simulation, node: SimNode, spec: DaemonSpec) -> None:
        self.sim, self.node, self.spec = sim, node.name, spec
        self.incarnation = node.incarnation
        self.rng = random.Random(f"{sim.seed}:{node.name}:{spec.name}:{node.incarnation}")
        self.memory: dict[str, Any] = node.memory.setdefault(spec.name, {})
        self.state: dict[str, Any] = {}  # glue state of this boot (a shell's variables)
        self.published: list[Any] = []
        self.log = LogRecorder()
        self._ipc_free = 0.0
        self.core = spec.build(self)
        send = spec.send or (lambda ctx, effect: sim.reply(ctx, effect.destination,
                                                            effect.message))
        self.runner = Runner(self.core, _LateScheduler(sim), log=self.log,
                             send=lambda effect: send(self, effect),
                             publish=lambda effect: sim.publish(self, effect),
                             persist=lambda effect: self.memory.__setitem__(
                                 effect.name, effect.data),
                             handlers=spec.handlers(self))

    @property
    def now(self) -> float:
        return self.sim.now

    @property
    def wall(self) -> float:
        return self.sim.scheduler.wall()

    def feed(self, event: Any) -> None:
        self.runner.feed(event)

    def perform(self, effects: Iterable[Any]) -> None:
        self.runner.perform_all(effects)

    def after(self, delay: float, make_event: Callable[[float], Any]) -> None:
        """Feed `make_event(now)` to this daemon after `delay` (dropped if it died)."""
        self.sim.deliver(self.node, self.spec.name, make_event, self.now + delay,
                         self.incarnation)

    def request(self, daemon: str, make_event: Callable[[float], Any]) -> None:
        """A request to another daemon of this node: `ipc_delay`, one at a time."""
        start = max(self.now, self._ipc_free) + self.sim.ipc_delay
        self._ipc_free = start
        self.sim.deliver(self.node, daemon, make_event, start, self.incarnation)


@dataclass
class SimNode:
    name: str
    address: str
    alive: bool = False
    incarnation: int = -1
    daemons: dict[str, DaemonContext] = field(default_factory=dict)
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)  # survives restarts


class Simulation:
    """Nodes, daemons, one network, one clock, one queue, one trace."""

    def __init__(self, registry: Iterable[DaemonSpec], *, seed: int = 1,
                 links: tuple[str, ...] = ("eth0",), config: Any = None,
                 ipc_delay: float = 0.0) -> None:
        self.seed = seed
        self.config = config  # daemon settings for the specs (see lab.sim.daemons)
        self.registry: dict[str, DaemonSpec] = {}
        for spec in registry:
            self.register(spec)
        self.scheduler = FakeScheduler()
        self.rng = random.Random(seed)
        self.network = Network(self.rng, {link: LinkModel() for link in links})
        self.ipc_delay = ipc_delay
        self.timer_lateness = 0.0
        self.names: list[str] = []
        self.nodes: dict[str, SimNode] = {}
        self.trace: list[TraceEntry] = []
        self.replies: list[tuple[float, str, str, str, Any]] = []  # when, node, daemon, client
        self.wire_log: list[tuple[float, str, str, bytes]] = []
        self._by_address: dict[str, str] = {}
        self._generation = 100  # heartbeat generations, unique per boot

    # ----------------------------------------------------------------- set-up
    def register(self, spec: DaemonSpec) -> None:
        """Add a daemon to every node booted from now on (order = boot order)."""
        self.registry[spec.name] = spec

    def add_nodes(self, names: Iterable[str], *, boot: bool = True) -> None:
        for name in names:
            if name in self.nodes:
                continue
            self.names.append(name)
            address = f"10.0.0.{len(self.names)}"
            self.nodes[name] = SimNode(name, address)
            self._by_address[address] = name
        if boot:
            for name in list(self.nodes):
                if self.nodes[name].incarnation < 0:
                    self.start(name)

    def next_generation(self) -> int:
        self._generation += 1
        return self._generation

    # ----------------------------------------------------------------- faults
    def kill(self, name: str) -> None:
        """Power cut: every daemon of the node stops at once; timers and queued work die."""
        node = self.nodes[name]
        if not node.alive:
            return
        node.alive = False
        for ctx in node.daemons.values():
            ctx.runner.close()
        self.trace.append(TraceEntry(self.now, name, "-", "node", "killed"))

    def forget(self, name: str) -> None:
        """Wipe what the node keeps on disk (a replaced disk, a reinstalled host): its next
        boot reads nothing back. Usually between `kill` and `start`; the dicts are emptied
        in place, so a daemon still running persists into the fresh disk from now on."""
        for memory in self.nodes[name].memory.values():
            memory.clear()

    def start(self, *names: str) -> None:
        """Boot a fresh incarnation of every registered daemon of each node named (of every
        node that is down when none is named); memory is kept."""
        for name in names or tuple(self.names):
            self._boot(name)

    def restart_daemon(self, name: str, daemon: str) -> None:
        """One daemon of a live node stops and starts again (its process restarted); the
        node, its other daemons and its memory stay."""
        node = self.nodes[name]
        if not node.alive:
            return
        old = node.daemons.get(daemon)
        if old is not None:
            old.runner.close()
        self.trace.append(TraceEntry(self.now, name, daemon, "process",
                                     "restarted" if old is not None else "started"))
        ctx = node.daemons[daemon] = DaemonContext(self, node, self.registry[daemon])
        ctx.spec.boot(ctx)

    def stop_daemon(self, name: str, daemon: str) -> None:
        """One daemon of a live node dies and stays down (the rest of the node runs on);
        `restart_daemon` starts it again. Events for it are dropped meanwhile."""
        node = self.nodes[name]
        ctx = node.daemons.pop(daemon, None) if node.alive else None
        if ctx is not None:
            ctx.runner.close()
            self.trace.append(TraceEntry(self.now, name, daemon, "process", "stopped"))

    def _boot(self, name: str) -> None:
        node = self.nodes[name]
        if node.alive:
            return
        node.alive, node.incarnation, node.daemons = True, node.incarnation + 1, {}
        self.trace.append(TraceEntry(self.now, name, "-", "node", "started"))
        for spec in self.registry.values():
            node.daemons[spec.name] = DaemonContext(self, node, spec)
        for ctx in list(node.daemons.values()):
            ctx.spec.boot(ctx)

    # ----------------------------------------------------------------- access
    @property
    def now(self) -> float:
        return self.scheduler.monotonic()

    def daemon(self, node: str, daemon: str) -> DaemonContext:
        return self.nodes[node].daemons[daemon]

    def core(self, node: str, daemon: str) -> Any:
        return self.nodes[node].daemons[daemon].core

    def alive(self, node: str) -> bool:
        return self.nodes[node].alive

    # ----------------------------------------------------------------- running
    def run_for(self, seconds: float) -> None:
        self.scheduler.advance(seconds)

    def run_until(self, when: float) -> None:
        self.scheduler.run_until(when)

    def run_until_idle(self, limit: float = 3600.0) -> None:
        """Run until nothing is queued (or `limit` seconds from now have passed)."""
        end = self.now + limit
        while (deadline := self.scheduler.next_deadline()) is not None and deadline <= end:
            self.scheduler.step()

    def run_until_true(self, check: Callable[[], bool], limit: float,
                       step: float = 0.001) -> float | None:
        """Run until `check()` holds; seconds it took, None if not within `limit`."""
        start = self.now
        while self.now - start <= limit:
            if check():
                return self.now - start
            self.run_for(step)
        return None

    def deliver(self, node: str, daemon: str, make_event: Callable[[float], Any], at: float,
                incarnation: int | None = None) -> None:
        """Feed `make_event(now)` to (node, daemon) at time `at`, if it still runs then."""
        def fire() -> None:
            target = self.nodes[node]
            if not target.alive or (incarnation is not None
                                    and target.incarnation != incarnation):
                return
            ctx = target.daemons.get(daemon)
            if ctx is not None:
                ctx.feed(make_event(self.now))
        self.scheduler.call_at(max(at, self.now), fire)

    def feed(self, node: str, daemon: str, event: Any) -> None:
        """Feed an event from outside (a test, a client) now, through the queue: an event
        built with `sim.now`, or a function of now that builds it."""
        make = event if callable(event) else _constant(event)
        self.deliver(node, daemon, make, self.now, self.nodes[node].incarnation)
        self.run_for(0.0)

    # ----------------------------------------------------------------- effects
    def publish(self, ctx: DaemonContext, effect: Publish) -> None:
        """Record a publication and hand it to the subscribers on the same node."""
        ctx.published.append(effect.event)
        self.trace.append(TraceEntry(self.now, ctx.node, ctx.spec.name, effect.topic,
                                     effect.event))
        node = self.nodes[ctx.node]
        for other in node.daemons.values():
            for translate in _subscribed(other.spec.subscriptions, effect.topic):
                for event in translate(other, effect.event):
                    self.deliver(ctx.node, other.spec.name, _constant(event), self.now,
                                 node.incarnation)

    def reply(self, ctx: DaemonContext, client: Any, message: Any) -> None:
        token = client.token if isinstance(client, Client) else str(client)
        self.replies.append((self.now, ctx.node, ctx.spec.name, token, message))

    def replies_to(self, client: str, node: str | None = None) -> list[Any]:
        return [m for _, n, _, c, m in self.replies if c == client and node in (None, n)]

    def transmit(self, ctx: DaemonContext, link: str, dest: tuple[str, int] | None,
                 data: bytes, make_event: Callable[[str, tuple[str, int], float], Any],
                 daemon: str) -> None:
        """Put one datagram from `ctx`'s node on `link`: to `dest` (an address) or to
        every other node; each copy reaches `daemon` there as `make_event(link, addr, now)`."""
        self.wire_log.append((self.now, ctx.node, link, data))
        source = (self.nodes[ctx.node].address, DEFAULT_PORT)

        def arrive(now: float) -> Any:
            return make_event(link, source, now)
        for target in self.names:
            if target == ctx.node or (dest is not None and self._by_address.get(dest[0])
                                      != target):
                continue
            for delay in self.network.fates(ctx.node, target, link):
                at = self.network.processed_at(target, self.now + delay)
                self.deliver(target, daemon, arrive, at)

    def inject(self, node: str, daemon: str, make_event: Callable[[float], Any]) -> None:
        """Hand a daemon an event of our own making (an attacker's datagram, say) now;
        `lab.sim.inject_datagram` builds heartbeat's."""
        self.deliver(node, daemon, make_event, self.now)


def _constant(event: Any) -> Callable[[float], Any]:
    def make(_now: float) -> Any:
        return event
    return make


def destination_name(destination: Any) -> str:
    """A Send destination as heartbeat addresses it: a node name or "*". Destinations are
    typed (messaging.effects); a bare string is a core bug and fails the run."""
    if isinstance(destination, Node):
        return destination.name
    if isinstance(destination, AllNodes):
        return BROADCAST
    raise InternalError(f"Send to {destination!r}: not a Node or ALL_NODES")


def _subscribed(subscriptions: Mapping[str, Translate], topic: str) -> list[Translate]:
    """The translations subscribed to `topic`, matched as zmq matches a SUB socket's
    subscriptions: by prefix ("message" receives heartbeat's "message/ccm")."""
    return [translate for prefix, translate in subscriptions.items()
            if topic.startswith(prefix)]
