"""A member stonithd reported fenced no longer counts among the view's replicas
(cib.replication_follower.on_fenced): with a reboot faster than heartbeat's deadtime, ccm
still lists the node while its cib is gone: its messages in that view are ignored and a new
master's sync stops waiting for its announce (issue 10). Writes wait for no replica. The
exchange is test_replication's (FIFO channels, and at every acknowledgement the
commit-point check against the acknowledging core's members)."""

from __future__ import annotations

import random

from cib.replication_messages import PeerFenced, ViewChanged
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
    assert exchange.cores["n1"].view == view and "n3" not in exchange.cores["n1"].members
    exchange.heal_and_settle(random.Random(1))  # n3 boots: a later view syncs it whole
    assert_converged(exchange)
    assert {"on-master", "on-replica"} <= exchange.primitives("n3")


def test_a_powered_off_replica_holds_no_write_back_before_the_fencing_result() -> None:
    """The master waits for no replica's confirmation: its diff was sent to n3 too (the
    acknowledgement's rule), lost with n3's power; n3's next boot is synced whole."""
    exchange = _three_with_n3_powered_off(told=False)
    exchange.write("n1", "on-master")
    exchange.write("n2", "on-replica")
    _deliver_all(exchange)
    assert exchange.acks == {"on-master": 0, "on-replica": 0}
    exchange.heal_and_settle(random.Random(1))
    assert_converged(exchange)
    assert {"on-master", "on-replica"} <= exchange.primitives("n3")


def test_a_new_master_decides_without_the_announce_of_a_replica_reported_fenced() -> None:
    """n1 dies and n3 is powered off in the same moment; n2's view still lists n3 (ccm
    has not noticed): n2, the new master, waits for n3's announce until stonithd's result
    says its cib is gone, then decides at once instead of after its asks time out."""
    exchange = Exchange(["n1", "n2", "n3"], power_loss=True)
    exchange.settle(random.Random(0))
    exchange.kill("n1")
    exchange.kill("n3")
    exchange.view += 1
    exchange.feed("n2", ViewChanged(0.0, exchange.view, ((2, "n2"), (3, "n3"))))
    assert exchange.cores["n2"].sync is not None
    exchange.feed("n2", PeerFenced(0.0, "n3"))
    assert exchange.cores["n2"].sync is None and exchange.cores["n2"].master == "n2"


def test_a_fencing_of_the_master_or_of_a_non_member_changes_nothing() -> None:
    exchange = Exchange(["n1", "n2", "n3"])
    exchange.settle(random.Random(0))
    replica = exchange.cores["n2"]
    before = dict(replica.members)
    assert replica.handle(PeerFenced(0.0, "n1")) == []  # its replicas wait for the view
    assert replica.handle(PeerFenced(0.0, "n9")) == []
    assert replica.members == before
