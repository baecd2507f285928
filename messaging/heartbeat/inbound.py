"""What the heartbeat core does with an accepted packet of a peer's message stream:
Status and Data feed the sender's `InStream` and complete messages are delivered up in
order; an open gap is re-asked (RetransmitRequest, re-sent on the "rexmit" timer while any
gap is open); a peer's RetransmitRequest is answered from this node's `OutStream` (or
RetransmitGone past what it still holds); Leaving marks the sender gone.

Functions of the `HeartbeatCore` they serve; pure like it (time in events, effects out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messaging.effects import ArmTimer, Log
from messaging.heartbeat.api import NodeState
from messaging.heartbeat.events import Effect
from messaging.heartbeat.peers import Peer
from messaging.heartbeat.stream import InStream, Sent
from messaging.wire import Data, Envelope, RetransmitGone, RetransmitRequest, Status

if TYPE_CHECKING:
    from messaging.heartbeat.core import HeartbeatCore

REXMIT_BATCH = 64  # messages re-sent per request, and the widest gap asked at once


def dispatch(core: HeartbeatCore, envelope: Envelope, peer: Peer, now: float) -> list[Effect]:
    """An accepted stream packet from `peer`: its effects, losses counted."""
    stream = peer.stream
    assert stream is not None
    lost_before, torn_before = stream.lost, stream.torn
    effects = _dispatch_stream(core, envelope, peer, stream, now)
    if stream.lost != lost_before:
        core.counters["messages.lost"] += stream.lost - lost_before
    if stream.torn != torn_before:
        core.counters["messages.torn"] += stream.torn - torn_before
    return effects


def _dispatch_stream(core: HeartbeatCore, envelope: Envelope, peer: Peer, stream: InStream,
                     now: float) -> list[Effect]:
    message = envelope.message
    if isinstance(message, Status):
        if message == peer.last_status:
            # most keepalives repeat the last: the stream only moves forward, so the
            # same news changes nothing (an open gap is asked again by "rexmit")
            core.counters["rx.keepalive_unchanged"] += 1
            return []
        peer.last_status = message
        done = stream.on_status(message.last_mseq, message.first_mseq)
        done += stream.note_skips(message.skips)
    elif isinstance(message, Data):
        done = stream.on_data(Sent(envelope.dst, message)) + stream.note_skips(message.skips)
    elif isinstance(message, RetransmitRequest):
        return _answer_rexmit(core, envelope, peer, message)
    elif isinstance(message, RetransmitGone):
        if envelope.dst != core.settings.node:
            return []
        core.counters["rexmit.gone"] += 1
        done = stream.skip_to(message.first_available)
    else:  # Leaving
        core.liveness.left(envelope.src, now)
        return [Log("node_left", "info", (("node", envelope.src),)), *core._announce(now)]
    effects: list[Effect] = [core._deliver(envelope.src, peer.generation, d) for d in done]
    return effects + _request_gap(core, envelope.src, peer, now)


def _answer_rexmit(core: HeartbeatCore, envelope: Envelope, peer: Peer,
                   request: RetransmitRequest) -> list[Effect]:
    if envelope.dst != core.settings.node or peer.reply_to is None:
        return []
    link, addr = peer.reply_to
    effects: list[Effect] = []
    if request.first < core.out.first_available:
        gone = core._seal(envelope.src, RetransmitGone(core.out.first_available))
        effects.append(core._tx(link, addr, gone))
    for item in core.out.resend(request.first, request.last, REXMIT_BATCH):
        core.counters["rexmit.sent"] += 1
        effects.append(core._tx(link, addr, core._seal(item.dst, item.data)))
    return effects


def _request_gap(core: HeartbeatCore, node: str, peer: Peer, now: float) -> list[Effect]:
    stream = peer.stream
    gap = stream.gap() if stream is not None else None
    if gap is None or stream is None or peer.reply_to is None:
        return []
    effects: list[Effect] = []
    interval = core.settings.rexmit_interval
    if stream.may_request(now, interval):
        stream.requested(now, min(gap[1], gap[0] + REXMIT_BATCH - 1))
        core.counters["rexmit.requested"] += 1
        link, addr = peer.reply_to
        request = core._seal(node, RetransmitRequest(gap[0], gap[1]))
        effects.append(core._tx(link, addr, request))
    if not core._rexmit_armed:
        core._rexmit_armed = True
        effects.append(ArmTimer("rexmit", now + interval))
    return effects


def on_rexmit_timer(core: HeartbeatCore, now: float) -> list[Effect]:
    core._rexmit_armed = False
    effects: list[Effect] = []
    for node, peer in core.peers.items():
        record = core.liveness.nodes.get(node)
        if record is not None and core.liveness.status(record, now) is not NodeState.DEAD:
            effects += _request_gap(core, node, peer, now)
    return effects
