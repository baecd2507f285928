"""A cib daemon killed and respawned while its node stays in the view (issue 9, seen in the
lab: crm_mon on the respawned node showed "Current DC: NONE" and every node UNCLEAN until
the next write).

The respawned core starts as the daemon does: from the copy `cib.store.CibStore` loads back
(the status section dropped, as Pacemaker's cib drops it at start, version kept) with
`fresh=True`, and installs the view ccm still holds. Its first sync must bring the master's
whole CIB, status included, without waiting for a write; a respawned master must not push
its status-less copy to the others. The exchange is test_replication's (FIFO channels,
fake clock, at most one master per view checked after every event).
"""

from __future__ import annotations

import random
from pathlib import Path

from cib.replication import ReplicaCore
from cib.replication_messages import ClientWrite, ViewChanged, WireRequest
from cib.replication_state import digest_of
from cib.request import Op
from cib.store import CibStore
from tests.unit.cib.test_replication import Exchange, _no_schema


class RespawnExchange(Exchange):
    """A respawned cib whose view's rule names it master holds the role only for its sync
    (it applies nothing before deciding) until a member tells it of the view's handovers:
    only masters past their sync count for the one-master check."""

    def assert_one_master_per_view(self) -> None:
        masters: dict[int, list[str]] = {}
        for name, core in self.cores.items():
            if core.master == name and core.sync is None:
                masters.setdefault(core.view, []).append(name)
        assert all(len(names) == 1 for names in masters.values()), masters


def _node_state(node_id: str) -> WireRequest:
    return WireRequest(Op.CREATE.value, f'<node_state id="{node_id}" uname="n{node_id}" '
                       'in_ccm="true" crmd="online" join="member" expected="member"/>',
                       scope="status")


def _cluster_with_status(dc: str | None) -> tuple[Exchange, random.Random]:
    """Three settled nodes with a configuration and a status; with `dc`, every crmd names
    it and the master role has moved to it."""
    exchange, rng = RespawnExchange(["n1", "n2", "n3"]), random.Random(11)
    exchange.settle(rng)
    exchange.write("n2", "config")
    for node_id in ("1", "2", "3"):
        exchange.feed("n1", ClientWrite(exchange.clock.monotonic(), f"status-{node_id}",
                                        _node_state(node_id)))
    exchange.settle(rng)
    if dc is not None:
        for name in exchange.names:
            exchange.set_dc(name, dc)
        exchange.settle(rng)
        assert {core.master for core in exchange.cores.values()} == {dc}
    assert all(_states(core) == 3 for core in exchange.cores.values())
    return exchange, rng


def _states(core: ReplicaCore) -> int:
    return len(core.cib.findall("status/node_state"))


def _respawn(exchange: Exchange, name: str, directory: Path) -> None:
    """Kill `name`'s cib and start it again from what the daemon's store gives back."""
    store = CibStore(directory / name)
    store.save(exchange.cores[name].cib, keep_status=True, term=exchange.cores[name].term)
    exchange.kill(name)
    loaded = store.load()
    assert loaded.cib is not None and not len(loaded.cib.find("status"))
    exchange.cores[name] = ReplicaCore(name, loaded.cib, _no_schema, loaded.term, fresh=True)
    members = tuple((exchange.ident(member), member) for member in exchange.names)
    exchange.feed(name, ViewChanged(exchange.clock.monotonic(), exchange.view, members))


def _assert_everyone_has_the_status(exchange: Exchange) -> None:
    digests = {name: digest_of(core.cib) for name, core in exchange.cores.items()}
    assert len(set(digests.values())) == 1, digests
    assert {name: _states(core) for name, core in exchange.cores.items()} == {
        name: 3 for name in exchange.names}


def test_a_respawned_replica_gets_the_masters_status_with_its_first_sync(
        tmp_path: Path) -> None:
    """n1 is master (lowest id, no DC named): n3's respawned cib announces to it and is
    sent the whole CIB, with no write in between."""
    exchange, rng = _cluster_with_status(dc=None)
    _respawn(exchange, "n3", tmp_path)
    assert _states(exchange.cores["n3"]) == 0
    exchange.settle(rng)
    _assert_everyone_has_the_status(exchange)
    assert exchange.cores["n3"].master == "n1"


def test_a_respawned_replica_finds_the_master_the_role_moved_to(tmp_path: Path) -> None:
    """The master role moved to the DC (n3); n2's respawned cib takes n1 (the view's rule)
    for the master: n1 tells it about the handover and n3 sends it the CIB."""
    exchange, rng = _cluster_with_status(dc="n3")
    _respawn(exchange, "n2", tmp_path)
    exchange.settle(rng)
    _assert_everyone_has_the_status(exchange)
    assert exchange.cores["n2"].master == "n3"


def test_a_respawned_lowest_id_replica_gives_up_the_master_role_it_assumed(
        tmp_path: Path) -> None:
    """n1 (lowest id) respawns while n3 (the DC) holds the role: n1 takes the role by the
    view's rule, asks the others to announce, and is told of the handover instead; a write
    made on n1 meanwhile is applied by n3."""
    exchange, rng = _cluster_with_status(dc="n3")
    _respawn(exchange, "n1", tmp_path)
    exchange.write("n1", "meanwhile")
    exchange.settle(rng)
    _assert_everyone_has_the_status(exchange)
    assert {core.master for core in exchange.cores.values()} == {"n3"}
    assert exchange.acks["meanwhile"] == 0
    assert "meanwhile" in exchange.primitives("n2")


def test_a_respawned_master_takes_the_live_copy_not_its_own(tmp_path: Path) -> None:
    """The master's own cib respawns (n1 by the view's rule, or n2 holding the DC's role):
    its copy has the version of the others' but no status; the live copy wins the sync
    and nobody loses the status."""
    for dc, victim in ((None, "n1"), ("n2", "n2")):
        exchange, rng = _cluster_with_status(dc=dc)
        _respawn(exchange, victim, tmp_path / victim)
        exchange.settle(rng)
        _assert_everyone_has_the_status(exchange)
        assert {core.master for core in exchange.cores.values()} == {victim}
        exchange.write("n3", "after")
        exchange.settle(rng)
        assert exchange.acks["after"] == 0
        assert "after" in exchange.primitives(victim)


def test_the_respawn_tests_fail_without_status_in_the_store(tmp_path: Path) -> None:
    """The premise: what the store gives back has the live version but not the status."""
    exchange, _ = _cluster_with_status(dc=None)
    live = exchange.cores["n2"]
    store = CibStore(tmp_path)
    store.save(live.cib, keep_status=True, term=live.term)
    loaded = store.load()
    assert loaded.cib is not None
    assert loaded.cib.get("num_updates") == live.cib.get("num_updates")
    assert digest_of(loaded.cib) != digest_of(live.cib)


def test_a_write_forwarded_to_a_master_whose_cib_died_is_answered_102(tmp_path: Path) -> None:
    """n2 forwards a write to n1, the master, whose cib dies before reading it (the node
    stays in the view: no view change answers it). The respawned master's first ask says it
    is fresh, and n2 answers its client 102 (outcome unknown) at once instead of letting it
    wait for its timeout; writes after it are applied."""
    from cib.replication_messages import Forward

    for dc, victim in ((None, "n1"), ("n2", "n2")):
        exchange, rng = _cluster_with_status(dc=dc)
        origin = "n3"
        exchange.write(origin, "lost")
        assert any(isinstance(message, Forward)
                   for message in exchange.channels.get((origin, victim), ()))
        _respawn(exchange, victim, tmp_path / victim)  # the forward dies with it
        exchange.settle(rng)
        assert exchange.acks["lost"] == 102, (dc, victim)
        assert "lost" not in exchange.primitives(victim)
        exchange.write(origin, "after")
        exchange.settle(rng)
        assert exchange.acks["after"] == 0
        _assert_everyone_has_the_status(exchange)
