"""The public face of ccm: the events it publishes, the queries it answers, typed clients,
and the pure per-node core for simulators. Other packages import only this module of ccm.

The local API contract (messages, sockets, `CcmClient`) is defined in
`messaging.membership`, so that daemons which must not import ccm (stonithd) share it; it
is re-exported here. Sockets (one node, inside its state directory):
- ``ipc://<state_dir>/ccm.pub``: `MembershipChanged` events, topic `MEMBERSHIP_TOPIC`,
  on every new view (and quorum change) and repeated every 2 s.
- ``ipc://<state_dir>/ccm.ctl``: `QueryMembership` -> `MembershipStatus`, and Ping.

Simulators drive `CcmNode` with `PeerStatusChanged` / `PeerMessageReceived` /
`TimerFired` events and carry its protocol messages as bytes with `protocol_to_wire` /
`protocol_from_wire` (a `messaging.envelope` event frame).
"""

from __future__ import annotations

from messaging.membership import (
    API,
    MEMBERSHIP_TOPIC,
    AsyncCcmClient,
    CcmClient,
    MembershipChanged,
    MembershipStatus,
    NodeInfo,
    QueryMembership,
    ctl_address,
    pub_address,
)

from .config import load as load_config
from .core import PeerMessageReceived, PeerStatusChanged, Timing, View
from .node import VIEW_ID_FILE, CcmNode
from .protocol import CHANNEL
from .protocol import from_wire as protocol_from_wire
from .protocol import to_wire as protocol_to_wire
from .quorum import QuorumSettings, QuorumState

__all__ = [
    "API",
    "CHANNEL",
    "MEMBERSHIP_TOPIC",
    "VIEW_ID_FILE",
    "AsyncCcmClient",
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
    "load_config",
    "protocol_from_wire",
    "protocol_to_wire",
    "pub_address",
]
