"""Fencers talking over the heartbeat layer, with the peer set taken from ccm.

`HeartbeatPeers` is stonithd's `PeerTransport` when the daemon runs under the launcher:

* sending and receiving: `messaging.peer_channel.PeerChannel` on channel "stonith" (frames
  are `stonithd.api.peer_frame`s, in order). A node outside the current view is refused at
  once (`send` returns False, the shell logs `peer_unreachable`).
* membership: every view from ccm (`messaging.peer_channel.follow_membership`) and every
  `FencerHello` go
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
from messaging.logs import get_logger
from messaging.peer_channel import PeerChannel, follow_membership
from stonithd.api import FencerHello, open_peer_frame, peer_frame
from stonithd.events import PeersChanged
from stonithd.membership import PeerSet

CHANNEL = "stonith"


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
        self.channel = PeerChannel(state_dir, node, CHANNEL, open_frame=open_peer_frame,
                                   on_message=self._received, log=self.log)
        self._tasks: list[asyncio.Task[None]] = []

    def send(self, node: str, payload: bytes) -> bool:
        if not self.peers.reachable(node):
            return False
        return self.channel.send(Node(node), payload)

    def start(self) -> None:
        """Start the sender, receiver and membership tasks on the running loop."""
        self._tasks = [asyncio.ensure_future(c) for c in (
            self.channel.sender(), self.channel.receiver(),
            follow_membership(self.state_dir, self.view))]

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    def _received(self, sender: str, message: Any) -> None:
        if isinstance(message, FencerHello):
            self.hello(sender, message)
        else:
            self.on_message(sender, message)

    def view(self, view_id: int, members: tuple[str, ...]) -> None:
        if view_id == self.peers.view_id:
            return
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
        self.channel.send(destination, peer_frame(FencerHello(self.node, answer)))

    def _changed(self, change: PeersChanged | None) -> None:
        if change is not None:
            self.log.info("fencer_peers", view_id=self.peers.view_id, peers=list(change.peers))
            self.on_peers(change)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            self.channel.close()


__all__ = ["CHANNEL", "HeartbeatPeers", "heartbeat_available"]
