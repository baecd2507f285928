"""The origin of a forwarded write answers its client from the replication messages
(cib.replication_follower: the diff, the other replicas' confirmations, the master's
journal mark): one network crossing fewer than waiting for the master's `WriteResult`, with
the same commit point.

The exchange is test_replication's: FIFO channels, every core's effects in order, a node
killed after any prefix of them, and at every acknowledgement the commit-point check
(every member of the view held the write, its master wrote it to disk). A deliberately
early origin (`EarlyOrigin`, answering once it applied the diff, before the other replica
confirmed it) shows that these scenarios can fail: the check catches it, and without the
check the write it acknowledged is lost when its node and the master lose power as it
answers.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import pytest

from cib.replication import ReplicaCore
from cib.replication_messages import Acknowledge, Applied, Diff, Forward, Journaled, WriteResult
from tests.unit.cib.test_replication import Exchange, _victim_scenario, assert_converged


class EarlyOrigin(ReplicaCore):
    """Deliberately wrong: answers a forwarded write as soon as it applied the diff carrying
    it, without the other replicas' confirmations."""

    def handle(self, event):  # type: ignore[no-untyped-def]
        effects = super().handle(event)
        early = [Acknowledge(request_id, 0, "OK", version)
                 for request_id, (version, _, _) in self.answers.riding.items()
                 if self.pending.pop(request_id, None) is not None]
        self.answers.riding.clear()
        return effects + early


@dataclass
class PowerCutAtAnswer(Exchange):
    """Cuts the power of the master n1 and the origin n2 right after the event in which
    "victim" was answered 0: only n3 is left to hold it."""

    checked: bool = True
    cut_due: bool = False

    def check_commit_point(self, name: str, request_id: str) -> None:
        if self.checked:
            super().check_commit_point(name, request_id)

    def carry_out(self, name: str, effect: object) -> None:
        super().carry_out(name, effect)
        if isinstance(effect, Acknowledge) and effect.request_id == "victim":
            self.cut_due = self.cut_due or effect.exit_code == 0

    def feed(self, name: str, event: object, crash_after: int | None = None) -> None:
        super().feed(name, event, crash_after)
        if self.cut_due:
            self.cut_due = False
            for node in ("n1", "n2"):
                if node in self.cores:
                    self.kill(node)


@dataclass
class Recording(Exchange):
    """Every answer given, in order (`acks` keeps only the last per request)."""

    answered: list[tuple[str, str, int]] = field(default_factory=list)

    def carry_out(self, name: str, effect: object) -> None:
        super().carry_out(name, effect)
        if isinstance(effect, Acknowledge):
            self.answered.append((name, effect.request_id, effect.exit_code))


def _cut_scenarios(core: type[ReplicaCore], checked: bool) -> list[Exchange]:
    """Victim written on n2 (pipelined or not, several delivery orders; the master never
    crashes on its own: 99 events), power cut at its answer."""
    def make(names: list[str]) -> Exchange:
        return PowerCutAtAnswer(names, power_loss=True, core_class=core, checked=checked)

    return [_victim_scenario("n2", seed, 0, pipelined, power_loss=True, make=make)
            for seed, pipelined in itertools.product(range(99, 119), (False, True))]


def test_an_answered_write_survives_its_origin_and_master_losing_power_as_it_is_answered(
        ) -> None:
    answered = 0
    for exchange in _cut_scenarios(ReplicaCore, checked=True):
        assert_converged(exchange)
        answered += exchange.acks.get("victim") == 0
        if exchange.acks.get("victim") == 0:
            assert "victim" in exchange.primitives("n3")
    assert answered > 0


def test_an_origin_answering_before_the_other_replica_confirmed_fails_the_commit_check(
        ) -> None:
    with pytest.raises(AssertionError, match=r"acknowledged on n\d before \['n\d'\] held it"):
        _cut_scenarios(EarlyOrigin, checked=True)


def test_an_origin_answering_before_the_other_replica_confirmed_loses_the_write() -> None:
    lost = [exchange for exchange in _cut_scenarios(EarlyOrigin, checked=False)
            if exchange.acks.get("victim") == 0 and "victim" not in exchange.primitives("n3")]
    assert lost


def test_the_origin_answers_from_the_diff_and_the_other_replicas_confirmation() -> None:
    """n2's write: Forward, the diffs, n3's confirmation copied to n2, the master's journal
    mark: n2 answers while the master has not even received the confirmations it would
    answer by; n2's confirmation tells the master it applied the diff, so no `WriteResult`
    follows."""
    exchange = Recording(["n1", "n2", "n3"])
    exchange.settle(random.Random(0))
    exchange.write("n2", "w")
    assert isinstance(_deliver(exchange, "n2", "n1"), Forward)
    assert isinstance(_deliver(exchange, "n1", "n3"), Diff)
    assert isinstance(_deliver(exchange, "n3", "n2"), Applied)  # before n2 has the diff
    assert "w" not in exchange.acks
    assert isinstance(_deliver(exchange, "n1", "n2"), Diff)
    assert "w" not in exchange.acks  # the master's journal mark follows its diff
    assert isinstance(_deliver(exchange, "n1", "n2"), Journaled)
    assert exchange.answered == [("n2", "w", 0)]
    assert not any(isinstance(message, WriteResult) for message in _settle_in_order(exchange))
    assert exchange.answered == [("n2", "w", 0)]
    assert_converged(exchange)


def test_the_master_answers_an_origin_that_took_the_whole_cib_instead() -> None:
    """n2 misses the diff carrying its write and resyncs: it cannot answer from the
    replication messages, so the master's `WriteResult` does."""
    exchange = Recording(["n1", "n2", "n3"])
    exchange.settle(random.Random(0))
    exchange.write("n2", "w")
    assert isinstance(_deliver(exchange, "n2", "n1"), Forward)
    exchange.channels[("n1", "n2")].clear()  # the diff to n2 is lost
    exchange.write("n1", "next")  # n2 sees the gap at the next diff and fetches the CIB
    delivered = _settle_in_order(exchange)
    assert any(isinstance(message, WriteResult) and message.request_id == "w"
               for message in delivered)
    assert ("n2", "w", 0) in exchange.answered
    assert_converged(exchange)


def _deliver(exchange: Exchange, sender: str, receiver: str) -> object:
    from cib.replication_messages import PeerMessage

    message = exchange.channels[(sender, receiver)].popleft()
    exchange.feed(receiver, PeerMessage(exchange.clock.monotonic(), sender, message))
    return message


def _settle_in_order(exchange: Exchange) -> list[object]:
    delivered = []
    while True:
        busy = sorted(key for key, queue in exchange.channels.items() if queue)
        if not busy:
            return delivered
        delivered.append(_deliver(exchange, *busy[0]))


def test_a_write_needs_its_masters_journal_mark_not_its_confirmation_as_a_replica() -> None:
    """After a handover the old master confirms diffs as a replica (`Applied`); that says
    nothing of its journal: only its `Journaled` completes the writes it applied."""
    from cib.model import Version
    from cib.replication_follower import OriginAnswers

    answers, version = OriginAnswers(), Version(0, 5, 0)
    answers.ride("n2:7", version, frozenset({"n3"}), "n1")
    answers.confirm("n3", Version(0, 6, 0))
    answers.confirm("n1", Version(0, 6, 0))  # n1, a replica now, applied a later diff
    assert answers.committed() == []
    answers.master_journaled("n1", Version(0, 4, 0))  # an earlier batch's mark
    assert answers.committed() == []
    answers.master_journaled("n1", version)
    assert answers.committed() == [("n2:7", version)]
    assert answers.committed() == []  # answered once


def _settle_with_routes(exchange: Exchange) -> list[tuple[str, str, object]]:
    delivered = []
    while True:
        busy = sorted(key for key, queue in exchange.channels.items() if queue)
        if not busy:
            return delivered
        delivered.append((*busy[0], _deliver(exchange, *busy[0])))


def test_a_batch_carrying_several_members_writes_is_answered_by_the_master() -> None:
    """n2's and n3's writes wait on the master while its two batches are out, and leave in
    one batch: were each origin to answer itself, every replica would copy its
    confirmation to every other origin (replicas x origins messages: 15 x 15 for one batch
    of a 16-node boot's probe results); the master answers them instead (one `WriteResult`
    each), and no replica's `Applied` goes anywhere but to the master."""
    exchange = Recording(["n1", "n2", "n3", "n4"])
    exchange.settle(random.Random(0))
    exchange.write("n1", "a")
    exchange.write("n1", "b")  # BATCHES_IN_FLIGHT batches out, unconfirmed
    exchange.write("n2", "w2")
    exchange.write("n3", "w3")
    assert isinstance(_deliver(exchange, "n2", "n1"), Forward)
    assert isinstance(_deliver(exchange, "n3", "n1"), Forward)
    delivered = _settle_with_routes(exchange)
    assert [(s, r) for s, r, m in delivered if isinstance(m, Applied) and r != "n1"] == []
    assert sorted(m.request_id for s, r, m in delivered if isinstance(m, WriteResult)) == [
        "w2", "w3"]
    assert sorted((node, ident) for node, ident, code in exchange.answered if code == 0) == [
        ("n1", "a"), ("n1", "b"), ("n2", "w2"), ("n3", "w3")]
    assert_converged(exchange)
