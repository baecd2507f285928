"""CIB replication cores over a minimal in-memory exchange and a fake clock.

The exchange here (not a simulator for the package; lab/sim will host the cores) keeps one
FIFO channel per ordered pair of nodes, drops what crosses a partition or goes to a dead
node, delivers what a node sent before it died, and runs each core's effects in order, so a
node can be killed after any prefix of them. Views are handed to every live member of a
partition at once, with the lowest node id as master (cib.replication.choose_master) until
every member's crmd names the same DC (`DcNamed`), whose cib then takes the role. After every
event the exchange checks that no view has two masters, and at every acknowledgement of a
write it made that the commit point was passed (`Exchange.check_commit_point`): whoever
answers (the master, or the origin from the master's diff), its master had written it to
disk and every member of the view held it or had been sent a message carrying it.

This file holds the exchange and its scenarios (the other test_replication_* files use
them), the convergence properties and merges; writes across a master's death, the master's
move to the DC and the view races are in test_replication_writes.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from cib.model import empty_cib
from cib.replication import ReplicaCore
from cib.replication_messages import (
    Acknowledge,
    ClientWrite,
    DcNamed,
    PeerMessage,
    PersistCib,
    ViewChanged,
    WireRequest,
)
from cib.replication_state import digest_of
from cib.request import Op
from cib.xmlio import Element, element_text, parse
from messaging.clock import FakeClock
from messaging.effects import AllNodes, ArmTimer, CancelTimer, Send, TimerFired


def _no_schema(cib: Element) -> None:
    """Schema validation is covered elsewhere; these tests are about replication."""


def _create(ident: str) -> WireRequest:
    return WireRequest(Op.CREATE.value, f'<primitive id="{ident}" class="ocf" '
                       'provider="pacemaker" type="Dummy"/>', scope="resources")


@dataclass
class Exchange:
    names: list[str]
    clock: FakeClock = field(default_factory=lambda: FakeClock(0.0))
    cores: dict[str, ReplicaCore] = field(default_factory=dict)
    disks: dict[str, str] = field(default_factory=dict)
    terms: dict[str, int] = field(default_factory=dict)
    channels: dict[tuple[str, str], deque[object]] = field(default_factory=dict)
    timers: dict[tuple[str, str], float] = field(default_factory=dict)
    groups: list[set[str]] = field(default_factory=list)
    acks: dict[str, int] = field(default_factory=dict)
    persists: list[tuple[str, PersistCib]] = field(default_factory=list)
    view: int = 0
    # synced: each node's copy as its last whole-copy save left it (fsync'd before any
    # later acknowledgement). A master's journal batches (PersistCib with a digest) and a
    # replica's deferred copies are synced some time later: a node that loses power (kill
    # with `power_loss`) is modelled as losing all of them, the worst case cib.disk allows.
    # The messages it sent before are on their way (its heartbeat put them on the wire as
    # it was handed them): what an acknowledgement says is that the diff was sent to every
    # replica, not that each holds it (the `cib` package's docstring). `drop_sent` models
    # the worse case where they are lost too, outside that guarantee.
    synced: dict[str, str] = field(default_factory=dict)
    power_loss: bool = False
    drop_sent: bool = False
    core_class: type[ReplicaCore] = ReplicaCore
    written: set[str] = field(default_factory=set)  # request ids = primitive ids (`write`)
    # (node, view) pairs whose memory held a primitive, masters whose disk held it, and
    # nodes sent a message carrying it (by a sender in that view)
    held: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    journaled: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    sent: dict[str, set[tuple[str, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start = element_text(empty_cib(), pretty=False)
        for name in self.names:
            self.disks[name] = self.synced[name] = start
            self.cores[name] = self.core_class(name, parse(start), _no_schema)
        self.groups = [set(self.names)]
        self.new_views()

    def ident(self, name: str) -> int:
        return self.names.index(name) + 1

    def reachable(self, a: str, b: str) -> bool:
        return a in self.cores and b in self.cores and any(a in g and b in g for g in self.groups)

    def new_views(self) -> None:
        self.deliver_from_the_dead()
        for group in self.groups:
            alive = sorted(name for name in group if name in self.cores)
            if not alive:
                continue
            self.view += 1
            members = tuple((self.ident(name), name) for name in alive)
            for name in alive:
                self.feed(name, ViewChanged(self.clock.monotonic(), self.view, members))

    def feed(self, name: str, event: object, crash_after: int | None = None) -> None:
        effects = self.cores[name].handle(event)  # type: ignore[arg-type]
        self.assert_one_master_per_view()
        for index, effect in enumerate(effects):
            if crash_after is not None and index >= crash_after:
                self.kill(name)
                return
            self.carry_out(name, effect)
        if crash_after is not None and crash_after >= len(effects):
            self.kill(name)
        elif name in self.cores:
            self.note_held(name)

    def note_held(self, name: str) -> None:
        core = self.cores[name]
        for ident in _primitive_ids(core.cib) & self.written:
            self.held.setdefault(ident, set()).add((name, core.view))

    def check_commit_point(self, name: str, request_id: str) -> None:
        """`name` acknowledges `request_id` (exit 0): a master of its view must have written
        it to disk, and every member of the view must have held it in this view or been
        sent a message carrying it (the `cib` package's docstring); else an acknowledged
        write could be lost to a failure the guarantee covers."""
        if request_id not in self.written:
            return
        core = self.cores[name]
        for member, other in self.cores.items():
            if other.view == core.view:
                self.note_held(member)
        holders = {member for member, view in self.held.get(request_id, set()) | self.sent.get(
            request_id, set()) | self.journaled.get(request_id, set()) if view == core.view}
        missing = sorted(set(core.members) - holders)
        assert not missing, f"{request_id} acknowledged on {name} before {missing} were sent it"
        assert any(view == core.view for _, view in self.journaled.get(request_id, ())), (
            f"{request_id} acknowledged on {name} before its master wrote it to disk")

    def assert_one_master_per_view(self) -> None:
        masters: dict[int, list[str]] = {}
        for name, core in self.cores.items():
            if core.master == name:
                masters.setdefault(core.view, []).append(name)
        assert all(len(names) == 1 for names in masters.values()), masters

    def set_dc(self, name: str, dc: str | None) -> None:
        """`name`'s crmd tells its cib who the DC is."""
        if name in self.cores:
            self.feed(name, DcNamed(self.clock.monotonic(), dc))

    def carry_out(self, name: str, effect: object) -> None:
        if isinstance(effect, Send):
            receivers = ([other for other in self.names if other != name]
                         if isinstance(effect.destination, AllNodes)
                         else [effect.destination.name])
            carried = _carried(effect.message) & self.written
            for receiver in receivers:  # sent, whether or not it arrives
                self.sent.update({ident: self.sent.get(ident, set()) | {
                    (receiver, self.cores[name].view)} for ident in carried})
                if self.reachable(name, receiver):
                    self.channels.setdefault((name, receiver), deque()).append(effect.message)
        elif isinstance(effect, PersistCib):
            self.persists.append((name, effect))
            self.disks[name] = element_text(effect.cib, pretty=False)
            self.terms[name] = effect.term
            core = self.cores[name]
            # only a master persists without deferring (its journal, or its whole save); it
            # may have handed the role over since, in the same event (`core.master` is the
            # role after the whole event: a sync's queued writes, then its handover)
            if not effect.deferred:
                for ident in _primitive_ids(effect.cib) & self.written:
                    self.journaled.setdefault(ident, set()).add((name, core.view))
            if not effect.deferred and not effect.digest:
                self.synced[name] = self.disks[name]
        elif isinstance(effect, Acknowledge):
            if effect.exit_code == 0:
                self.check_commit_point(name, effect.request_id)
            self.acks[effect.request_id] = effect.exit_code
        elif isinstance(effect, ArmTimer):
            self.timers[(name, effect.key)] = effect.deadline
        elif isinstance(effect, CancelTimer):
            self.timers.pop((name, effect.key), None)

    def kill(self, name: str) -> None:
        del self.cores[name]
        if self.power_loss:  # the page cache is gone
            self.disks[name] = self.synced[name]
        if self.drop_sent:  # and what it sent never left
            for key in [key for key in self.channels if key[0] == name]:
                del self.channels[key]
        for key in [key for key in self.timers if key[0] == name]:
            del self.timers[key]
        for key in [key for key in self.channels if key[1] == name]:
            del self.channels[key]

    def restart(self, name: str) -> None:
        self.cores[name] = self.core_class(name, parse(self.disks[name]), _no_schema,
                                           self.terms.get(name, 0))

    def deliver_from_the_dead(self) -> None:
        """ccm notices a death only after heartbeat's deadtime (seconds): the frames a dead
        node had handed to its heartbeat (on the wire at once) reach the live members first
        (unless `drop_sent`: then `kill` dropped them)."""
        for sender, receiver in [key for key in self.channels if key[0] not in self.cores]:
            queue = self.channels.pop((sender, receiver))
            while queue and receiver in self.cores:
                self.feed(receiver, PeerMessage(self.clock.monotonic(), sender, queue.popleft()))

    def partition(self, groups: list[set[str]]) -> None:
        self.deliver_from_the_dead()
        self.groups = groups
        for key in [key for key in self.channels if not self.reachable(*key)]:
            del self.channels[key]
        self.new_views()

    def write(self, name: str, ident: str, crash_after: int | None = None) -> None:
        if name in self.cores:
            self.written.add(ident)
            self.feed(name, ClientWrite(self.clock.monotonic(), ident, _create(ident)), crash_after)

    def deliver_one(self, rng: random.Random, crash_after: int | None = None) -> bool:
        busy = sorted(key for key, queue in self.channels.items() if queue)
        if not busy:
            return False
        sender, receiver = rng.choice(busy)
        message = self.channels[(sender, receiver)].popleft()
        if receiver in self.cores:
            self.feed(receiver, PeerMessage(self.clock.monotonic(), sender, message), crash_after)
        return True

    def fire_next_timer(self) -> bool:
        if not self.timers:
            return False
        (name, key), deadline = min(self.timers.items(), key=lambda item: item[1])
        del self.timers[(name, key)]
        self.clock.advance(max(0.0, deadline - self.clock.monotonic()))
        self.feed(name, TimerFired(key, self.clock.monotonic()))
        return True

    def settle(self, rng: random.Random) -> None:
        for _ in range(100_000):
            if not self.deliver_one(rng) and not self.fire_next_timer():
                return
        raise AssertionError("the exchange did not settle")

    def heal_and_settle(self, rng: random.Random) -> None:
        for name in self.names:
            if name not in self.cores:
                self.restart(name)
        self.partition([set(self.names)])
        self.settle(rng)

    def primitives(self, name: str) -> set[str]:
        return {node.get("id") or "" for node in self.cores[name].cib.iter("primitive")}


def _primitive_ids(cib: Element) -> set[str]:
    return {node.get("id") or "" for node in cib.iter("primitive")}


def _carried(message: object) -> set[str]:
    """The primitives a diff or whole copy carries (by id)."""
    texts = [*getattr(message, "patches", ()), getattr(message, "patch", ""),
             getattr(message, "cib", "")]
    return {ident for text in texts if isinstance(text, str) and text
            for ident in re.findall(r'<primitive id="([^"]+)"', text)}


def assert_converged(exchange: Exchange) -> None:
    digests = {name: digest_of(core.cib) for name, core in exchange.cores.items()}
    versions = {name: core.version for name, core in exchange.cores.items()}
    assert len(set(digests.values())) == 1, (digests, versions)
    assert len(set(versions.values())) == 1, versions
    for name, core in exchange.cores.items():
        assert exchange.disks[name] == element_text(core.cib, pretty=False)


ACTIONS = st.lists(st.tuples(st.sampled_from(["write", "deliver", "partition", "heal", "kill",
                                              "restart", "tick", "elect", "claim"]),
                             st.integers(0, 10_000)), max_size=60)


def _dc_action(exchange: Exchange, action: str, node: str, value: int) -> None:
    """"elect": every live member of node's partition learns that node is DC; "claim": one
    node's crmd names a DC of its own (or none), disagreeing with the others."""
    if action == "elect":
        group = next(group for group in exchange.groups if node in group)
        for member in sorted(group):
            exchange.set_dc(member, node)
    else:
        choices = [*exchange.names, None]
        exchange.set_dc(node, choices[(value // 7) % len(choices)])


# elections and deliveries often enough that the master moves in most runs
ELECTION_ACTIONS = st.lists(st.tuples(st.sampled_from(
    ["write", "write", "deliver", "deliver", "deliver", "kill", "restart", "tick", "elect",
     "elect", "claim", "partition", "heal"]), st.integers(0, 10_000)), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ACTIONS, st.integers(0, 2**32))
# a sync's queued writes, acknowledged, then its handover, all in one event
@example([("write", 0), ("write", 1), ("elect", 1), ("deliver", 328)], 0)
def test_replicas_converge_after_writes_partitions_and_merges(actions: list[tuple[str, int]],
                                                              seed: int) -> None:
    _run_and_converge(actions, seed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ELECTION_ACTIONS, st.integers(0, 2**32))
def test_replicas_converge_while_the_dc_moves(actions: list[tuple[str, int]],
                                              seed: int) -> None:
    _run_and_converge(actions, seed)


def _run_and_converge(actions: list[tuple[str, int]], seed: int) -> None:
    """Play `actions` on four nodes (the exchange checks one master per view after every
    event), then heal, restart everyone and check that every copy is the same."""
    names = ["n1", "n2", "n3", "n4"]
    exchange, rng = Exchange(names), random.Random(seed)
    for count, (action, value) in enumerate(actions):
        node = names[value % len(names)]
        if action == "write":
            exchange.write(node, f"w{count}")
        elif action == "deliver":
            for _ in range(value % 7):
                exchange.deliver_one(rng)
        elif action == "partition":
            cut = 1 + value % (len(names) - 1)
            shuffled = random.Random(value).sample(names, len(names))
            exchange.partition([set(shuffled[:cut]), set(shuffled[cut:])])
        elif action == "heal":
            exchange.partition([set(names)])
        elif action == "kill" and node in exchange.cores and len(exchange.cores) > 1:
            exchange.kill(node)
            exchange.new_views()
        elif action == "restart" and node not in exchange.cores:
            exchange.restart(node)
            exchange.new_views()
        elif action == "tick":
            exchange.fire_next_timer()
        elif action in ("elect", "claim"):
            _dc_action(exchange, action, node, value)
    exchange.heal_and_settle(rng)
    assert_converged(exchange)


def _victim_scenario(origin: str, n1_events_before_crash: int, crash_after: int,
                     pipelined: bool = False, power_loss: bool = False,
                     make: Callable[[list[str]], Exchange] = Exchange) -> Exchange:
    """Write "victim" from `origin` while n1 is master (and, `pipelined`, "victim2" right
    behind it: a second batch out before the first is confirmed); n1 dies after handling
    `n1_events_before_crash` events of the write path and then `crash_after` effects of the
    next one (or never, when the path ends first): its process, or (`power_loss`) its
    node, losing every journal write not yet synced."""
    exchange, rng = make(["n1", "n2", "n3"]), random.Random(n1_events_before_crash)
    exchange.power_loss = power_loss
    exchange.settle(rng)
    exchange.write("n3", "before")
    exchange.settle(rng)
    handled = 0
    if origin == "n1":
        exchange.write("n1", "victim", crash_after if n1_events_before_crash == 0 else None)
        handled = 1
    else:
        exchange.write(origin, "victim")
    if pipelined and "n1" in exchange.cores:
        exchange.write(origin, "victim2")
        handled += origin == "n1"
    while True:
        busy = sorted(key for key, queue in exchange.channels.items() if queue)
        if not busy:
            break
        sender, receiver = rng.choice(busy)
        message = exchange.channels[(sender, receiver)].popleft()
        if receiver not in exchange.cores:
            continue
        crash = crash_after if receiver == "n1" and handled == n1_events_before_crash else None
        handled += receiver == "n1"
        exchange.feed(receiver, PeerMessage(0.0, sender, message), crash)
    if "n1" not in exchange.cores:
        exchange.new_views()
    exchange.settle(rng)
    exchange.write("n3", "after")
    exchange.settle(rng)
    exchange.heal_and_settle(rng)
    return exchange


def test_the_highest_version_wins_a_merge() -> None:
    names = ["n1", "n2", "n3"]
    exchange, rng = Exchange(names), random.Random(1)
    exchange.settle(rng)
    exchange.partition([{"n1", "n2"}, {"n3"}])
    exchange.write("n1", "left")
    for count in range(3):
        exchange.write("n3", f"right{count}")
    exchange.settle(rng)
    right = exchange.cores["n3"].version
    exchange.heal_and_settle(rng)
    assert_converged(exchange)
    assert exchange.cores["n1"].version == right
    assert exchange.primitives("n1") == {"right0", "right1", "right2"}


def test_equal_versions_after_a_split_go_to_the_copy_changed_in_the_later_view() -> None:
    names = ["n1", "n2", "n3"]
    exchange, rng = Exchange(names), random.Random(2)
    exchange.settle(rng)
    exchange.partition([{"n1"}, {"n2", "n3"}])  # n2/n3's view is numbered after n1's
    exchange.write("n1", "mine")
    exchange.write("n3", "theirs")
    exchange.settle(rng)
    assert exchange.cores["n1"].version == exchange.cores["n2"].version
    exchange.heal_and_settle(rng)
    assert_converged(exchange)
    assert exchange.primitives("n1") == {"theirs"}


def test_a_replica_that_misses_a_diff_resyncs() -> None:
    exchange, rng = Exchange(["n1", "n2"]), random.Random(3)
    exchange.settle(rng)
    exchange.write("n1", "a")
    exchange.channels[("n1", "n2")].clear()  # the diff is lost
    exchange.write("n1", "b")
    exchange.settle(rng)
    assert_converged(exchange)
    assert exchange.primitives("n2") == {"a", "b"}
    assert etree.iselement(exchange.cores["n2"].cib)


def test_a_restarted_master_that_missed_the_announcements_asks_again() -> None:
    """Seen in the lab: the restarted master's daemon was not yet listening when the others
    announced; deciding on its own older copy lost the write made while it was down."""
    rng = random.Random(7)
    exchange = Exchange(["n1", "n2", "n3"])
    exchange.settle(rng)
    exchange.write("n2", "before")
    exchange.settle(rng)
    exchange.kill("n1")
    exchange.partition([{"n2", "n3"}])
    exchange.settle(rng)
    exchange.write("n3", "after")
    exchange.settle(rng)
    assert exchange.acks["after"] == 0
    exchange.restart("n1")
    exchange.groups = [{"n1", "n2", "n3"}]
    exchange.new_views()
    for sender in ("n2", "n3"):  # their first announcements never reach n1
        exchange.channels.pop((sender, "n1"), None)
    exchange.settle(rng)
    assert_converged(exchange)
    assert {"before", "after"} <= exchange.primitives("n1")
