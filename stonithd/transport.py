"""How one fencer reaches the others: the `PeerTransport` interface and its zmq form.

A peer message travels as `stonithd.api.peer_frame` bytes (an event frame of stonithd's
protocol). `ZmqPeers` (``--peer NAME=ENDPOINT``) sends each one to the other fencer's
request socket as a `PeerDelivery` request through the one IPC client, one client per
peer, so frames to one peer leave in order and a dead peer only costs a logged timeout.
`NoPeers` is the transport of a fencer alone (stonith_admin --cib). Under the launcher,
`stonithd.peers_heartbeat.HeartbeatPeers` carries the same bytes over heartbeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from messaging.client import AsyncClient
from messaging.errors import HAError
from stonithd.api import API, PeerDelivery

PEER_TIMEOUT = 10.0


class PeerTransport(Protocol):
    """How this fencer reaches the others."""

    def send(self, node: str, payload: bytes) -> bool: ...

    def close(self) -> None: ...


class NoPeers:
    """A transport for a fencer alone (stonith_admin --cib)."""

    def send(self, node: str, payload: bytes) -> bool:
        return False

    def close(self) -> None:
        return None


class ZmqPeers:
    """One IPC client per peer endpoint (tcp:// or ipc://)."""

    def __init__(self, node: str, peers: Mapping[str, str], log: Any) -> None:
        self.node = node
        self.log = log
        self.clients = {name: AsyncClient(endpoint, API, timeout=PEER_TIMEOUT)
                        for name, endpoint in peers.items()}
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, node: str, payload: bytes) -> bool:
        client = self.clients.get(node)
        if client is None:
            return False
        task = asyncio.get_running_loop().create_task(self._deliver(node, client, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _deliver(self, node: str, client: AsyncClient, payload: bytes) -> None:
        try:
            await client.request(PeerDelivery(self.node, payload))
        except HAError as error:  # the core's timers notice a peer that never answers
            self.log.warning("peer_delivery_failed", peer=node, error=str(error))

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for client in self.clients.values():
            client.close()


__all__ = ["NoPeers", "PeerTransport", "ZmqPeers"]
