"""The cib daemon's I/O shell: a `ReplicaCore` on a Runner, its sockets, heartbeat and ccm.

What is wired to what (declared on one `messaging.daemon.DaemonHost`):

- ccm's `MembershipChanged` (and the answer to a first query) -> `ViewChanged`. ccm names
  members only; node ids are their rank in name order, which keeps `choose_master`'s
  "lowest id" stable across views (the lowest name wins).
- heartbeat channel ``cib`` (`messaging.peer_channel`): peer frames (`cib.api.peer_frame`)
  in and out, in order; ccm's views through `follow_membership`. A frame above
  `cib.api.BULK_THRESHOLD` is offered on this node's `messaging.bulk.BulkServer` (TCP on
  the cluster addresses of ha.cf, signed with authkeys) and only its `Offer` goes over
  heartbeat; the receiving shell fetches it while that sender's later messages wait
  (`messaging.peer_channel.SenderOrder`: other peers' messages do not), so the core sees
  each sender's order unchanged. Without a readable ha.cf and authkeys (or
  no cluster address) every frame takes heartbeat, as before.
- the IPC `Server` (`cib.api`): `Query` answered at once from the local replica; `Write`
  fed as `ClientWrite`, answered when the core emits its `Acknowledge`; `SetDc` (from
  crmd) fed as `DcNamed`, answered at once.
- Order against the disk: every frame to a peer leaves behind the disk writes issued
  before it that an acknowledgement would wait for (`DiskWriter.after_writes`), in the
  order the core sent them: the master's diff thus leaves once its change is in the
  journal, so the origin of a write answers its client from that diff
  (cib.replication_follower), and nothing the master sends overtakes it. A diff to every
  node leaves as one heartbeat broadcast; one above `BULK_THRESHOLD` is sent to each
  other member instead (a bulk offer is fetched by one receiver). Diffs the core sends
  while the first of them still waits for the disk, with no other frame between, leave
  together as one `DiffBatch` (group commit). The master answers its own clients' writes
  only once heartbeat took the frame carrying the diff (`PeerChannel.after_handed`).
- `PersistCib`: each of its patches is published as a `CibDiff` (a whole-CIB resync: the
  patchset from the previously persisted copy). The master's batch (patches and digest,
  starting from the copy last issued to disk) is written into the journal (cib.journal;
  its acknowledgements wait for that write, its fdatasync follows behind: cib.disk) and
  the whole copy is saved
  (`CibStore.save`: atomic, signed, backed up, journal emptied) `SNAPSHOT_DELAY` later,
  coalesced; any other synchronous one is saved at once. A deferred one (a replica's,
  already confirmed from memory) whose patches start from the copy last issued to disk is
  journaled the same way, holding back no acknowledgement; any other deferred one is saved
  `DEFERRED_WRITE_DELAY` later, coalesced with those that follow; a synchronous write or
  the daemon's stop writes it first. Each one lets the previous tree go: the freed heap
  pages are handed back to the kernel `TRIM_DELAY` later (`messaging.heap`: a 2 MB CIB's
  replaced trees left tens of MB resident).

At start the store is loaded (its journal replayed, then folded into a fresh save); a file
failing its signature is set aside by `CibStore` and
the newest good backup (or, failing that, an empty CIB at version 0) is announced, so the
cluster's better copy replaces it at the first view. Socket permissions are the runtime's
(0660, group haclient): members of haclient may query; writes are taken only from root,
the cib's own user and hacluster (`writer_uids`, by the caller's kernel credentials), and
refused from anyone else with exit 4 "Permission denied". Pacemaker's ACLs are not
supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import time
from pathlib import Path
from typing import Any

from cib.api import (
    API,
    BULK_THRESHOLD,
    DIFF_TOPIC,
    PEER_CHANNEL,
    CibDiff,
    CibReply,
    PeerWasFenced,
    Query,
    SetDc,
    Write,
    ctl_address,
    open_peer_frame,
    peer_frame,
    pub_address,
    request_of,
)
from cib.disk import DiskWriter
from cib.errors import reason_of
from cib.journal import JournalRecord
from cib.model import Version, empty_cib, version_of
from cib.ops import perform, schema_validator
from cib.replication import ReplicaCore
from cib.replication_messages import (
    Acknowledge,
    ClientWrite,
    DcNamed,
    Diff,
    DiffBatch,
    FullCib,
    PeerFenced,
    PeerMessage,
    PersistCib,
    ViewChanged,
)
from cib.store import CibStore
from cib.xmlio import Element, element_text
from messaging.bulk import BulkServer, Offer, cluster_addresses, fetch
from messaging.daemon import DaemonHost
from messaging.effects import ALL_NODES, AllNodes, Client, Node, Send
from messaging.envelope import CIB_MAX_FRAME
from messaging.errors import ExitCode, HAError, InternalError, RemoteProtocolError
from messaging.heap import HeapTrimmer, libc_trim
from messaging.ipc import Publisher, Server
from messaging.logs import get_logger
from messaging.peer_channel import PeerChannel, follow_membership
from messaging.runtime import AsyncioScheduler, Runner

DEFERRED_WRITE_DELAY = 0.05  # a replica's disk lags its memory by at most this, plus a write
TRIM_DELAY = 5.0  # the heap pages freed by replaced trees go back to the kernel this much later
SNAPSHOT_DELAY = 1.0  # the master's cib.xml lags its journal by at most this, plus a write


def view_members(members: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """ccm's member names as (node id, name): ids by name order, from 1."""
    return tuple((rank, name) for rank, name in enumerate(sorted(members), start=1))


def load_cib(store: CibStore, log: Any) -> tuple[Element, int]:
    """The copy this node starts from, and its replication term."""
    loaded = store.load()
    for path in loaded.set_aside:
        log.error("cib_corrupt_set_aside", path=str(path))
    if loaded.cib is None:
        log.warning("cib_empty_start", directory=str(store.directory))
        return empty_cib(epoch=0), 0
    log.info("cib_loaded", source=str(loaded.source), term=loaded.term,
             journal_records=loaded.replayed)
    if loaded.journal_problem is not None:
        log.warning("cib_journal_stopped", reason=loaded.journal_problem)
    if loaded.replayed or store.has_journal():  # fold it in: the journal restarts empty
        store.save(loaded.cib, keep_status=True, term=loaded.term)
    return loaded.cib, loaded.term


def published_patches(effect: PersistCib, persisted: Element) -> list[str]:
    """The patches subscribers get for `effect`: its own, or after a whole-CIB resync the
    patchset from `persisted` (the copy taken before) to it."""
    if effect.patches:
        return list(effect.patches)
    from cib.diff import create_patchset  # lazy: only resyncs need it

    patch = create_patchset(persisted, effect.cib)
    return [element_text(patch, pretty=False)] if patch is not None else []


CLUSTER_USER = "hacluster"


def writer_uids() -> frozenset[int]:
    """Who may change the CIB: root, the user the cib runs as, and the cluster's daemon
    user hacluster. Any other user who can reach the socket (group haclient) may query."""
    import pwd

    uids = {0, os.geteuid()}
    with contextlib.suppress(KeyError):
        uids.add(pwd.getpwnam(CLUSTER_USER).pw_uid)
    return frozenset(uids)


@functools.lru_cache(maxsize=64)
def user_name(uid: int) -> str | None:
    """The login name of `uid` (update-user), None when it has none."""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


class CibService:
    """One node's cib daemon."""

    def __init__(self, node: str, state_dir: Path, config_path: str | None = None,
                 authkeys_path: str | None = None) -> None:
        self.node, self.state_dir = node, state_dir
        self.log = get_logger(daemon="cib", node=node)
        self.store = CibStore(state_dir / "cib")
        cib, term = load_cib(self.store, self.log)
        # fresh: the loaded copy has no status; a live member's copy of the same version
        # is preferred, and the master sends its whole CIB when this one announces
        self.core = ReplicaCore(node, cib, schema_validator, term, fresh=True)
        self.persisted = cib
        self.server = Server(ctl_address(state_dir), API, self.answer, daemon="cib",
                             max_frame=CIB_MAX_FRAME, log=self.log)
        self.publisher = Publisher(pub_address(state_dir), API, max_frame=CIB_MAX_FRAME)
        self.runner = Runner(self.core, AsyncioScheduler(), send=self._send, log=self.log,
                             handlers={PersistCib: self._persist, Acknowledge: self._ack})
        self.peers = PeerChannel(state_dir, node, PEER_CHANNEL, open_frame=open_peer_frame,
                                 on_message=self._peer_message, log=self.log,
                                 prepare=self._offer_large, open_async=self._open)
        self.writers = writer_uids()
        self._writes: dict[str, Client] = {}
        self._ids = itertools.count(1)
        self.host = DaemonHost(self.log)
        self.bulk = self._bulk_server(config_path, authkeys_path)
        self._last_frame: tuple[object, bytes] | None = None
        # diffs waiting for the disk, to which the next may be added, and their held send
        self._open_batch: tuple[list[Diff], list[Any]] | None = None
        self.disk = DiskWriter(self.store, self.log)
        self._deferred: PersistCib | None = None  # a replica's newest copy, not yet written
        self._deferred_handle: asyncio.TimerHandle | None = None
        self._persisted_version = version_of(cib, absent=0)  # of the last PersistCib
        # The version of the copy last issued to the disk, while that copy is the one
        # `persisted` followed from (by its journaled patches): a version, not a tree, for
        # the core changes its tree in place (cib.replication_follower). None at start: the
        # loaded copy differs from the file (status dropped, or no file at all), so the
        # first write is a whole save and journal records always chain from a file holding
        # exactly their base; None again while a newer copy waits to be saved whole.
        self._on_disk: Version | None = None
        self._on_disk_term = term
        self._journaled = False  # records were appended since the last save was issued
        self._snapshot_handle: asyncio.TimerHandle | None = None
        self.trimmer = HeapTrimmer(TRIM_DELAY, libc_trim())  # a 2 MB CIB's replaced trees

    def _bulk_server(self, config_path: str | None, authkeys_path: str | None
                     ) -> BulkServer | None:
        if config_path is None or authkeys_path is None:
            return None
        from messaging.authkeys import load_authkeys

        try:
            addresses = cluster_addresses(config_path)
            keyring = load_authkeys(authkeys_path)
        except (HAError, OSError) as error:
            self.log.warning("bulk_path_disabled", error=str(error))
            return None
        if not addresses:
            self.log.warning("bulk_path_disabled", error=f"no local address in {config_path}")
            return None
        return BulkServer(keyring, addresses, log=self.log)

    # -- local clients ------------------------------------------------------------------

    def answer(self, request: Any, client: Client) -> Any:
        """One request of the control socket (the Server answers Ping itself)."""
        if isinstance(request, Query):
            return self._query(request)
        if not isinstance(request, Write | SetDc | PeerWasFenced):
            raise RemoteProtocolError(f"the cib takes Query, Write, SetDc and PeerWasFenced, "
                                      f"not {type(request).__name__}")
        peer = self.server.peer(client)
        if peer is not None and peer.uid not in self.writers:
            self.log.warning("cib_write_refused", uid=peer.uid, pid=peer.pid)
            return CibReply(int(ExitCode.INSUFFICIENT_PRIV), "Permission denied",
                            reason="Permission denied")
        if isinstance(request, PeerWasFenced):
            self.log.info("cib_peer_fenced", node=request.node)
            self.runner.feed(PeerFenced(self.runner.monotonic(), request.node))
            return CibReply(0, "OK")
        if isinstance(request, SetDc):
            if request.dc != self.core.dc:  # crmd repeats it every few seconds
                self.log.info("cib_dc_named", dc=request.dc)
            self.runner.feed(DcNamed(self.runner.monotonic(), request.dc))
            return CibReply(0, "OK")
        request_id = f"{self.node}:{next(self._ids)}"
        self._writes[request_id] = client
        # The author travels with the write to the master, which records it (update-*);
        # without credentials Pacemaker names the daemon's own user.
        uid = os.geteuid() if peer is None else peer.uid
        authored = request.request.replace(origin=self.node, client=request.client,
                                           user=user_name(uid))
        self.runner.feed(ClientWrite(self.runner.monotonic(), request_id, authored,
                                     self.runner.wall()))
        return None

    def _query(self, query: Query) -> CibReply:
        try:
            outcome = perform(self.core.cib, request_of(query))
        except HAError as error:
            output = getattr(error, "output", None)
            return CibReply(int(error.exit_code), error.message,
                            element_text(output) if output is not None else None,
                            reason=reason_of(error))
        text = element_text(outcome.output) if outcome.output is not None else None
        return CibReply(0, "OK", text, outcome.paths, self.core.version)

    def _ack(self, effect: Acknowledge) -> None:
        client = self._writes.pop(effect.request_id, None)
        if client is not None:
            reply = CibReply(effect.exit_code, effect.message, version=effect.version,
                             reason=effect.message)
            self.disk.after_writes(functools.partial(self._answer_write, client, reply))

    def _answer_write(self, client: Client, reply: CibReply) -> None:
        """The master answers a local write once heartbeat took the diff's frame (queued
        behind the same journal write, so accepted by the channel by now): until then a
        kill of the node's processes would leave the change in the master's journal
        alone, and the survivors' newer copy would win the next sync. A replica answers
        from the master's applied diff (cib.replication_follower): nothing to wait for."""
        if reply.exit_code == 0 and self.core.master == self.node:
            self.peers.after_handed(lambda: self.server.send(client, reply))
        else:
            self.server.send(client, reply)

    # -- disk and subscribers -----------------------------------------------------------

    def _persist(self, effect: PersistCib) -> None:
        """Publish the change now; write the master's copy now (off the loop: its
        acknowledgements wait for it, `cib.disk`), a replica's journaled now or saved a
        moment later, coalesced, waited for by nothing (the core sent its confirmation
        first: Pacemaker's replicas write asynchronously too)."""
        base, base_version = self.persisted, self._persisted_version
        if effect.cib is not base:
            self.trimmer.soon()  # `base` (a tree of tens of MB at 2 MB of XML) is let go
        for patch_text in published_patches(effect, base):
            self.publisher.publish(DIFF_TOPIC, CibDiff(patch_text, effect.version))
        self.persisted, self._persisted_version = effect.cib, effect.version
        if effect.patches and effect.digest and base_version == self._on_disk:
            # a batch, or on a replica the master's diff, that chains from the copy on disk:
            # its patches go into the journal, the whole copy is saved behind, coalesced; a
            # replica's append holds back no acknowledgement (its whole save per change was
            # most of a 16-node replica's CPU per write)
            self._cancel_deferred()
            self.disk.append(JournalRecord(base_version, effect.version, effect.term,
                                           effect.digest, effect.patches),
                             behind=effect.deferred)
            self._on_disk, self._on_disk_term = effect.version, effect.term
            self._save_later()
            return
        self._on_disk = None  # the disk holds an older copy until this one's save is issued
        if not effect.deferred:
            self._cancel_deferred()  # this newer copy supersedes it
            self._save(effect.cib, effect.term)
            return
        self._deferred = effect
        if self._deferred_handle is None:
            self._deferred_handle = asyncio.get_running_loop().call_later(
                DEFERRED_WRITE_DELAY, self._write_deferred)

    def _write_deferred(self) -> None:
        pending, self._deferred, self._deferred_handle = self._deferred, None, None
        if pending is not None:
            self._save(pending.cib, pending.term, behind=True)

    def _save(self, cib: Element, term: int, behind: bool = False) -> None:
        """Issue a whole-copy save (which empties the journal behind it); one `behind`
        holds back no acknowledgement (`cib.disk`)."""
        if self._snapshot_handle is not None:
            self._snapshot_handle.cancel()
        self._snapshot_handle, self._journaled = None, False
        # the version the tree holds now (the save prints it now): a tree changed in place
        # since its PersistCib, within the same event, no longer chains from its journal
        self._on_disk, self._on_disk_term = version_of(cib, absent=0), term
        self.disk.write(cib, term, behind)

    def _save_later(self) -> None:
        self._journaled = True
        if self._snapshot_handle is None:  # not pushed back by later records: bounded lag
            self._snapshot_handle = asyncio.get_running_loop().call_later(
                SNAPSHOT_DELAY, self._snapshot_due)

    def _snapshot_due(self) -> None:
        self._snapshot_handle = None
        if self._journaled and self._on_disk is not None:
            # the journal holds this copy (`persisted`, at the version last journaled)
            self._save(self.persisted, self._on_disk_term, behind=True)

    def _cancel_deferred(self) -> None:
        if self._deferred_handle is not None:
            self._deferred_handle.cancel()
        self._deferred, self._deferred_handle = None, None

    def close(self) -> None:
        """Finish the writes in flight, then write a deferred copy (or fold the journal into
        a save), before the daemon exits."""
        self.disk.close()
        self.trimmer.close()
        pending = self._deferred
        self._cancel_deferred()
        if self._snapshot_handle is not None:
            self._snapshot_handle.cancel()
            self._snapshot_handle = None
        if pending is not None:
            self.store.save(pending.cib, keep_status=True, term=pending.term)
        elif self._journaled and self._on_disk is not None:
            self.store.save(self.persisted, keep_status=True, term=self._on_disk_term)
        self.store.journal.close()

    # -- peers --------------------------------------------------------------------------

    def _send(self, effect: Send) -> None:
        if isinstance(effect.destination, Client):
            raise InternalError(f"the cib core sends only to nodes: {effect!r}")
        if isinstance(effect.destination, AllNodes) and isinstance(effect.message, Diff):
            self._send_diff(effect.message)
            return
        self._open_batch = None  # a later diff must not overtake this frame
        self.disk.after_writes(functools.partial(self._send_now, effect.destination,
                                                 effect.message))

    def _send_diff(self, diff: Diff) -> None:
        """A diff to every node, behind the journal write it follows; diffs the core sends
        while that one still waits for the disk, with nothing sent in between, leave with
        it as one `DiffBatch` (group commit: one frame, and one digest check per replica)."""
        if self._open_batch is not None and self._open_batch[0][-1].view == diff.view:
            self._open_batch[0].append(diff)
            self.disk.wait_longer(self._open_batch[1])  # until its journal record is written
            return
        batch: list[Diff] = [diff]
        self._open_batch = None
        held = self.disk.after_writes(lambda: self._send_batch(batch))
        if held is not None:
            self._open_batch = (batch, held)

    def _send_batch(self, batch: list[Diff]) -> None:
        if self._open_batch is not None and self._open_batch[0] is batch:
            self._open_batch = None
        last = batch[-1]
        message: Diff | DiffBatch = last if len(batch) == 1 else DiffBatch(
            last.view, tuple(diff.patch for diff in batch), last.digest, last.version,
            tuple(o for diff in batch for o in diff.origins),
            tuple(r for diff in batch for r in diff.requests))
        self._send_now(ALL_NODES, message)

    def _send_now(self, destination: Node | AllNodes, message: object) -> None:
        if self._last_frame is None or self._last_frame[0] is not message:
            self._last_frame = (message, peer_frame(message))  # one per fan-out
        frame = self._last_frame[1]
        destinations: list[Node | AllNodes] = [destination]
        if isinstance(destination, AllNodes) and len(frame) > BULK_THRESHOLD:
            destinations = [Node(member) for member in sorted(self.core.members)
                            if member != self.node]  # one bulk offer per receiver
        if isinstance(message, FullCib) and isinstance(destination, Node):
            self.log.info("cib_full_sent", to=destination.name, size=len(frame))
        for each in destinations:
            self.peers.send(each, frame)

    def _offer_large(self, payload: bytes) -> bytes:
        """A frame above `BULK_THRESHOLD` leaves as the `Offer` of the bulk path."""
        if self.bulk is not None and self.bulk.endpoints and len(payload) > BULK_THRESHOLD:
            return peer_frame(self.bulk.offer(payload))
        return payload

    def _peer_message(self, sender: str, message: Any) -> None:
        started, cpu = self.runner.monotonic(), time.thread_time()
        self.runner.feed(PeerMessage(started, sender, message, self.runner.wall()))
        if isinstance(message, FullCib):  # a join's last hop: parse, adopt, publish, confirm
            self.log.info("cib_full_taken", sender=sender, size=len(message.cib),
                          version=list(self.core.version),
                          ms=round((self.runner.monotonic() - started) * 1e3, 1),
                          cpu_ms=round((time.thread_time() - cpu) * 1e3, 1))

    async def _open(self, payload: bytes) -> object:
        """The peer message of a heartbeat frame, fetched first when it is a bulk `Offer`
        (the same sender's later messages wait for it: its order is kept)."""
        message = open_peer_frame(payload)
        if not isinstance(message, Offer):
            return message
        if self.bulk is None:
            raise RemoteProtocolError("a bulk offer arrived but this node has no bulk path "
                                      "(ha.cf or authkeys unreadable)")
        started = self.runner.monotonic()
        frame = await fetch(message, self.bulk.keyring, CIB_MAX_FRAME)
        self.log.info("bulk_fetched", size=len(frame),
                      ms=round((self.runner.monotonic() - started) * 1e3, 1))
        message = open_peer_frame(frame)
        if isinstance(message, Offer):
            raise RemoteProtocolError("a bulk frame held another offer")
        return message

    def _view(self, view_id: int, members: tuple[str, ...]) -> None:
        if view_id <= self.core.view:
            # ccm's view ids only grow; an older one arrives late when the start-up query
            # and a publication cross (seen: 23, 22, 23), and installing it dropped the
            # forwarded writes of members that never left view 23: never answered.
            return
        self.log.info("cib_view", view=view_id, members=list(members))
        self.runner.feed(ViewChanged(self.runner.monotonic(), view_id, view_members(members)))

    async def run(self) -> None:
        self.host.socket(self.server)
        self.host.socket(self.publisher)
        self.host.task(self.server.serve)
        self.host.task(lambda: follow_membership(self.state_dir, self._view))
        self.peers.attach(self.host)
        if self.bulk is not None:
            self.host.task(self.bulk.start)
            self.host.closing(self.bulk)
        self.host.closing(self)  # closed after the runner: nothing new gets deferred
        self.host.closing(self.runner)
        self.log.info("cib_started", version=list(self.core.version))
        await self.host.run()


__all__ = ["CibService", "load_cib", "published_patches", "view_members"]
