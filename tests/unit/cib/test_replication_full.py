"""Whole copies between cib daemons (cib.replication_full): a copy is taken only when its
parsed tree has the sender's digest; a protocol 0 sender's copy (no digest) is taken as its
own daemons took it; a replica confirms a copy before its subscribers and disk get it; the
master's sync goes on without a copy it refused; the mixed-version fields travel on the
wire, and a frame of a sender from before them opens with their defaults; neither a late
duplicate announce nor a ping announcing held writes costs a whole copy."""

from __future__ import annotations

import dataclasses

import msgpack  # type: ignore[import-untyped]

from cib.api import open_peer_frame, peer_frame
from cib.model import empty_cib
from cib.replication import ReplicaCore
from cib.replication_full import full_copy
from cib.replication_messages import (
    CIB_PROTOCOL,
    Acknowledge,
    Announce,
    AskAnnounce,
    ClientWrite,
    DcClaim,
    DcNamed,
    Diff,
    FetchCib,
    FullCib,
    Handover,
    PeerMessage,
    PersistCib,
    ViewChanged,
    WireRequest,
)
from cib.replication_state import digest_of
from cib.request import Op
from cib.xmlio import Element, element_text, parse
from messaging.effects import ALL_NODES, Log, Send, TimerFired

MEMBERS = ((1, "n1"), (2, "n2"))


def _no_schema(cib: Element) -> None:
    """Replication only: schemas are covered elsewhere."""


def _holder(epoch: int, name: str = "n1") -> ReplicaCore:
    """A core whose copy is at `epoch`, with some configuration."""
    cib = empty_cib(epoch=epoch)
    config = cib.find("configuration/crm_config")
    assert config is not None
    config.append(parse('<cluster_property_set id="big"><nvpair id="a" name="a" value="1"/>'
                        '</cluster_property_set>'))
    return ReplicaCore(name, cib, _no_schema)


def _replica_of(master: ReplicaCore) -> ReplicaCore:
    """n2 (an older copy) following `master` n1 in view 1."""
    replica = ReplicaCore("n2", empty_cib(epoch=1), _no_schema)
    master.handle(ViewChanged(0.0, 1, MEMBERS))
    replica.handle(ViewChanged(0.0, 1, MEMBERS))
    return replica


def _create(ident: str) -> ClientWrite:
    return ClientWrite(0.0, ident, WireRequest(
        Op.CREATE.value, f'<primitive id="{ident}" class="ocf" provider="pacemaker" '
        'type="Dummy"/>', scope="resources"))


def _logs(effects: list[object], event: str) -> list[Log]:
    return [effect for effect in effects if isinstance(effect, Log) and effect.event == event]


def test_a_replica_takes_a_copy_with_the_senders_digest_and_confirms_nothing() -> None:
    master = _holder(5)
    replica = _replica_of(master)
    copy = full_copy(master)
    assert copy.digest == digest_of(master.cib) and copy.protocol == CIB_PROTOCOL
    effects = replica.handle(PeerMessage(0.0, "n1", copy))
    assert replica.version == master.version and not replica.fresh
    assert not [e for e in effects if isinstance(e, Send)]  # no write waits for replicas
    assert isinstance(effects[-1], PersistCib) and effects[-1].deferred


def test_a_copy_that_differs_from_its_digest_is_refused_and_the_replica_keeps_its_own() -> None:
    master = _holder(5)
    replica = _replica_of(master)
    before = replica.cib
    copy = full_copy(master)
    changed = dataclasses.replace(copy, cib=copy.cib.replace('value="1"', 'value="2"'))
    effects = replica.handle(PeerMessage(0.0, "n1", changed))
    assert replica.cib is before and _logs(effects, "cib_full_refused")
    assert not any(isinstance(e, PersistCib | Send) for e in effects)  # no loop
    unparsable = dataclasses.replace(copy, cib="no xml here")
    effects = replica.handle(PeerMessage(0.0, "n1", unparsable))
    assert replica.cib is before and _logs(effects, "cib_full_refused")


def test_a_protocol_0_senders_copy_has_no_digest_and_is_taken_unchecked() -> None:
    master = _holder(5)
    replica = _replica_of(master)
    old = FullCib(1, element_text(master.cib, pretty=False), master.version, master.term)
    replica.handle(PeerMessage(0.0, "n1", old))
    assert replica.version == master.version


def test_a_master_refusing_the_best_copy_decides_without_it() -> None:
    """n1 (master of view 1, epoch 1) fetches n2's better copy; n2's copy does not match
    its digest: n1 keeps its own and completes the sync, pushing it to n2."""
    master = ReplicaCore("n1", empty_cib(epoch=1), _no_schema)
    holder = _holder(5, "n2")
    master.handle(ViewChanged(0.0, 1, MEMBERS))
    holder.handle(ViewChanged(0.0, 1, MEMBERS))
    state = holder._state()
    effects = master.handle(PeerMessage(0.0, "n2", Announce(1, state[0], state[2], state[1],
                                                            protocol=CIB_PROTOCOL)))
    assert [e.message for e in effects if isinstance(e, Send)] == [FetchCib(1)]
    copy = full_copy(holder)
    bad = dataclasses.replace(copy, digest="0" * 32)
    effects = master.handle(PeerMessage(0.0, "n2", bad))
    assert _logs(effects, "cib_full_refused") and master.sync is None
    assert master.version == (0, 1, 0)
    pushed = [e.message for e in effects if isinstance(e, Send)]
    assert len(pushed) == 1 and isinstance(pushed[0], FullCib)


def test_a_member_with_an_older_protocol_is_refused_and_the_view_goes_on() -> None:
    """n3 announces CIB protocol 1 (it waits for confirmations a protocol 2 master never
    sends, and would make everyone wait for its own as master) while every crmd names it
    DC: the master refuses it as Pacemaker's DC refuses an incompatible feature set (an
    error naming it and both protocols), decides its sync without it, never hands the
    role to it, and acknowledges writes; n3's messages in that view are ignored."""
    master = _holder(5)
    members = ((1, "n1"), (2, "n2"), (3, "n3"))
    master.handle(ViewChanged(0.0, 1, members))
    master.handle(DcNamed(0.0, "n3"))
    version, term, digest = master._state()
    master.handle(PeerMessage(0.0, "n2", Announce(1, version, digest, term, "n3",
                                                  protocol=CIB_PROTOCOL)))
    effects = master.handle(PeerMessage(0.0, "n3", Announce(1, version, digest, term, "n3",
                                                            protocol=1)))
    assert not [e for e in effects if isinstance(e, Send) and isinstance(e.message, Handover)]
    assert master.sync is None and master.master == "n1" and set(master.members) == {"n1", "n2"}
    [refused] = _logs(effects, "cib_peer_refused")
    fields = dict(refused.fields)
    assert (refused.level, fields["peer"], fields["protocol"], fields["ours"]) == (
        "error", "n3", 1, CIB_PROTOCOL)
    assert "n3" in str(fields["reason"]) and "protocol 1" in str(fields["reason"])
    effects = master.handle(PeerMessage(0.0, "n3", DcClaim(1, "n3")))
    assert effects == [] and master.master == "n1"  # no longer a member of this view
    effects = master.handle(_create("w1"))
    assert [(e.request_id, e.exit_code) for e in effects if isinstance(e, Acknowledge)] == [
        ("w1", 0)]


def test_the_fields_travel_and_an_older_frame_opens_with_their_defaults() -> None:
    master = _holder(5)
    master.handle(ViewChanged(0.0, 1, MEMBERS))
    copy = full_copy(master)
    assert open_peer_frame(peer_frame(copy)) == copy
    frame = msgpack.unpackb(peer_frame(copy))
    frame[-1] = frame[-1][:4]  # view, cib, version, term: what a protocol 0 daemon sends
    old = open_peer_frame(msgpack.packb(frame))
    assert isinstance(old, FullCib) and (old.digest, old.protocol) == ("", 0)
    assert old.cib == copy.cib
    handover = Handover(1, 2, "n2", master.version, digest_of(master.cib))
    assert open_peer_frame(peer_frame(handover)) == handover
    frame = msgpack.unpackb(peer_frame(handover))
    frame[-1] = frame[-1][:3]  # view, seq, master: what a protocol 1 daemon sends
    assert open_peer_frame(msgpack.packb(frame)) == Handover(1, 2, "n2")


def test_a_late_duplicate_announce_gets_no_whole_copy_a_respawned_cibs_does() -> None:
    """n2 answers the master's AskAnnounce after its own announce: the sync took the first;
    the answer, older than the diff already sent to n2, must not cost another whole copy
    (taken after that diff, it rolled n2 back). A respawned cib's own announce still does."""
    master = _holder(5)
    members = ((1, "n1"), (2, "n2"), (3, "n3"))
    master.handle(ViewChanged(0.0, 1, members))
    version, term, digest = master._state()
    for name in ("n2", "n3"):
        master.handle(PeerMessage(0.0, name, Announce(1, version, digest, term,
                                                      protocol=CIB_PROTOCOL)))
    assert master.sync is None
    effects = master.handle(_create("w1"))
    assert [e.destination for e in effects if isinstance(e, Send)
            and isinstance(e.message, Diff)] == [ALL_NODES]
    late = Announce(1, version, digest, term, protocol=CIB_PROTOCOL, known=True)
    effects = master.handle(PeerMessage(0.0, "n2", late))
    assert not [e for e in effects if isinstance(e, Send) and isinstance(e.message, FullCib)]
    respawned = dataclasses.replace(late, fresh=True, known=False)  # its own, not an answer
    effects = master.handle(PeerMessage(0.0, "n2", respawned))
    assert [e.message.version for e in effects if isinstance(e, Send)
            and isinstance(e.message, FullCib)] == [master.version]


def test_a_members_own_announce_is_unasked_its_answer_to_the_master_asked() -> None:
    replica = ReplicaCore("n2", empty_cib(epoch=1), _no_schema)
    own = [e.message for e in replica.handle(ViewChanged(0.0, 1, MEMBERS))
           if isinstance(e, Send)]
    answer = [e.message for e in replica.handle(PeerMessage(0.0, "n1", AskAnnounce(1)))
              if isinstance(e, Send)]
    assert [(type(m).__name__, m.known) for m in own + answer] == [  # type: ignore[attr-defined]
        ("Announce", False), ("Announce", True)]


def test_the_ping_after_a_write_announces_once_to_every_node() -> None:
    master = _holder(5)
    members = ((1, "n1"), (2, "n2"), (3, "n3"))
    master.handle(ViewChanged(0.0, 1, members))
    version, term, digest = master._state()
    for name in ("n2", "n3"):
        master.handle(PeerMessage(0.0, name, Announce(1, version, digest, term,
                                                      protocol=CIB_PROTOCOL)))
    master.handle(_create("w1"))
    announced = [(e.destination, e.message) for e in master.handle(TimerFired("ping", 1.0))
                 if isinstance(e, Send)]
    assert [(destination, m.version) for destination, m in announced] == [  # type: ignore[attr-defined]
        (ALL_NODES, master.version)]


def test_after_a_handover_the_members_announces_cost_no_whole_copy() -> None:
    """n1 hands the role to n2 (both hold n1's copy, which the handover names); n2 applies a
    write at once; n3's announce at the handover, older than that write's diff, must not
    make n2 send it the whole CIB. A respawned (fresh) member's still does."""
    members = ((1, "n1"), (2, "n2"), (3, "n3"))
    cores = {name: ReplicaCore(name, empty_cib(epoch=1), _no_schema) for _, name in members}
    for core in cores.values():
        core.handle(ViewChanged(0.0, 1, members))
    version, _, digest = cores["n1"]._state()
    handover = Handover(1, 1, "n2", version, digest)
    n2, n3 = cores["n2"], cores["n3"]
    n2.handle(PeerMessage(0.0, "n1", handover))
    announce = [e.message for e in n3.handle(PeerMessage(0.0, "n1", handover))
                if isinstance(e, Send)]
    assert n2.master == "n2" and [type(m).__name__ for m in announce] == ["Announce"]
    n2.handle(_create("w1"))
    effects = n2.handle(PeerMessage(0.0, "n3", announce[0]))
    assert not [e for e in effects if isinstance(e, Send) and isinstance(e.message, FullCib)]
    respawned = dataclasses.replace(announce[0], fresh=True, known=False)
    effects = n2.handle(PeerMessage(0.0, "n3", respawned))
    assert [e.destination.name for e in effects if isinstance(e, Send)
            and isinstance(e.message, FullCib)] == ["n3"]


def test_a_new_master_whose_copy_is_not_the_handovers_syncs_the_view() -> None:
    """n2 missed a diff before n1 handed it the role (or the handover came from a daemon
    that names no copy): taking the role with its copy would lose n1's last writes; it
    syncs the view instead, fetching the best copy."""
    members = ((1, "n1"), (2, "n2"), (3, "n3"))
    cores = {name: ReplicaCore(name, empty_cib(epoch=1), _no_schema) for _, name in members}
    for core in cores.values():
        core.handle(ViewChanged(0.0, 1, members))
    n2 = cores["n2"]
    for handover in (Handover(1, 1, "n2", (0, 2, 0), "other digest"), Handover(1, 2, "n2")):
        effects = n2.handle(PeerMessage(0.0, "n1", handover))
        assert n2.master == "n2" and n2.sync is not None
        assert {e.destination.name for e in effects if isinstance(e, Send)  # type: ignore[union-attr]
                and isinstance(e.message, AskAnnounce)} == {"n1", "n3"}
