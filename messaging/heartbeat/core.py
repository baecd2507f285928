"""The heartbeat protocol engine: a pure core driven by events, answering with effects.

`HeartbeatCore.handle(event) -> list[Effect]` is the whole interface (plus the read-only
queries `table(now)`, `counters` and `check_send`). It never touches sockets or clocks:
the shell feeds `Started`, `PacketReceived`, `SendRequest`, `Stopping` and `TimerFired`,
and performs the returned `SendDatagram`, `ArmTimer`, `Publish`, `Persist` and `Log`
effects (`Persist(HOSTCACHE, ...)` whenever autojoin admits a node never seen before).

Invariants:
- a packet is acted on only after its signature verified, its cluster matched, it came
  from an address that may be its sender's (`peers.source_refusal`) and its
  (generation, seq) was new: older generations are replays, seen seqs duplicates, and
  after a restart seqs at or below the persisted mark (`PeerMark`) are replays too;
- the marks are persisted (`Persist(PEERS, ...)`) written ahead (peers.MARK_AHEAD): when a
  sender's highest accepted seq nears its mark, when an address is pinned, and when
  stopping, so a restarted receiver does not believe packets captured earlier; a sender
  that sees a peer restart jumps its own seq past any mark that peer can hold;
- a link's liveness is refreshed only by a seq higher than any that link carried from
  that sender (a replayed packet can never keep a link alive);
- every received packet is counted under exactly one of: accepted, duplicate, own,
  or rejected.<reason>; nothing a peer sends raises out of `handle`;
- upper-layer messages are delivered in order, exactly once per (sender, generation);
- a message addressed to one node goes by unicast to the addresses that node's packets
  come from, when known, and its mseqs are announced to the others (`direct`).
Timers: "keepalive" (send Status), "check" (next liveness deadline), "rexmit" (re-ask for
missing messages while any gap is open). An accepted packet's message stream (delivery,
retransmission both ways, Leaving) is handled in `messaging.heartbeat.inbound`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from messaging.auth import KeyRing
from messaging.config import HaConfig, check_node_name
from messaging.effects import ArmTimer, Log, Persist, Publish, TimerFired
from messaging.heartbeat import inbound
from messaging.heartbeat.api import (
    BROADCAST,
    TOPIC_STATUS,
    MessageReceived,
    NodeState,
    NodeStatusChanged,
    NodeTable,
    message_topic,
)
from messaging.heartbeat.direct import DirectLedger, unicast_routes
from messaging.heartbeat.events import (
    Address,
    Effect,
    Event,
    KeysReloaded,
    PacketReceived,
    SendDatagram,
    SendRequest,
    Started,
    Stopping,
)
from messaging.heartbeat.liveness import Liveness, NodeLiveness, Timing, to_grid
from messaging.heartbeat.peers import MARK_AHEAD, Peer, PeerMark, encode_marks, source_refusal
from messaging.heartbeat.stream import Delivery, InStream, OutStream
from messaging.wire import (
    BROADCAST as WIRE_BROADCAST,
)
from messaging.wire import (
    Envelope,
    Leaving,
    PacketRejected,
    Status,
    open_datagram,
    seal,
)

SEQ_WINDOW = 1024
DATAGRAM_BUDGET = 1400
ENVELOPE_ALLOWANCE = 300  # header + names + signature, so fragments fit in DATAGRAM_BUDGET
MAX_NAME = 64
HOSTCACHE = "hostcache"  # Persist name of the autojoined nodes, one per line
PEERS = "hb_peers"  # Persist name of the senders' replay marks (peers.encode_marks)


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """What the core needs from ha.cf, authkeys and the start-up context."""

    node: str
    cluster: str
    generation: int
    timing: Timing
    links: tuple[str, ...]
    nodes: tuple[str, ...]
    keys: KeyRing
    autojoin: str = "none"
    max_message: int = 1 << 20
    chunk_size: int = DATAGRAM_BUDGET - ENVELOPE_ALLOWANCE
    known_peers: tuple[PeerMark, ...] = ()  # persisted by an earlier run of this node
    # links made only of ucast lines, and the peer addresses configured on each
    allowed_sources: tuple[tuple[str, frozenset[str]], ...] = ()

    @classmethod
    def from_config(cls, config: HaConfig, node: str, generation: int, keys: KeyRing,
                    links: tuple[str, ...] | None = None) -> CoreSettings:
        timing = Timing(config.keepalive, config.warntime, config.deadtime, config.initdead)
        used = links if links is not None else config.links
        allowed = []
        for link in used:
            media = [m for m in config.media if m.link == link]
            if media and all(m.kind == "ucast" for m in media):
                allowed.append((link, frozenset(m.address for m in media)))
        return cls(node, config.cluster_name, generation, timing, used, config.nodes, keys,
                   config.autojoin, config.max_message, allowed_sources=tuple(allowed))

    @property
    def rexmit_interval(self) -> float:
        return max(0.05, min(self.timing.keepalive, 0.25))


def _host_name(name: str) -> bool:
    try:
        check_node_name(name)
    except ValueError:
        return False
    return True


class HeartbeatCore:
    """One node's heartbeat protocol state."""

    def __init__(self, settings: CoreSettings) -> None:
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self.liveness = Liveness(settings.node, settings.links, settings.timing)
        self.peers: dict[str, Peer] = {}
        self.out = OutStream(settings.chunk_size)
        self.direct = DirectLedger()
        self._seq = 0
        self._rexmit_armed = False
        self._beat_due: float | None = None
        for name in (settings.node, *settings.nodes):
            self.liveness.add(name)
        self.liveness.add(settings.node).generation = settings.generation
        self._allowed = dict(settings.allowed_sources)
        self._marks_moved = False
        for mark in settings.known_peers:
            if mark.node in self.liveness.nodes and mark.node != settings.node:
                self.peers[mark.node] = Peer.restored(mark, settings.node)
                self.liveness.nodes[mark.node].generation = mark.generation

    # ----------------------------------------------------------------- dispatch
    def handle(self, event: Event) -> list[Effect]:
        """Process one event; returns the effects for the shell to perform."""
        if isinstance(event, PacketReceived):
            return self._on_packet(event)
        if isinstance(event, TimerFired):
            return self._on_timer(event)
        if isinstance(event, SendRequest):
            return self._on_send(event)
        if isinstance(event, Started):
            self.liveness.started = event.now
            return self._heartbeat(event.now, event.wall) + self._check(event.now)
        if isinstance(event, Stopping):
            return [*self._broadcast(WIRE_BROADCAST, Leaving()), self._save_peers()]
        if isinstance(event, KeysReloaded):
            self.settings = replace(self.settings, keys=event.keys)
            indexes = [k.index for k in event.keys.keys]
            return [Log("authkeys_reloaded", "info",
                        (("active", event.keys.active), ("indexes", indexes)))]
        return []

    # ----------------------------------------------------------------- queries
    def table(self, now: float) -> NodeTable:
        nodes = tuple(self.liveness.info(r, now) for r in self.liveness.nodes.values())
        return NodeTable(self.settings.node, self.settings.cluster, nodes,
                         dict(self.counters), now)

    def check_send(self, dst: str, channel: str, payload: bytes) -> str | None:
        """Why a SendRequest would be refused, or None when it is fine."""
        if dst != BROADCAST and dst not in self.liveness.nodes:
            return f"unknown node {dst!r}"
        if not channel or len(channel) > MAX_NAME:
            return "channel must be 1-64 characters"
        if len(payload) > self.settings.max_message:
            return f"message of {len(payload)} bytes exceeds max_message"
        return None

    # ----------------------------------------------------------------- sending
    def _seal(self, dst: str, message: object) -> bytes:
        self._seq += 1
        envelope = Envelope(self.settings.cluster, self.settings.node,
                            self.settings.generation, self._seq, dst, message)
        return seal(envelope, self.settings.keys.signing_key())

    def _tx(self, link: str, dest: Address | None, data: bytes) -> SendDatagram:
        self.counters["tx.packets"] += 1
        self.counters["tx.bytes"] += len(data)
        return SendDatagram(link, dest, data)

    def _broadcast(self, dst: str, message: object) -> list[Effect]:
        data = self._seal(dst, message)
        return [self._tx(link, None, data) for link in self.settings.links]

    def _heartbeat(self, now: float, wall: float | None) -> list[Effect]:
        status = Status(self.out.last_mseq, self.out.first_available, self.direct.for_status())
        effects = self._broadcast(WIRE_BROADCAST, status)
        return [*effects, ArmTimer("keepalive", self._next_beat(now, wall))]

    def _save_peers(self) -> Persist:
        self._marks_moved = False
        marks = [peer.mark_ahead(node) for node, peer in self.peers.items()]
        return Persist(PEERS, encode_marks(marks).encode())

    def _next_beat(self, now: float, wall: float | None) -> float:
        """Keepalives follow a fixed grid (previous deadline + keepalive), not "fire time +
        keepalive": a timer that fires late must not stretch every later interval, or the
        effective keepalive grows with load and fewer beats fit in deadtime. The grid is
        the epoch's (`liveness.to_grid`), joined at the first beat and again after a stall
        longer than one keepalive (no burst of catch-up beats)."""
        keepalive = self.settings.timing.keepalive
        if self._beat_due is not None and self._beat_due + keepalive > now:
            due = self._beat_due + keepalive
        else:
            due = now + to_grid(wall, keepalive)
        self._beat_due = due
        return due

    def _on_send(self, event: SendRequest) -> list[Effect]:
        refusal = self.check_send(event.dst, event.channel, event.payload)
        if refusal is not None:
            self.counters["messages.refused"] += 1
            return [Log("send_refused", "warning", (("dst", event.dst), ("reason", refusal)))]
        dst = WIRE_BROADCAST if event.dst == BROADCAST else event.dst
        self.counters["messages.sent"] += 1
        effects: list[Effect] = []
        if dst != self.settings.node:  # a message to ourselves never touches the network
            effects += self._send_fragments(dst, event.channel, event.payload)
        if dst in (WIRE_BROADCAST, self.settings.node):
            local = Delivery(event.channel, event.payload, dst == WIRE_BROADCAST)
            effects.append(self._deliver(self.settings.node, self.settings.generation, local))
        return effects

    def _send_fragments(self, dst: str, channel: str, payload: bytes) -> list[Effect]:
        routes = unicast_routes(self.peers.get(dst), dst, self.settings.links)
        if routes and self.direct.room(dst):  # the runs before it ride along (for b after c)
            items = self.out.fragments(dst, channel, payload, tuple(self.direct.pending))
            self.direct.record(dst, items[0].data.mseq, items[-1].data.mseq)
            sealed = [self._seal(dst, item.data) for item in items]
            return [self._tx(link, addr, data) for data in sealed for link, addr in routes]
        effects: list[Effect] = []
        for item in self.out.fragments(dst, channel, payload, self.direct.take_pending()):
            effects += self._broadcast(item.dst, item.data)
        return effects

    def _deliver(self, src: str, generation: int, delivery: Delivery) -> Publish:
        self.counters["messages.delivered"] += 1
        return Publish(message_topic(delivery.channel).decode(), MessageReceived(
            src, delivery.channel, delivery.payload, generation, delivery.broadcast))

    # ----------------------------------------------------------------- receiving
    def _reject(self, reason: str, detail: str) -> list[Effect]:
        self.counters[f"rejected.{reason}"] += 1
        count = self.counters[f"rejected.{reason}"]
        if count == 1 or count % 1000 == 0:
            return [Log("packet_rejected", "warning",
                        (("reason", reason), ("detail", detail), ("count", count)))]
        return []

    def _on_packet(self, event: PacketReceived) -> list[Effect]:
        self.counters["rx.packets"] += 1
        self.counters["rx.bytes"] += len(event.data)
        try:
            envelope = open_datagram(event.data, self.settings.keys)
        except PacketRejected as error:
            return self._reject(error.reason, str(error))
        if envelope.cluster != self.settings.cluster:
            return self._reject("wrong_cluster", f"cluster {envelope.cluster[:MAX_NAME]!r}")
        if envelope.src == self.settings.node:
            self.counters["rx.own"] += 1
            return []
        if not self._admissible(envelope.src):
            return self._reject("unknown_node", f"node {envelope.src[:MAX_NAME]!r} not in ha.cf")
        return self._accept(envelope, event)

    def _admissible(self, src: str) -> bool:
        if len(src) > MAX_NAME:
            return False
        if src in self.liveness.nodes:
            return True
        # a joiner's name reaches logs, the hostcache and the CIB: host names only
        return self.settings.autojoin in ("other", "any") and _host_name(src)

    def _node_up(self, node: str, now: float) -> bool:
        record = self.liveness.nodes.get(node)
        return record is not None and self.liveness.status(record, now) is not NodeState.DEAD

    def _accept(self, envelope: Envelope, event: PacketReceived) -> list[Effect]:
        peer = self.peers.get(envelope.src)
        ip = event.addr[0]
        # whether the node is up matters only for a packet from another address than the
        # pinned one (a restart may move a node): not worked out for every keepalive
        pinned = peer.addresses.get(event.link) if peer is not None else None
        moved = pinned is not None and pinned != ip and self._node_up(envelope.src, event.now)
        refusal = source_refusal(peer, envelope.generation, event.link, ip, self._allowed,
                                 moved)
        if refusal is not None:
            return self._reject(refusal, f"{envelope.src} from {event.addr[0]} on {event.link}")
        effects: list[Effect] = []
        if peer is None or envelope.generation > peer.generation:
            effects += self._restarted(envelope, peer)
            peer = self.peers[envelope.src]
        elif envelope.generation < peer.generation:
            return self._reject("old_generation", f"{envelope.src} gen {envelope.generation}")
        # too old to refresh anything, or accepted before this receiver restarted
        if envelope.seq <= max(peer.highest_seq - SEQ_WINDOW, peer.floor):
            return effects + self._reject("replay", f"{envelope.src} seq {envelope.seq}")
        fresh_link = envelope.seq > peer.link_seq.get(event.link, 0)
        if fresh_link:
            peer.link_seq[event.link] = envelope.seq
            if event.link not in peer.addresses:  # pinned from now on: part of the mark
                peer.addresses[event.link] = event.addr[0]
                self._marks_moved = True
            peer.endpoints[event.link] = event.addr
            peer.reply_to = (event.link, event.addr)
            effects += self._heard(envelope.src, event.link, event.now)
        if envelope.seq in peer.seen:
            if fresh_link:  # the same packet over a second link: normal with redundant links
                self.counters["rx.duplicate"] += 1
                return effects
            return effects + self._reject("duplicate", f"{envelope.src} seq {envelope.seq}")
        self._remember_seq(peer, envelope.seq)
        self.counters["rx.accepted"] += 1
        if self._marks_moved or peer.mark_due():
            effects.append(self._save_peers())
        return effects + inbound.dispatch(self, envelope, peer, event.now)

    def _remember_seq(self, peer: Peer, seq: int) -> None:
        peer.seen.add(seq)
        peer.highest_seq = max(peer.highest_seq, seq)
        if len(peer.seen) > 2 * SEQ_WINDOW:
            floor = peer.highest_seq - SEQ_WINDOW
            peer.seen = {s for s in peer.seen if s > floor}

    def _restarted(self, envelope: Envelope, old: Peer | None) -> list[Effect]:
        """First packet of a new generation: fresh replay and stream state."""
        joined = envelope.src not in self.liveness.nodes
        record = self.liveness.add(envelope.src)
        self.peers[envelope.src] = Peer(envelope.generation, stream=InStream(self.settings.node))
        record.generation = envelope.generation
        if old is None:
            discovered: list[Effect] = [Log("node_discovered", "info", (
                ("node", envelope.src), ("generation", envelope.generation)))]
            if joined:  # autojoin: remembered across restarts (Heartbeat's host cache)
                names = "".join(f"{name}\n" for name in self.liveness.nodes)
                discovered.append(Persist(HOSTCACHE, names.encode()))
            return discovered
        if old.heard():
            # we were hearing it when it restarted: whatever of its new generation we
            # missed was lost on the way, a gap to fill from its first message. A peer
            # known only from our persisted marks (both restarted: a cold boot) is first
            # heard now, as Heartbeat treats any new generation (its sequence tracking
            # restarts at the first packet heard): asking all of them for their stream
            # from message 1 cost 2,195 retransmissions in a 16-node cold start
            self.peers[envelope.src].stream.start_at(1)  # type: ignore[union-attr]
        # the restarted peer may hold a mark of ours written up to MARK_AHEAD past what it
        # accepted (peers.py): jump past it, or it would refuse us as a replay until then
        self._seq += MARK_AHEAD
        return [Log("node_restarted", "warning", (("node", envelope.src),
                                                  ("generation", envelope.generation)))]

    def _heard(self, node: str, link: str, now: float) -> list[Effect]:
        record = self.liveness.nodes[node]
        if self.liveness.still_up(record, link):  # the common case: nothing to announce
            self.liveness.heard(node, link, now)
            return []
        before = self.liveness.status(record, now)
        last = record.last_heard()
        self.liveness.heard(node, link, now)
        effects: list[Effect] = []
        if before is NodeState.LATE and last is not None:
            effects.append(Log("heartbeat_recovered", "info",
                               (("node", node), ("silence_ms", round((now - last) * 1000)))))
        return effects + self._announce(now, node)

    # ----------------------------------------------------------------- timers and status
    def _on_timer(self, event: TimerFired) -> list[Effect]:
        if event.key == "keepalive":
            return self._heartbeat(event.now, event.wall)
        if event.key == "check":
            return self._check(event.now)
        if event.key == "rexmit":
            return inbound.on_rexmit_timer(self, event.now)
        return []

    def _check(self, now: float) -> list[Effect]:
        effects = self._announce(now)
        deadline = self.liveness.next_deadline(now)
        if deadline is not None:
            effects.append(ArmTimer("check", deadline))
        return effects

    def _announce(self, now: float, only: str | None = None) -> list[Effect]:
        effects: list[Effect] = []
        for record in self.liveness.evaluate(now, only):
            effects += self._status_effects(record, now)
        return effects

    def _status_effects(self, record: NodeLiveness, now: float) -> list[Effect]:
        info = self.liveness.info(record, now)
        event = NodeStatusChanged(record.name, info.status, info.links, info.generation, now)
        effects: list[Effect] = [Publish(TOPIC_STATUS.decode(), event)]
        last = record.last_heard()
        silence = () if last is None else (("silence_ms", round((now - last) * 1000)),)
        if info.status is NodeState.LATE:
            effects.append(Log("heartbeat_late", "warning", (("node", record.name), *silence)))
        elif info.status is NodeState.DEAD:
            effects.append(Log("node_dead", "warning", (("node", record.name), *silence)))
        effects.append(ArmTimer("check", self.liveness.next_deadline(now) or now + 1.0))
        return effects
