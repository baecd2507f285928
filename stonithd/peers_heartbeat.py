"""Fencers talking over the heartbeat layer, with the peer set taken from ccm.

`HeartbeatPeers` is stonithd's `PeerTransport` when the daemon runs under the launcher:

* sending: each peer message (stonithd.api's msgpack envelope) becomes a heartbeat
  `SendMessage(node, "stonith", payload)`; one task sends them in order, so a slow control
  socket never blocks the fencer. A node outside the current view is refused at once
  (`send` returns False, the shell logs `peer_unreachable`).
* receiving: `MessageReceived` on channel "stonith" from heartbeat's PUB socket is decoded
  and handed to the shell as a peer message (heartbeat delivers reliably and in order).
* membership: every `MembershipChanged` from ccm's PUB socket and every `FencerHello` go
  through the pure `PeerSet` (peers = view members whose fencer said hello); a real change
  reaches the fencer core as `PeersChanged`. A hello is broadcast when the view gains
  members (including our first view) and answered when it asks for an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from ccm.api import (
    MembershipChanged,
    MembershipStatus,
    QueryMembership,
    ctl_address,
    pub_address,
)
from ccm.api import decode as ccm_decode
from ccm.api import encode as ccm_encode
from messaging.errors import HAError, RemoteProtocolError
from messaging.heartbeat.api import AsyncHeartbeatClient, MessageReceived
from messaging.logs import get_logger
from stonithd.api import FencerHello, decode, encode
from stonithd.core import PeersChanged
from stonithd.membership import PeerSet

CHANNEL = "stonith"
SEND_QUEUE = 10000


def heartbeat_available(state_dir: Path) -> bool:
    """Whether heartbeat's sockets exist in `state_dir` (the launcher started it)."""
    return (state_dir / "heartbeat.ctl").exists() and (state_dir / "heartbeat.pub").exists()


class HeartbeatPeers:
    """PeerTransport over heartbeat channel "stonith", peers from ccm membership."""

    def __init__(self, state_dir: Path, node: str, clock: Callable[[], float]) -> None:
        self.state_dir = state_dir
        self.node = node
        self.clock = clock
        self.peers = PeerSet(node)
        self.log = get_logger(daemon="stonithd", node=node)
        self.on_message: Callable[[str, Any], None] = lambda _sender, _message: None
        self.on_peers: Callable[[PeersChanged], None] = lambda _event: None
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(SEND_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self._client = AsyncHeartbeatClient(state_dir)

    def send(self, node: str, payload: bytes) -> bool:
        if not self.peers.reachable(node):
            return False
        try:
            self._queue.put_nowait((node, payload))
        except asyncio.QueueFull:
            return False
        return True

    def start(self) -> None:
        """Start the sender, receiver and membership tasks on the running loop."""
        self._tasks = [asyncio.ensure_future(c) for c in
                       (self._sender(), self._receiver(), self._membership())]

    async def _sender(self) -> None:
        while True:
            node, payload = await self._queue.get()
            try:
                ack = await self._client.send_message(node, CHANNEL, payload)
            except HAError as error:
                self.log.warning("heartbeat_send_failed", peer=node, error=str(error))
                continue
            if not ack.ok:
                self.log.warning("heartbeat_refused", peer=node, error=ack.error)

    async def _receiver(self) -> None:
        subscriber = AsyncHeartbeatClient(self.state_dir).subscribe((b"message",))
        try:
            while True:
                event = await subscriber.recv()
                if not isinstance(event, MessageReceived) or event.channel != CHANNEL \
                        or event.src == self.node:
                    continue
                try:
                    message = decode(event.payload)
                except RemoteProtocolError as error:
                    self.log.warning("bad_peer_message", peer=event.src, error=str(error))
                    continue
                if isinstance(message, FencerHello):
                    self.hello(event.src, message)
                else:
                    self.on_message(event.src, message)
        finally:
            subscriber.close()

    async def _membership(self) -> None:
        socket = zmq.asyncio.Context.instance().socket(zmq.SUB)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.SUBSCRIBE, b"")
        socket.connect(pub_address(self.state_dir))
        try:
            await self._initial_view()
            while True:
                try:
                    event = ccm_decode(await socket.recv())
                except RemoteProtocolError:
                    continue
                if isinstance(event, MembershipChanged):
                    self.view(event.view_id, event.members)
        finally:
            socket.close(0)

    async def _initial_view(self, attempts: int = 20) -> None:
        """Ask ccm for the current view (it republishes only every 2 s); give up quietly
        after `attempts` tries: the published views are enough."""
        for _ in range(attempts):
            request = zmq.asyncio.Context.instance().socket(zmq.REQ)
            request.setsockopt(zmq.LINGER, 0)
            try:
                request.connect(ctl_address(self.state_dir))
                await request.send(ccm_encode(QueryMembership()))
                if await request.poll(500):
                    status = ccm_decode(await request.recv())
                    if isinstance(status, MembershipStatus) and status.view_id:
                        self.view(status.view_id, tuple(status.members))
                        return
            except RemoteProtocolError:
                pass
            finally:
                request.close(0)
            await asyncio.sleep(0.1)

    def view(self, view_id: int, members: tuple[str, ...]) -> None:
        self._changed(self.peers.on_view(view_id, members, self.clock()))
        if self.peers.joined - {self.node}:
            self._announce("*", answer=True)

    def hello(self, sender: str, message: FencerHello) -> None:
        if message.node != sender:
            self.log.warning("bad_fencer_hello", peer=sender, claimed=message.node)
            return
        self._changed(self.peers.on_hello(sender, self.clock()))
        if message.answer and self.peers.should_answer(sender):
            self._announce(sender, answer=False)

    def _announce(self, destination: str, answer: bool) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((destination, encode(FencerHello(self.node, answer))))

    def _changed(self, change: PeersChanged | None) -> None:
        if change is not None:
            self.log.info("fencer_peers", view_id=self.peers.view_id, peers=list(change.peers))
            self.on_peers(change)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            self._client.close()


__all__ = ["CHANNEL", "HeartbeatPeers", "heartbeat_available"]
