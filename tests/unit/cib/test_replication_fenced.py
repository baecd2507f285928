"""A member stonithd reported fenced no longer counts among the view's replicas
(cib.replication_follower.on_fenced): with a reboot faster than heartbeat's deadtime, ccm
still lists the node while its cib is gone, and the master must not hold every later write
until the view changes (issue 10). The exchange is test_replication's (FIFO channels, and
at every acknowledgement the commit-point check against the acknowledging core's members)."""

from __future__ import annotations

import random

from cib.replication_messages import PeerFenced
from tests.unit.cib.test_replication import Exchange, assert_converged


def _deliver_all(exchange: Exchange) -> None:
    rng = random.Random(0)
    while exchange.deliver_one(rng):
        pass


def _three_with_n3_powered_off(told: bool) -> Exchange:
    exchange = Exchange(["n1", "n2", "n3"], power_loss=True)
    exchange.settle(random.Random(0))
    assert exchange.cores["n1"].master == "n1"
    exchange.kill("n3")  # fenced: its power went; ccm has not noticed (no new view)
    if told:
        for name in ("n1", "n2"):
            exchange.feed(name, PeerFenced(exchange.clock.monotonic(), "n3"))
    return exchange


def test_writes_are_acknowledged_without_the_fenced_replica_in_the_same_view() -> None:
    exchange = _three_with_n3_powered_off(told=True)
    view = exchange.cores["n1"].view
    exchange.write("n1", "on-master")
    exchange.write("n2", "on-replica")
    _deliver_all(exchange)
    assert exchange.acks == {"on-master": 0, "on-replica": 0}
    assert exchange.cores["n1"].view == view and exchange.cores["n1"].unconfirmed == []
    exchange.heal_and_settle(random.Random(1))  # n3 boots: a later view syncs it whole
    assert_converged(exchange)
    assert {"on-master", "on-replica"} <= exchange.primitives("n3")


def test_without_the_fencing_result_the_writes_wait_for_the_view_change() -> None:
    exchange = _three_with_n3_powered_off(told=False)
    exchange.write("n1", "on-master")
    exchange.write("n2", "on-replica")
    _deliver_all(exchange)
    assert exchange.acks == {}
    assert exchange.cores["n1"].unconfirmed[0].waiting_for == {"n3"}


def test_a_write_already_waiting_is_acknowledged_when_the_fencing_result_arrives() -> None:
    exchange = _three_with_n3_powered_off(told=False)
    exchange.write("n1", "waiting")
    _deliver_all(exchange)
    assert exchange.acks == {}
    exchange.feed("n1", PeerFenced(exchange.clock.monotonic(), "n3"))
    assert exchange.acks == {"waiting": 0}


def test_a_fencing_of_the_master_or_of_a_non_member_changes_nothing() -> None:
    exchange = Exchange(["n1", "n2", "n3"])
    exchange.settle(random.Random(0))
    replica = exchange.cores["n2"]
    before = dict(replica.members)
    assert replica.handle(PeerFenced(0.0, "n1")) == []  # its replicas wait for the view
    assert replica.handle(PeerFenced(0.0, "n9")) == []
    assert replica.members == before
