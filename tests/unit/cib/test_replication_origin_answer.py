"""The message flow of one write (cib.replication, cib.replication_follower): the master
journals the change and sends its diff once to every node; a local write is acknowledged
then, a forwarded one is answered by its origin from that diff; replicas confirm nothing.
So a forwarded write costs two messages (the forward and one broadcast diff) and two
network crossings, as Pacemaker's cib answers once the master applied and broadcast it.

The exchange is test_replication's: FIFO channels, a fake clock, every core's effects in
order, a node killed after any prefix of them, and at every acknowledgement the
commit-point check (the master journaled the write, and every member of the view held it
or was sent it). A deliberately early master (`EarlyMaster`, acknowledging before its diff
is sent) shows that the check can fail, and that the write it acknowledged is lost when the
master loses power right after answering.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import pytest

from cib.model import Version
from cib.replication import ReplicaCore
from cib.replication_follower import OriginAnswers
from cib.replication_messages import (
    Acknowledge,
    ClientWrite,
    Diff,
    FetchCib,
    Forward,
    FullCib,
    PeerMessage,
    PersistCib,
    WriteResult,
)
from messaging.effects import ALL_NODES, AllNodes, Send
from tests.unit.cib.test_replication import (
    Exchange,
    _create,
    _victim_scenario,
    assert_converged,
)


class EarlyMaster(ReplicaCore):
    """Deliberately wrong: acknowledges a local write before sending its diff."""

    def _send_change(self, origin, request_id, patch, now):  # type: ignore[no-untyped-def]
        effects = super()._send_change(origin, request_id, patch, now)
        acks = [effect for effect in effects if isinstance(effect, Acknowledge)]
        rest = [effect for effect in effects if not isinstance(effect, Acknowledge)]
        return [rest[0], *acks, *rest[1:]]  # journal, answer, then the diff


@dataclass
class Recording(Exchange):
    """Every answer given and every message sent, in order."""

    answered: list[tuple[str, str, int]] = field(default_factory=list)
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # sender, to, type

    def carry_out(self, name: str, effect: object) -> None:
        super().carry_out(name, effect)
        if isinstance(effect, Acknowledge):
            self.answered.append((name, effect.request_id, effect.exit_code))
        if isinstance(effect, Send):
            to = "*" if isinstance(effect.destination, AllNodes) else effect.destination.name
            self.messages.append((name, to, type(effect.message).__name__))


def _deliver(exchange: Exchange, sender: str, receiver: str) -> object:
    message = exchange.channels[(sender, receiver)].popleft()
    exchange.feed(receiver, PeerMessage(exchange.clock.monotonic(), sender, message))
    return message


def _settled(names: list[str]) -> Recording:
    exchange = Recording(names)
    exchange.settle(random.Random(0))
    exchange.messages.clear()
    return exchange


def test_a_forwarded_write_costs_a_forward_and_one_diff_to_every_node() -> None:
    """n2's write: its Forward, the master's one Diff to every node; n2 answers as it
    applies the diff, before n3 even got it; nobody sends anything more for it."""
    exchange = _settled(["n1", "n2", "n3"])
    exchange.write("n2", "w")
    assert isinstance(_deliver(exchange, "n2", "n1"), Forward)
    assert exchange.messages == [("n2", "n1", "Forward"), ("n1", "*", "Diff")]
    assert isinstance(_deliver(exchange, "n1", "n2"), Diff)
    assert exchange.answered == [("n2", "w", 0)]
    assert isinstance(_deliver(exchange, "n1", "n3"), Diff)
    assert len(exchange.messages) == 2 and not any(exchange.channels.values())
    assert_converged(exchange)


def test_a_write_on_the_master_is_journaled_sent_to_every_node_then_acknowledged() -> None:
    exchange = _settled(["n1", "n2", "n3"])
    effects = exchange.cores["n1"].handle(_write("w"))
    kinds = [type(effect).__name__ if not isinstance(effect, Send) else
             ("Send*" if effect.destination == ALL_NODES else "Send") for effect in effects]
    assert kinds.index("PersistCib") < kinds.index("Send*") < kinds.index("Acknowledge")
    assert kinds.count("Send*") == 1 and "Send" not in kinds
    persist = next(effect for effect in effects if isinstance(effect, PersistCib))
    assert not persist.deferred and persist.digest  # journaled by the shell


def _write(ident: str) -> ClientWrite:
    return ClientWrite(0.0, ident, _create(ident))


def test_an_origin_that_missed_a_diff_answers_once_its_copy_holds_the_write() -> None:
    """n2 lost the diff of n1's write x: the diff of its own write w does not apply; it
    fetches the whole CIB and answers w only with the copy that holds it (its client reads
    w there); the master sends no WriteResult."""
    exchange = _settled(["n1", "n2", "n3"])
    exchange.write("n1", "x")
    exchange.channels[("n1", "n2")].clear()  # x's diff to n2 is lost
    exchange.write("n2", "w")
    _deliver(exchange, "n2", "n1")
    assert isinstance(_deliver(exchange, "n1", "n2"), Diff)  # w's: a gap
    assert exchange.answered[-1:] == [("n1", "x", 0)]
    assert isinstance(_deliver(exchange, "n2", "n1"), FetchCib)
    assert isinstance(_deliver(exchange, "n1", "n2"), FullCib)
    assert exchange.answered[-1] == ("n2", "w", 0)
    assert {"x", "w"} <= exchange.primitives("n2")
    exchange.settle(random.Random(1))
    assert "WriteResult" not in [kind for _, _, kind in exchange.messages]
    assert_converged(exchange)


def test_a_failed_write_is_answered_by_the_masters_write_result() -> None:
    exchange = _settled(["n1", "n2"])
    exchange.write("n2", "dup")
    exchange.settle(random.Random(1))
    exchange.write("n2", "dup")  # the same id again: refused by the master
    _deliver(exchange, "n2", "n1")
    result = _deliver(exchange, "n1", "n2")
    assert isinstance(result, WriteResult) and result.exit_code != 0
    assert exchange.acks["dup"] == result.exit_code


def test_a_master_acknowledging_before_its_diff_is_sent_fails_the_commit_check() -> None:
    def make(names: list[str]) -> Exchange:
        return Exchange(names, core_class=EarlyMaster)

    with pytest.raises(AssertionError, match=r"acknowledged on n1 before \['n2', 'n3'\] were"):
        _victim_scenario("n1", 0, 6, make=make)


def test_a_master_acknowledging_before_its_diff_is_sent_loses_the_write() -> None:
    """Without the check: EarlyMaster answers, then its node loses power before the diff
    leaves; the survivors never had it. The real master's diff leaves before its answer."""
    lost = []
    for core, crash_after in itertools.product((EarlyMaster, ReplicaCore), range(1, 5)):
        @dataclass
        class Unchecked(Exchange):
            def check_commit_point(self, name: str, request_id: str) -> None:
                """Not checked: show what happens."""

        exchange = Unchecked(["n1", "n2", "n3"], power_loss=True, core_class=core)
        exchange.settle(random.Random(0))
        exchange.write("n1", "victim", crash_after)
        exchange.new_views()  # n2 and n3 go on; n1 boots later
        exchange.settle(random.Random(0))
        exchange.heal_and_settle(random.Random(0))
        assert_converged(exchange)
        if exchange.acks.get("victim") == 0 and "victim" not in exchange.primitives("n2"):
            lost.append(core.__name__)
    assert lost and set(lost) == {"EarlyMaster"}


def test_a_write_is_answered_from_a_whole_copy_only_once_the_copy_holds_it() -> None:
    answers = OriginAnswers()
    answers.wait_for_copy("n2:7", Version(0, 5, 0))
    answers.wait_for_copy("n2:8", Version(0, 6, 0))
    assert answers.held_by(Version(0, 4, 0)) == []
    assert answers.held_by(Version(0, 5, 0)) == [("n2:7", Version(0, 5, 0))]
    assert answers.held_by(Version(0, 9, 0)) == [("n2:8", Version(0, 6, 0))]
    assert answers.held_by(Version(0, 9, 0)) == []  # answered once
