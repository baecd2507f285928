"""A replica follows the master's diffs in place (cib.replication_follower): its tree stays
the same object, ends as the master's copy with the master's digest in its announcements,
and a diff refused anywhere (a patch that does not apply, a gap, a wrong digest) is rolled
back whole: the copy byte-identical to before, its version and digest unchanged. The
master makes each write on its previous tree brought up to date (cib.replication_state's
`SpareTree`), with the patches and trees that writes on whole copies give."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cib.model import empty_cib, version_of
from cib.replication import ReplicaCore
from cib.replication_messages import (
    Announce,
    ClientWrite,
    Diff,
    DiffBatch,
    FetchCib,
    PeerMessage,
    PersistCib,
    ViewChanged,
    WireRequest,
)
from cib.replication_state import digest_of
from cib.request import Op
from cib.xmlio import element_text, parse
from messaging.effects import Node, Send
from messaging.errors import HAError
from tests.unit.cib.test_replication_full import MEMBERS, _no_schema


def _synced_pair() -> tuple[ReplicaCore, ReplicaCore]:
    """Master n1 and replica n2 in view 1, holding the same copy."""
    text = element_text(empty_cib(epoch=3), pretty=False)
    master = ReplicaCore("n1", parse(text), _no_schema)
    replica = ReplicaCore("n2", parse(text), _no_schema)
    master.handle(ViewChanged(0.0, 1, MEMBERS))
    announces = [effect.message for effect in replica.handle(ViewChanged(0.0, 1, MEMBERS))
                 if isinstance(effect, Send) and isinstance(effect.message, Announce)]
    assert len(announces) == 1
    assert not [e for e in master.handle(PeerMessage(0.0, "n2", announces[0]))
                if isinstance(e, Send)]  # the same copy: nothing to send
    assert master.sync is None  # synced: writes are applied at once
    return master, replica


# A write: (which nvpair, its value or None to delete it); slot 4 is a node's status
# (a num_updates change), slot 5 creates a resource (refused once it exists)
WRITES = st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.text(
    alphabet="abcxyz<&\"", min_size=0, max_size=6))), min_size=1, max_size=6)


def _request(slot: int, value: str | None) -> WireRequest:
    ident = f"opt-{slot}"
    if slot == 4:
        return WireRequest(Op.MODIFY.value, f'<node_state id="1" uname="n1" in_ccm="{value}"/>',
                           scope="status", allow_create=True)
    if slot == 5:
        return WireRequest(Op.CREATE.value, '<primitive id="r" class="ocf" '
                           'provider="pacemaker" type="Dummy"/>', scope="resources")
    if value is None:
        return WireRequest(Op.DELETE.value, f'<nvpair id="{ident}"/>', scope="crm_config")
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return WireRequest(Op.MODIFY.value, f'<cluster_property_set id="opts"><nvpair id="{ident}" '
                       f'name="n{slot}" value="{escaped}"/></cluster_property_set>',
                       scope="crm_config", allow_create=True)


def _diffs(master: ReplicaCore, writes: list[tuple[int, str | None]]) -> list[Diff]:
    """The diffs the master sends for `writes` (those that changed something)."""
    sent = []
    for index, (slot, value) in enumerate(writes):
        for effect in master.handle(ClientWrite(0.0, f"w{index}", _request(slot, value), 1.7e9)):
            if isinstance(effect, Send) and isinstance(effect.message, Diff):
                sent.append(effect.message)
    return sent


def _text(core: ReplicaCore) -> bytes:
    """The copy as libxml2 prints it: attribute order included (c14n sorts attributes)."""
    return etree.tostring(core.cib)


@settings(max_examples=60, deadline=None)
@given(WRITES)
def test_a_replica_follows_diffs_in_its_own_tree_and_announces_the_masters_digest(
        writes: list[tuple[int, str | None]]) -> None:
    master, replica = _synced_pair()
    tree = replica.cib
    for diff in _diffs(master, writes):
        replica.handle(PeerMessage(0.0, "n1", diff))
    assert replica.cib is tree  # changed in place, not copied
    assert _text(replica) == _text(master)
    assert replica._state() == master._state()  # the digest its announcements carry
    assert replica.digest() == digest_of(replica.cib)


REFUSALS = st.sampled_from(["digest", "gap", "missing target", "unknown format"])


@settings(max_examples=80, deadline=None)
@given(WRITES, WRITES, REFUSALS, st.integers(0, 10))
def test_a_refused_batch_leaves_the_replicas_copy_exactly_as_it_was(
        before: list[tuple[int, str | None]], batch: list[tuple[int, str | None]],
        refusal: str, where: int) -> None:
    master, replica = _synced_pair()
    for diff in _diffs(master, before):
        replica.handle(PeerMessage(0.0, "n1", diff))
    patches = [diff.patch for diff in _diffs(master, batch)]
    digest = master.digest()
    at = where % (len(patches) + 1)
    if refusal == "digest":
        digest = "0" * 32
    elif refusal == "gap" and len(patches) > 1:
        del patches[min(at, len(patches) - 1)]  # the result of a gap is not the master's
        at = -1
    elif refusal == "missing target" or refusal == "gap":
        patches.insert(at, _patch_of_a_missing_node(replica))
    else:
        patches.insert(at, '<diff format="9"/>')  # a format no cib knows
    kept, version = _text(replica), replica.version
    effects = replica.handle(PeerMessage(0.0, "n1", DiffBatch(
        1, tuple(patches), digest, master.version)))
    assert any(isinstance(e, Send) and isinstance(e.message, FetchCib)
               and e.destination == Node("n1") for e in effects)
    assert _text(replica) == kept and replica.version == version
    assert replica.digest() == digest_of(replica.cib)


def _patch_of_a_missing_node(replica: ReplicaCore) -> str:
    """A v2 patch from the replica's version that modifies a node its copy lacks."""
    admin, epoch, updates = replica.version
    return (f'<diff format="2"><version><source admin_epoch="{admin}" epoch="{epoch}" '
            f'num_updates="{updates}"/><target admin_epoch="{admin}" epoch="{epoch}" '
            f'num_updates="{updates + 1}"/></version><change operation="modify" '
            'path="/cib/configuration/crm_config/cluster_property_set[@id=\'absent\']">'
            '<change-list><change-attr name="x" value="1" operation="set"/></change-list>'
            '<change-result><cluster_property_set id="absent" x="1"/></change-result>'
            '</change></diff>')


@settings(max_examples=60, deadline=None)
@given(WRITES)
def test_the_master_writes_on_its_previous_tree_what_writes_on_copies_give(
        writes: list[tuple[int, str | None]]) -> None:
    from cib.model import last_written_text
    from cib.ops import perform

    master, _ = _synced_pair()
    reference, patches, trees = parse(element_text(master.cib)), [], [master.cib]
    for index, (slot, value) in enumerate(writes):
        request = _request(slot, value)
        try:
            outcome = perform(reference, request.request(), _no_schema,
                              last_written_text(1.7e9), request.author)
        except HAError:
            outcome = None
        if outcome is not None and outcome.patch is not None:
            reference = outcome.cib
            patches.append(element_text(outcome.patch, pretty=False))
        sent = [e.message.patch for e in master.handle(ClientWrite(
            0.0, f"w{index}", request, 1.7e9)) if isinstance(e, Send)
            and isinstance(e.message, Diff)]
        assert sent == patches[len(patches) - len(sent):] and len(sent) <= 1
        trees.append(master.cib)
        assert _text(master) == etree.tostring(reference)
    # each change is made on the tree before the previous one (two trees in turn): only a
    # write that changed nothing or was refused costs the spare, and so one copy more
    unchanged = sum(1 for before, after in itertools.pairwise(trees)
                    if after is before)
    assert len({id(tree) for tree in trees}) <= 2 + unchanged


def test_writes_applied_in_one_event_each_leave_their_tree_as_their_effect_says() -> None:
    """A sync's queued writes are applied in the event that completes it: the spare tree
    a write lets go of is named by that event's effects, so no later write of the same
    event may change it (the shell reads each `PersistCib` after the event)."""
    master, replica = _synced_pair()
    _diffs(master, [(0, "first")])  # the master now holds a spare
    master.handle(ViewChanged(0.0, 2, MEMBERS))
    announce = next(effect.message for effect in replica.handle(ViewChanged(0.0, 2, MEMBERS))
                    if isinstance(effect, Send) and isinstance(effect.message, Announce))
    for index in range(4):
        assert master.handle(ClientWrite(0.0, f"q{index}", _request(index % 2, f"v{index}"),
                                         1.7e9)) == []  # queued until the sync completes
    effects = master.handle(PeerMessage(0.0, "n2", announce))
    persisted = [effect for effect in effects if isinstance(effect, PersistCib)]
    assert len(persisted) == 4
    assert [version_of(effect.cib, absent=0) for effect in persisted] == [
        effect.version for effect in persisted]
