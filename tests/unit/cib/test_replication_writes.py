"""CIB replication: writes across a master's death, its move to the DC, and the view races.

An acknowledged write survives the master dying at every step of the write path; the
master's role moves to the DC's cib only when every member names the same DC, without
losing an acknowledged write; the master stamps cib-last-written with its own wall clock;
a message from a view this node has not installed yet (a cold start's race) is handled
once it installs that view. Over the exchange of `tests.unit.cib.test_replication`, which
holds the convergence properties and merges.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator

import pytest

from cib.model import empty_cib
from cib.replication import ReplicaCore
from cib.replication_messages import ClientWrite, PeerMessage, ViewChanged, WireRequest
from cib.request import Op
from cib.xmlio import element_text, parse
from messaging.effects import Node, Send
from tests.unit.cib.test_replication import (
    Exchange,
    _create,
    _no_schema,
    _victim_scenario,
    assert_converged,
)


@pytest.mark.parametrize("power_loss", [False, True], ids=["process", "node"])
def test_an_acknowledged_write_survives_the_master_dying_at_every_step(power_loss: bool) -> None:
    """The guarantee of the `cib` package's docstring: an acknowledged write survives the
    master's process dying, or its node losing power with its unsynced journal, at every
    step of the write path (the replicas hold it)."""
    crashed_after_ack = pipelined_acks = 0
    for origin, events, crash_after, pipelined in itertools.product(
            ("n1", "n2"), range(7), range(6), (False, True)):
        exchange = _victim_scenario(origin, events, crash_after, pipelined, power_loss)
        assert_converged(exchange)
        acknowledged = {ident for ident, code in exchange.acks.items() if code == 0}
        assert {"before", "after"} <= acknowledged
        assert acknowledged <= exchange.primitives("n1"), (origin, events, crash_after,
                                                           pipelined)
        crashed_after_ack += "victim" in acknowledged
        pipelined_acks += "victim2" in acknowledged
    assert crashed_after_ack > 0  # some runs killed the master after it acknowledged
    assert pipelined_acks > 0


def test_a_master_without_replicas_acknowledges_only_synced_writes() -> None:
    """One node: nobody else holds the write, so its acknowledgement must follow a synced
    save (the journal is synced behind: cib.disk); it survives a power loss at once."""
    exchange, rng = Exchange(["n1"]), random.Random(0)
    exchange.power_loss = True
    exchange.settle(rng)
    for ident in ("w1", "w2"):
        exchange.write("n1", ident)
        assert exchange.acks[ident] == 0
        exchange.kill("n1")
        exchange.restart("n1")
        exchange.new_views()
        exchange.settle(rng)
        assert ident in exchange.primitives("n1")


def _deliver(exchange: Exchange, sender: str, receiver: str) -> object:
    message = exchange.channels[(sender, receiver)].popleft()
    exchange.feed(receiver, PeerMessage(0.0, sender, message))
    return message


def _handover_scenario(seed: int, steps: int, victim: str | None) -> Exchange:
    """Every crmd names n3 as DC while writes come from n1 and n2; after `steps` deliveries
    `victim` (if any) dies; then more writes, and everyone comes back."""
    exchange, rng = Exchange(["n1", "n2", "n3"]), random.Random(seed)
    exchange.settle(rng)
    exchange.write("n2", "before")
    exchange.settle(rng)
    for name in ("n3", "n2", "n1"):
        exchange.set_dc(name, "n3")
    exchange.write("n2", "during-n2")
    exchange.write("n1", "during-n1")
    for _ in range(steps):
        exchange.deliver_one(rng)
    if victim is not None:
        exchange.kill(victim)
        exchange.new_views()
    exchange.settle(rng)
    exchange.write("n2", "after")
    exchange.settle(rng)
    if victim != "n3":  # the DC's cib holds the master copy again once the view settled
        assert {core.master for core in exchange.cores.values()} == {"n3"}
    exchange.heal_and_settle(rng)
    return exchange


def test_the_master_moves_to_the_dc_without_losing_an_acknowledged_write() -> None:
    moved = 0
    for victim in (None, "n1", "n3"):
        for steps in range(0, 14, 2):
            for seed in range(3):
                exchange = _handover_scenario(seed, steps, victim)
                assert_converged(exchange)
                acknowledged = {ident for ident, code in exchange.acks.items() if code == 0}
                assert {"before", "after"} <= acknowledged
                assert acknowledged <= exchange.primitives("n1"), (victim, steps, seed)
                moved += victim is None
    assert moved > 0


def test_the_master_moves_only_when_every_member_names_the_same_dc() -> None:
    exchange, rng = Exchange(["n1", "n2", "n3"]), random.Random(11)
    exchange.settle(rng)
    exchange.set_dc("n1", "n2")
    exchange.set_dc("n2", "n2")
    exchange.set_dc("n3", "n3")  # a different claim: nobody takes over
    exchange.write("n3", "a")
    exchange.settle(rng)
    assert {core.master for core in exchange.cores.values()} == {"n1"}
    exchange.set_dc("n3", "n2")  # now they agree
    exchange.write("n3", "b")
    exchange.settle(rng)
    assert {core.master for core in exchange.cores.values()} == {"n2"}
    assert exchange.acks == {"a": 0, "b": 0}
    exchange.set_dc("n2", None)  # the DC is lost: the role stays until a view change
    exchange.settle(rng)
    assert {core.master for core in exchange.cores.values()} == {"n2"}
    assert_converged(exchange)


# Pacemaker's form of cib-last-written (ctime without the newline); 1796536800 is
# 2026-12-06 06:00:00 UTC, and the tests run with TZ=UTC.
SIX_AM, SIX_AM_TEXT = 1796536800.0, "Sun Dec  6 06:00:00 2026"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _status_write(node_id: str) -> WireRequest:
    return WireRequest(Op.CREATE.value, f'<node_state id="{node_id}" uname="n{node_id}"/>',
                       scope="status")


@pytest.mark.usefixtures("utc")
def test_a_configuration_change_stamps_cib_last_written_on_every_copy() -> None:
    exchange, rng = Exchange(["n1", "n2"]), random.Random(3)
    exchange.settle(rng)
    assert exchange.cores["n1"].cib.get("cib-last-written") is None
    exchange.feed("n1", ClientWrite(0.0, "a", _create("a"), wall=SIX_AM))
    exchange.settle(rng)
    assert_converged(exchange)
    for core in exchange.cores.values():
        assert core.cib.get("cib-last-written") == SIX_AM_TEXT
    # a status change is not a configuration change: the stamp stays (as in Pacemaker)
    exchange.feed("n1", ClientWrite(0.0, "s", _status_write("1"), wall=SIX_AM + 60))
    exchange.settle(rng)
    assert exchange.cores["n2"].cib.get("cib-last-written") == SIX_AM_TEXT


@pytest.mark.usefixtures("utc")
def test_a_forwarded_write_is_stamped_with_the_masters_wall_clock() -> None:
    exchange, rng = Exchange(["n1", "n2"]), random.Random(4)
    exchange.settle(rng)
    exchange.feed("n2", ClientWrite(0.0, "b", _create("b"), wall=SIX_AM - 3600))
    forward = exchange.channels[("n2", "n1")].popleft()
    exchange.feed("n1", PeerMessage(0.0, "n2", forward, wall=SIX_AM))
    exchange.settle(rng)
    assert_converged(exchange)
    assert exchange.cores["n2"].cib.get("cib-last-written") == SIX_AM_TEXT
    assert "b" in exchange.primitives("n2")


def test_a_master_that_installs_the_view_last_asks_for_the_announcements_at_once() -> None:
    """Seen in the lab's cold start: n2's cib installed view 2 before n1's (the master)
    and announced; n1 dropped that as another view's message and waited the whole sync
    timeout (2 s) before deciding, holding every write. The new master asks at once."""
    from cib.replication_messages import Announce, AskAnnounce

    start = parse(element_text(empty_cib(), pretty=False))
    master = ReplicaCore("n1", start, _no_schema)
    replica = ReplicaCore("n2", parse(element_text(empty_cib(), pretty=False)), _no_schema)
    members = ((1, "n1"), (2, "n2"))
    master.handle(ViewChanged(0.0, 1, ((1, "n1"),)))
    early = [e.message for e in replica.handle(ViewChanged(0.1, 2, members))
             if isinstance(e, Send)]
    assert [type(m) for m in early] == [Announce]
    assert master.handle(PeerMessage(0.11, "n2", early[0])) == [], "not its view yet"
    asked = [e for e in master.handle(ViewChanged(0.2, 2, members)) if isinstance(e, Send)]
    assert [(e.destination, type(e.message)) for e in asked] == [(Node("n2"), AskAnnounce)]
    answer = [e.message for e in replica.handle(PeerMessage(0.21, "n1", asked[0].message))
              if isinstance(e, Send)]
    master.handle(PeerMessage(0.22, "n2", answer[0]))
    assert master.sync is None, "decided on the answer, long before the sync timeout"


def test_a_write_forwarded_before_the_master_installed_the_view_is_answered() -> None:
    """Issue 10 (cold start, 1 trial in ~8 took 30 s): ccm hands a view to n3 first; n3's
    crmd writes, n3 forwards it in the new view to n1, which still holds the old view and
    so dropped it: n3 waited for an answer until crmd's request timed out. A message from
    a view this node has not installed yet is handled once it installs that view."""
    exchange, rng = Exchange(["n1", "n2", "n3"]), random.Random(3)
    exchange.settle(rng)
    members = tuple((exchange.ident(name), name) for name in exchange.names)
    exchange.view += 1
    exchange.feed("n3", ViewChanged(exchange.clock.monotonic(), exchange.view, members))
    exchange.write("n3", "early")
    sent = [_deliver(exchange, "n3", "n1")  # n1 is still in the previous view
            for _ in range(len(exchange.channels[("n3", "n1")]))]
    assert "Forward" in [type(message).__name__ for message in sent]
    for name in ("n1", "n2"):
        exchange.feed(name, ViewChanged(exchange.clock.monotonic(), exchange.view, members))
    while exchange.deliver_one(rng):  # no timer fires: the answer must not wait for one
        pass
    assert exchange.acks == {"early": 0}
    exchange.settle(rng)
    assert_converged(exchange)
    assert "early" in exchange.primitives("n2")
