"""The wire form of the messages controllers exchange (election, join, actions, results).

msgpack ``[WIRE_VERSION, [<class name>, [fields...]]]`` through the shared typed codec
(`messaging.codec`), which checks every field against its type hint: an unknown type, a
wrong version or a malformed body raises `RemoteProtocolError` and is never half-decoded.
Only peer messages travel; events and effects stay inside a node.
"""

from __future__ import annotations

from typing import Any

from crmd.messages import (
    ActionResult,
    ControllerAlive,
    ControllerStarted,
    DcClaim,
    ExecuteClusterAction,
    ExecuteResourceAction,
    JoinAckNack,
    JoinAnnounce,
    JoinConfirm,
    JoinOffer,
    JoinRequest,
    LrmdLost,
    NoVote,
    ShutdownRequested,
    StatusAnswer,
    StatusQuery,
    Vote,
)
from messaging.codec import Registry, pack, unpack
from messaging.errors import LocalProtocolError, RemoteProtocolError

WIRE_VERSION = 1
PEER_MESSAGES: tuple[type, ...] = (
    Vote, NoVote, DcClaim, ControllerStarted, JoinAnnounce, JoinOffer, JoinRequest,
    JoinAckNack, JoinConfirm, ExecuteResourceAction, ExecuteClusterAction, ActionResult,
    ShutdownRequested, ControllerAlive, StatusQuery, StatusAnswer, LrmdLost)

_REGISTRY = Registry("crmd")
for _cls in PEER_MESSAGES:
    _REGISTRY.register(_cls.__name__)(_cls)


def encode(message: Any) -> bytes:
    """The wire bytes of one peer message.

    Raises:
        TypeError: `message` is not a crmd peer message.
    """
    try:
        return pack([WIRE_VERSION, _REGISTRY.to_wire(message)])
    except LocalProtocolError as error:
        raise TypeError(f"{type(message).__name__} is not a crmd peer message") from error


def decode(data: bytes) -> Any:
    """A peer message from wire bytes, every field checked.

    Raises:
        RemoteProtocolError: not msgpack, another version, unknown type or bad fields.
    """
    envelope = unpack(data)
    if not isinstance(envelope, list) or len(envelope) != 2 or envelope[0] != WIRE_VERSION:
        raise RemoteProtocolError("crmd message without a supported version")
    return _REGISTRY.from_wire(envelope[1])
