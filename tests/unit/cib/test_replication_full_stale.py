"""A replica refuses a whole copy older than a diff it already applied from the same master
in the same view (cib.replication_full: it left the master before that diff), and still
takes an older copy a master's sync pushes on purpose: in a later view, or from a respawned
master, or deciding without this member's announce."""

from __future__ import annotations

from cib.model import empty_cib
from cib.replication import SYNC_ASKS, ReplicaCore
from cib.replication_messages import (
    AskAnnounce,
    Diff,
    FetchCib,
    FullCib,
    PeerMessage,
    ViewChanged,
)
from messaging.effects import Log, Send, TimerFired
from tests.unit.cib.test_replication_full import MEMBERS, _create, _no_schema


def _sent(effects: list[object], kind: type) -> list[object]:
    return [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


def _events(effects: list[object]) -> list[str]:
    return [effect.event for effect in effects if isinstance(effect, Log)]


def _synced(view: int = 1) -> tuple[ReplicaCore, ReplicaCore, FullCib]:
    """n1 (epoch 5) masters view `view`; n2 (epoch 1) announces and takes its pushed copy."""
    master = ReplicaCore("n1", empty_cib(epoch=5), _no_schema)
    replica = ReplicaCore("n2", empty_cib(epoch=1), _no_schema)
    master.handle(ViewChanged(0.0, view, MEMBERS))
    announce = _sent(replica.handle(ViewChanged(0.0, view, MEMBERS)), object)
    pushed = _sent(master.handle(PeerMessage(0.0, "n2", announce[0])), FullCib)
    assert len(pushed) == 1 and isinstance(pushed[0], FullCib)
    replica.handle(PeerMessage(0.0, "n1", pushed[0]))
    assert replica.version == master.version
    return master, replica, pushed[0]


def _write(master: ReplicaCore, replica: ReplicaCore, ident: str) -> None:
    """A write on the master reaches the replica by its diff."""
    (diff,) = _sent(master.handle(_create(ident)), Diff)
    replica.handle(PeerMessage(0.0, "n1", diff))
    assert replica.version == master.version


def test_a_copy_sent_before_a_diff_the_replica_applied_is_refused_as_stale() -> None:
    master, replica, pushed = _synced()
    _write(master, replica, "r1")
    held = replica.version
    effects = replica.handle(PeerMessage(0.0, "n1", pushed))  # late: sent before the diff
    assert _events(effects) == ["cib_full_stale"] and not _sent(effects, object)
    assert replica.version == held and not replica.resyncing
    _write(master, replica, "r2")  # the next diff still applies: no rollback happened


def test_the_masters_current_copy_is_taken_after_the_diffs() -> None:
    master, replica, _ = _synced()
    _write(master, replica, "r1")
    (current,) = _sent(master.handle(PeerMessage(0.0, "n2", FetchCib(1))), FullCib)
    effects = replica.handle(PeerMessage(0.0, "n1", current))
    assert "cib_full_stale" not in _events(effects) and replica.version == master.version


def test_an_older_copy_a_later_views_sync_pushes_is_taken() -> None:
    master, replica, _ = _synced()
    _write(master, replica, "r1")
    newer = replica.version
    older = ReplicaCore("n1", empty_cib(epoch=5), _no_schema)  # n1's copy, silent n2
    older.handle(ViewChanged(0.0, 2, MEMBERS))
    replica.handle(ViewChanged(0.0, 2, MEMBERS))
    effects: list[object] = []
    for ask in range(SYNC_ASKS + 1):
        effects = older.handle(TimerFired("sync", 2.0 * (ask + 1)))
    (push,) = _sent(effects, FullCib)
    assert isinstance(push, FullCib) and push.version < newer
    taken = replica.handle(PeerMessage(0.0, "n1", push))
    assert "cib_full_stale" not in _events(taken) and replica.version == push.version


def test_an_older_copy_of_a_respawned_master_in_the_same_view_is_taken() -> None:
    master, replica, _ = _synced()
    _write(master, replica, "r1")
    respawned = ReplicaCore("n1", empty_cib(epoch=5), _no_schema, fresh=True)
    asks = _sent(respawned.handle(ViewChanged(0.0, 1, MEMBERS)), AskAnnounce)
    replica.handle(PeerMessage(0.0, "n1", asks[0]))  # its first ask says it respawned
    effects: list[object] = []
    for ask in range(SYNC_ASKS + 1):  # the replica's answer was lost: decided without it
        effects = respawned.handle(TimerFired("sync", 2.0 * (ask + 1)))
    (push,) = _sent(effects, FullCib)
    assert isinstance(push, FullCib) and push.version < replica.version
    taken = replica.handle(PeerMessage(0.0, "n1", push))
    assert "cib_full_stale" not in _events(taken) and replica.version == push.version
