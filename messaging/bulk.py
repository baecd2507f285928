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
signature, wrong size or digest) naming the peer. An offer is for one receiver (a daemon
offers a frame per destination): sent whole once, it is forgotten; the server keeps at most
`MAX_OFFERS` offers, each for `OFFER_TTL` seconds, so an unfetched frame does not pin memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from messaging.auth import AuthKey, KeyRing
from messaging.errors import PeerTimeout, RemoteProtocolError, TransportError

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
    """Keeps offered frames and hands each to peers that ask with the cluster key.

    The transfers run on threads of their own with blocking sockets, never on the daemon's
    event loop: a master cib's loop busy with writes to a 2 MB CIB (hundreds of ms of CPU
    each, seconds at load 30) held each accept, read and 256 KB send of a joiner's fetch
    behind a whole write, and a 2 MB fetch took 9.8 s at load 35. A thread blocked in the
    kernel holds no GIL, so the loop's work only delays it between system calls."""

    def __init__(self, keyring: KeyRing, addresses: Iterable[str], log: Any = None) -> None:
        self.keyring = keyring
        self.addresses = tuple(addresses)
        self.log = log
        self.endpoints: tuple[str, ...] = ()
        self._offers: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()  # offers are made on the loop, read on the threads
        self._listeners: list[socket.socket] = []

    async def start(self) -> None:
        """Listen on every cluster address, one port for all (the first address's), each
        on a thread of its own."""
        port, endpoints = 0, []
        for address in self.addresses:
            try:
                listener = socket.create_server((address, port), backlog=MAX_OFFERS)
            except OSError as error:
                if self.log is not None:
                    self.log.warning("bulk_bind_failed", address=address, error=str(error))
                continue
            port = listener.getsockname()[1]
            self._listeners.append(listener)
            endpoints.append(f"{address}:{port}")
            threading.Thread(target=self._accept, args=(listener,), name="bulk-accept",
                             daemon=True).start()
        self.endpoints = tuple(endpoints)

    def offer(self, payload: bytes) -> Offer:
        """Keep `payload` for fetching; the `Offer` to send the receiver."""
        now = time.monotonic()
        token = os.urandom(TOKEN_SIZE)
        with self._lock:
            while self._offers and (len(self._offers) >= MAX_OFFERS
                                    or next(iter(self._offers.values()))[0] < now - OFFER_TTL):
                self._offers.popitem(last=False)
            self._offers[token] = (now, payload)
        return Offer(self.endpoints, token, len(payload), hashlib.sha256(payload).digest())

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, peer = listener.accept()
            except OSError:  # closed (`close`)
                return
            threading.Thread(target=self._serve, args=(connection, peer), name="bulk-send",
                             daemon=True).start()

    def _serve(self, connection: socket.socket, peer: object) -> None:
        started = time.monotonic()
        with connection:
            try:
                connection.settimeout(FETCH_TIMEOUT)
                key, nonce, token = read_request(_read_request(connection, self.keyring),
                                                 self.keyring)
                with self._lock:
                    entry = self._offers.get(token)
                status, payload = (SENT, entry[1]) if entry is not None else (UNKNOWN, b"")
                connection.sendall(MAGIC + bytes([status]) + len(payload).to_bytes(8, "big")
                                   + payload + _reply_digest(key, nonce, token, status, payload))
                with self._lock:  # each offer has one receiver: its frame is not kept
                    self._offers.pop(token, None)  # for the TTL once sent whole
            except (OSError, RemoteProtocolError) as error:
                if self.log is not None:
                    self.log.warning("bulk_request_refused", peer=str(peer), error=str(error))
                return
        if self.log is not None and status == SENT:
            self.log.info("bulk_served", peer=str(peer), size=len(payload),
                          ms=round((time.monotonic() - started) * 1e3, 1))

    def close(self) -> None:
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
            listener.close()
        self._listeners.clear()
        with self._lock:
            self._offers.clear()


def _read_request(connection: socket.socket, keyring: KeyRing) -> bytes:
    """A request's bytes: its fixed head, then the digest of the key it names."""
    head = _read_exactly(connection, len(MAGIC) + 1 + NONCE_SIZE + TOKEN_SIZE)
    key = keyring.get(head[len(MAGIC)])
    return head + _read_exactly(connection, key.digest_size if key is not None else 0)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    """`size` bytes into one buffer (recv_into: a 2 MB payload is not copied per chunk);
    TransportError when the peer closes first."""
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        count = connection.recv_into(view[got:])
        if count == 0:
            raise TransportError(f"the connection closed after {got} of {size} bytes")
        got += count
    return bytes(buffer)


async def fetch(offer: Offer, keyring: KeyRing, max_frame: int,
                timeout: float = FETCH_TIMEOUT) -> bytes:
    """The frame `offer` describes, from the first endpoint that answers (on a thread:
    the transfer does not wait for the caller's event loop, as `BulkServer`'s).

    Raises:
        RemoteProtocolError: the offer exceeds `max_frame`, or a reply is malformed,
            unsigned, of another size or digest.
        TransportError: no endpoint could be reached or the transfer broke off.
    """
    import asyncio

    if offer.size > max_frame:
        raise RemoteProtocolError(f"bulk offer of {offer.size} bytes exceeds the "
                                  f"{max_frame}-byte limit")
    return await asyncio.to_thread(_fetch_any, offer, keyring, timeout)


def _fetch_any(offer: Offer, keyring: KeyRing, timeout: float) -> bytes:
    failures = []
    for endpoint in offer.endpoints:
        try:
            return _fetch_one(endpoint, offer, keyring, timeout)
        except TimeoutError:
            failures.append(f"{endpoint}: no answer within {timeout}s")
        except (OSError, TransportError) as error:
            failures.append(f"{endpoint}: {error}")
    if not offer.endpoints:
        failures.append("the offer names no endpoint")
    error_type = PeerTimeout if failures and all("no answer" in f for f in failures) \
        else TransportError
    raise error_type("bulk fetch failed: " + "; ".join(failures))


def _fetch_one(endpoint: str, offer: Offer, keyring: KeyRing, timeout: float) -> bytes:
    host, _, port = endpoint.rpartition(":")
    key = keyring.signing_key()
    nonce = os.urandom(NONCE_SIZE)
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(_request(key, nonce, offer.token))
        head = _read_exactly(connection, len(MAGIC) + 9)
        if not head.startswith(MAGIC):
            raise RemoteProtocolError(f"bulk reply from {endpoint}: bad magic")
        status, size = head[len(MAGIC)], int.from_bytes(head[len(MAGIC) + 1:], "big")
        if status != SENT:
            raise TransportError(f"{endpoint} no longer holds the offered frame")
        if size != offer.size:
            raise RemoteProtocolError(f"bulk reply from {endpoint}: {size} bytes, "
                                      f"{offer.size} offered")
        payload = _read_exactly(connection, size)
        signature = _read_exactly(connection, key.digest_size)
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
