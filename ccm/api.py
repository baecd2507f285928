"""The public face of ccm: the events it publishes, the queries it answers, a typed client,
and the pure per-node core for simulators. Other packages import only this module of ccm.

Sockets (one node, inside its state directory):
- ``ipc://<state_dir>/ccm.pub`` (zmq PUB): one msgpack frame per `MembershipChanged`,
  published on every new view (and every quorum change) and repeated every 2 s, so a late
  subscriber learns the current view quickly.
- ``ipc://<state_dir>/ccm.ctl`` (zmq REP): request `QueryMembership` -> `MembershipStatus`.

Simulators (lab.sim) drive `CcmNode` with `PeerStatusChanged` / `PeerMessageReceived` /
`TimerFired` events and carry its protocol messages with `protocol_to_wire` /
`protocol_from_wire`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zmq

from messaging.errors import PeerTimeout, PeerUnreachable, RemoteProtocolError

from .core import PeerMessageReceived, PeerStatusChanged, Timing, View
from .messages import (
    MembershipChanged,
    MembershipStatus,
    NodeInfo,
    QueryMembership,
    decode,
    encode,
)
from .node import MEMBERSHIP_TOPIC, CcmNode
from .protocol import CHANNEL
from .protocol import from_wire as protocol_from_wire
from .protocol import to_wire as protocol_to_wire
from .quorum import QuorumSettings, QuorumState

__all__ = [
    "CHANNEL",
    "MEMBERSHIP_TOPIC",
    "CcmClient",
    "CcmNode",
    "MembershipChanged",
    "MembershipStatus",
    "NodeInfo",
    "PeerMessageReceived",
    "PeerStatusChanged",
    "QueryMembership",
    "QuorumSettings",
    "QuorumState",
    "Timing",
    "View",
    "ctl_address",
    "decode",
    "encode",
    "protocol_from_wire",
    "protocol_to_wire",
    "pub_address",
]


def pub_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / 'ccm.pub'}"


def ctl_address(state_dir: str | Path) -> str:
    return f"ipc://{Path(state_dir) / 'ccm.ctl'}"


class CcmClient:
    """Typed client of one node's ccm (query and subscribe)."""

    def __init__(self, state_dir: str | Path, context: zmq.Context[Any] | None = None):
        self.state_dir = Path(state_dir)
        self._context = context or zmq.Context.instance()

    def query(self, timeout: float = 2.0) -> MembershipStatus:
        """Ask for the current status; raises `PeerUnreachable`/`PeerTimeout`."""
        if not (self.state_dir / "ccm.ctl").exists():
            raise PeerUnreachable(f"ccm is not running (no socket in {self.state_dir})")
        sock = self._context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(ctl_address(self.state_dir))
            sock.send(encode(QueryMembership()))
            if not sock.poll(int(timeout * 1000)):
                raise PeerTimeout(f"ccm in {self.state_dir} did not answer within {timeout}s")
            reply = decode(sock.recv())
        finally:
            sock.close()
        if not isinstance(reply, MembershipStatus):
            raise RemoteProtocolError(f"ccm answered a query with {type(reply).__name__}")
        return reply

    def subscribe(self, timeout: float | None = None) -> Iterator[MembershipChanged]:
        """Yield published changes; stops after `timeout` seconds without one (None: never)."""
        sock = self._context.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(pub_address(self.state_dir))
        try:
            while sock.poll(None if timeout is None else int(timeout * 1000)):
                event = decode(sock.recv())
                if isinstance(event, MembershipChanged):
                    yield event
        finally:
            sock.close()
