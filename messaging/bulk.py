"""Signed bulk transfers between daemons of the cluster, beside heartbeat (I/O shell).

Heartbeat carries every message reliably and in order, but through its fragmented UDP
stream, which suits small control messages, not megabytes (a whole CIB). A daemon hands a
large frame to a `BulkServer` as an *offer* and sends only the offer's description
(`Offer.endpoints`, token, size, SHA-256) over heartbeat; the receiver calls `fetch`, which
connects over TCP to the sender's cluster addresses and reads the frame. Which frames go
which way is the daemon's choice; the cores never know.

Wire (integers big-endian; the key is the authkeys signing key, `messaging.auth`):

- request: MAGIC, key index (1 byte), nonce (16 random bytes), token (16), then the key's
  digest of everything before it;
- reply: MAGIC, status (1 byte: 0 sent, 1 unknown or expired token), length (8), payload,
  then the same key's digest of (nonce, token, status, length, payload).

Invariants: a frame goes only to a requester proving the cluster key, and the reply is
signed over the requester's fresh nonce, so it cannot be replayed; a receiver reads no
more than the offered size, which must be within its `max_frame`, and accepts the payload
only when signature and SHA-256 match the offer; every failure is a `TransportError`
(cannot connect, timeout, connection cut) or `RemoteProtocolError` (bad magic, bad
signature, wrong size or digest) naming the peer. The server keeps at most `MAX_OFFERS`
offers, each for `OFFER_TTL` seconds, so an unfetched frame does not pin memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from messaging.auth import AuthKey, KeyRing
from messaging.errors import PeerTimeout, RemoteProtocolError, TransportError

TYPE_CHECKING = False  # typing.TYPE_CHECKING; asyncio loads when a transfer happens, not when
if TYPE_CHECKING:       # a tool imports `Offer` with the cib's protocol
    import asyncio

MAGIC = b"HCBULK1\n"
NONCE_SIZE = 16
TOKEN_SIZE = 16
OFFER_TTL = 60.0
MAX_OFFERS = 32
SENT, UNKNOWN = 0, 1
FETCH_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Offer:
    """What the receiver needs to fetch a frame (travels over heartbeat)."""

    endpoints: tuple[str, ...]  # "address:port" of the sender, tried in order
    token: bytes
    size: int
    sha256: bytes


def _request(key: AuthKey, nonce: bytes, token: bytes) -> bytes:
    head = MAGIC + bytes([key.index]) + nonce + token
    return head + key.digest(head)


def _reply_digest(key: AuthKey, nonce: bytes, token: bytes, status: int, payload: bytes) -> bytes:
    return key.digest(nonce + token + bytes([status]) + len(payload).to_bytes(8, "big")
                      + payload)


def read_request(data: bytes, keyring: KeyRing) -> tuple[AuthKey, bytes, bytes]:
    """(key, nonce, token) of a request; RemoteProtocolError when malformed or unsigned."""
    head_size = len(MAGIC) + 1 + NONCE_SIZE + TOKEN_SIZE
    if len(data) < head_size or not data.startswith(MAGIC):
        raise RemoteProtocolError("bulk request: bad magic or too short")
    key = keyring.get(data[len(MAGIC)])
    if key is None or len(data) != head_size + key.digest_size:
        raise RemoteProtocolError(f"bulk request: unknown key index {data[len(MAGIC)]}")
    if not key.verify(data[:head_size], data[head_size:]):
        raise RemoteProtocolError("bulk request: bad signature (not our cluster's key)")
    nonce = data[len(MAGIC) + 1:len(MAGIC) + 1 + NONCE_SIZE]
    return key, nonce, data[head_size - TOKEN_SIZE:head_size]


class BulkServer:
    """Keeps offered frames and hands each to peers that ask with the cluster key."""

    def __init__(self, keyring: KeyRing, addresses: Iterable[str], log: Any = None) -> None:
        self.keyring = keyring
        self.addresses = tuple(addresses)
        self.log = log
        self.endpoints: tuple[str, ...] = ()
        self._offers: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self._servers: list[asyncio.Server] = []

    async def start(self) -> None:
        """Listen on every cluster address, one port for all (the first address's)."""
        import asyncio

        port, endpoints = 0, []
        for address in self.addresses:
            try:
                server = await asyncio.start_server(self._serve, address, port)
            except OSError as error:
                if self.log is not None:
                    self.log.warning("bulk_bind_failed", address=address, error=str(error))
                continue
            port = server.sockets[0].getsockname()[1]
            self._servers.append(server)
            endpoints.append(f"{address}:{port}")
        self.endpoints = tuple(endpoints)

    def offer(self, payload: bytes) -> Offer:
        """Keep `payload` for fetching; the `Offer` to send the receiver."""
        now = time.monotonic()
        while self._offers and (len(self._offers) >= MAX_OFFERS
                                or next(iter(self._offers.values()))[0] < now - OFFER_TTL):
            self._offers.popitem(last=False)
        token = os.urandom(TOKEN_SIZE)
        self._offers[token] = (now, payload)
        return Offer(self.endpoints, token, len(payload), hashlib.sha256(payload).digest())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncio

        peer = writer.get_extra_info("peername")
        try:
            size = len(MAGIC) + 1 + NONCE_SIZE + TOKEN_SIZE
            head = await asyncio.wait_for(reader.readexactly(size), FETCH_TIMEOUT)
            key = self.keyring.get(head[len(MAGIC)]) if len(head) > len(MAGIC) else None
            tail = await asyncio.wait_for(reader.readexactly(key.digest_size if key else 0),
                                          FETCH_TIMEOUT)
            key, nonce, token = read_request(head + tail, self.keyring)
            entry = self._offers.get(token)
            status, payload = (SENT, entry[1]) if entry is not None else (UNKNOWN, b"")
            writer.write(MAGIC + bytes([status]) + len(payload).to_bytes(8, "big"))
            writer.write(payload)
            writer.write(_reply_digest(key, nonce, token, status, payload))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, TimeoutError, RemoteProtocolError) as error:
            if self.log is not None:
                self.log.warning("bulk_request_refused", peer=str(peer), error=str(error))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def close(self) -> None:
        for server in self._servers:
            server.close()
        self._offers.clear()


async def fetch(offer: Offer, keyring: KeyRing, max_frame: int,
                timeout: float = FETCH_TIMEOUT) -> bytes:
    """The frame `offer` describes, from the first endpoint that answers.

    Raises:
        RemoteProtocolError: the offer exceeds `max_frame`, or a reply is malformed,
            unsigned, of another size or digest.
        TransportError: no endpoint could be reached or the transfer broke off.
    """
    import asyncio

    if offer.size > max_frame:
        raise RemoteProtocolError(f"bulk offer of {offer.size} bytes exceeds the "
                                  f"{max_frame}-byte limit")
    failures = []
    for endpoint in offer.endpoints:
        try:
            return await asyncio.wait_for(_fetch_one(endpoint, offer, keyring), timeout)
        except TimeoutError:
            failures.append(f"{endpoint}: no answer within {timeout}s")
        except (OSError, asyncio.IncompleteReadError, TransportError) as error:
            failures.append(f"{endpoint}: {error}")
    if not offer.endpoints:
        failures.append("the offer names no endpoint")
    error_type = PeerTimeout if failures and all("no answer" in f for f in failures) \
        else TransportError
    raise error_type("bulk fetch failed: " + "; ".join(failures))


async def _fetch_one(endpoint: str, offer: Offer, keyring: KeyRing) -> bytes:
    import asyncio

    host, _, port = endpoint.rpartition(":")
    key = keyring.signing_key()
    nonce = os.urandom(NONCE_SIZE)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(_request(key, nonce, offer.token))
        await writer.drain()
        head = await reader.readexactly(len(MAGIC) + 9)
        if not head.startswith(MAGIC):
            raise RemoteProtocolError(f"bulk reply from {endpoint}: bad magic")
        status, size = head[len(MAGIC)], int.from_bytes(head[len(MAGIC) + 1:], "big")
        if status != SENT:
            raise TransportError(f"{endpoint} no longer holds the offered frame")
        if size != offer.size:
            raise RemoteProtocolError(f"bulk reply from {endpoint}: {size} bytes, "
                                      f"{offer.size} offered")
        payload = await reader.readexactly(size)
        signature = await reader.readexactly(key.digest_size)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not key.verify(nonce + offer.token + bytes([status]) + size.to_bytes(8, "big")
                      + payload, signature):
        raise RemoteProtocolError(f"bulk reply from {endpoint}: bad signature")
    if hashlib.sha256(payload).digest() != offer.sha256:
        raise RemoteProtocolError(f"bulk reply from {endpoint}: SHA-256 differs from the offer")
    return payload


def cluster_addresses(config_path: str) -> list[str]:
    """This node's addresses on the cluster's links, from ha.cf: ucast lines naming a local
    address, and the address of each bcast/mcast interface (empty when none is known)."""
    from messaging.config import load_ha_cf
    from messaging.heartbeat.netio import interface_address, is_local_address

    config = load_ha_cf(config_path)
    found: list[str] = []
    for medium in config.media:
        if medium.kind == "ucast":
            candidate = medium.address if is_local_address(medium.address) else None
        else:
            candidate = interface_address(medium.interface)
        if candidate and candidate not in found:
            found.append(candidate)
    return found


__all__ = ["MAX_OFFERS", "OFFER_TTL", "BulkServer", "Offer", "cluster_addresses", "fetch",
           "read_request"]
