"""Fencers talking over the heartbeat layer, with the peer set taken from ccm.

`HeartbeatPeers` is stonithd's `PeerTransport` when the daemon runs under the launcher:

* sending: each peer message (a `stonithd.api.peer_frame`) becomes a heartbeat
  `SendMessage(node, "stonith", payload)`; one task sends them in order, so a slow control
  socket never blocks the fencer. A node outside the current view is refused at once
  (`send` returns False, the shell logs `peer_unreachable`).
* receiving: `MessageReceived` on channel "stonith" from heartbeat's PUB socket is decoded
  and handed to the shell as a peer message (heartbeat delivers reliably and in order).
* membership: every `MembershipChanged` from ccm (`messaging.membership`, the contract ccm
  shares, since stonithd does not import ccm) and every `FencerHello` go
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

from messaging.effects import ALL_NODES, AllNodes, Node
from messaging.errors import HAError, RemoteProtocolError
from messaging.heartbeat.api import AsyncHeartbeatClient, MessageReceived
from messaging.logs import get_logger
from messaging.membership import AsyncCcmClient, MembershipChanged
from stonithd.api import FencerHello, open_peer_frame, peer_frame
from stonithd.core import PeersChanged
from stonithd.membership import PeerSet

CHANNEL = "stonith"
SEND_QUEUE = 10000


def heartbeat_available(state_dir: Path) -> bool:
    """Whether heartbeat's sockets exist in `state_dir` (the launcher started it)."""
    return (state_dir / "heartbeat.ctl").exists() and (state_dir / "heartbeat.pub").exists()


class HeartbeatPeers:
    """PeerTransport over heartbeat channel "stonith", peers from ccm membership."""

    def __init__(self, state_dir: Path, node: str) -> None:
        self.state_dir = state_dir
        self.node = node
        self.peers = PeerSet(node)
        self.log = get_logger(daemon="stonithd", node=node)
        self.on_message: Callable[[str, Any], None] = lambda _sender, _message: None
        self.on_peers: Callable[[PeersChanged], None] = lambda _event: None
        self._queue: asyncio.Queue[tuple[Node | AllNodes, bytes]] = asyncio.Queue(SEND_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self._client = AsyncHeartbeatClient(state_dir)

    def send(self, node: str, payload: bytes) -> bool:
        if not self.peers.reachable(node):
            return False
        try:
            self._queue.put_nowait((Node(node), payload))
        except asyncio.QueueFull:
            return False
        return True

    def start(self) -> None:
        """Start the sender, receiver and membership tasks on the running loop."""
        self._tasks = [asyncio.ensure_future(c) for c in
                       (self._sender(), self._receiver(), self._membership())]

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    async def _sender(self) -> None:
        while True:
            destination, payload = await self._queue.get()
            try:
                await self._client.send_message(destination, CHANNEL, payload)
            except HAError as error:
                self.log.warning("heartbeat_send_failed", peer=str(destination),
                                 error=str(error))

    async def _receiver(self) -> None:
        subscriber = AsyncHeartbeatClient(self.state_dir).subscribe((b"message",))
        try:
            while True:
                event = await subscriber.recv()
                if not isinstance(event, MessageReceived) or event.channel != CHANNEL \
                        or event.src == self.node:
                    continue
                try:
                    message = open_peer_frame(event.payload)
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
        ccm = AsyncCcmClient(self.state_dir)
        subscriber = ccm.subscribe()
        try:
            await self._initial_view(ccm)
            while True:
                event = await subscriber.recv()
                if isinstance(event, MembershipChanged):
                    self.view(event.view_id, event.members)
        finally:
            subscriber.close()
            ccm.close()

    async def _initial_view(self, ccm: AsyncCcmClient, attempts: int = 20) -> None:
        """Ask ccm for the current view (it republishes only every 2 s); give up quietly
        after `attempts` tries: the published views are enough."""
        for _ in range(attempts):
            try:
                status = await ccm.query()
            except HAError:
                await asyncio.sleep(0.1)
                continue
            if status.view_id:
                self.view(status.view_id, tuple(status.members))
                return
            await asyncio.sleep(0.1)

    def view(self, view_id: int, members: tuple[str, ...]) -> None:
        self._changed(self.peers.on_view(view_id, members, self.clock()))
        if self.peers.joined - {self.node}:
            self._announce(ALL_NODES, answer=True)

    def hello(self, sender: str, message: FencerHello) -> None:
        if message.node != sender:
            self.log.warning("bad_fencer_hello", peer=sender, claimed=message.node)
            return
        self._changed(self.peers.on_hello(sender, self.clock()))
        if message.answer and self.peers.should_answer(sender):
            self._announce(Node(sender), answer=False)

    def _announce(self, destination: Node | AllNodes, answer: bool) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((destination, peer_frame(FencerHello(self.node, answer))))

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
