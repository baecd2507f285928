"""The bulk path (messaging.bulk) over real TCP on 127.0.0.1: a frame reaches a key holder
intact, without waiting for the offering daemon's event loop; a wrong key, an unknown token,
an oversize offer or a tampered reply fail with a clear error of the HAError tree."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path

import pytest

from messaging.auth import AuthKey, KeyRing
from messaging.bulk import BulkServer, Offer, cluster_addresses, fetch, read_request
from messaging.errors import RemoteProtocolError, TransportError

KEYS = KeyRing(1, (AuthKey(1, "hmac-sha256", b"cluster secret"),))
OTHER = KeyRing(1, (AuthKey(1, "hmac-sha256", b"another cluster"),))
FRAME = bytes(range(256)) * 8192  # 2 MiB


def _run(body):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        server = BulkServer(KEYS, ["127.0.0.1"])
        await server.start()
        try:
            return await body(server)
        finally:
            server.close()
    return asyncio.run(main())


def test_a_key_holder_fetches_the_offered_frame_intact() -> None:
    async def body(server: BulkServer) -> bytes:
        offer = server.offer(FRAME)
        assert offer.size == len(FRAME) and offer.endpoints[0].startswith("127.0.0.1:")
        return await fetch(offer, KEYS, 4 << 20)

    assert _run(body) == FRAME


def test_a_fetch_completes_while_the_servers_event_loop_is_busy() -> None:
    """The offering daemon's loop may be busy for seconds (a master cib applying writes to a
    2 MB CIB under load): the transfer must not wait for it."""
    async def body(server: BulkServer) -> list[bytes]:
        offer = server.offer(FRAME)
        fetched: list[bytes] = []
        done = threading.Event()

        def receiver() -> None:
            fetched.append(asyncio.run(fetch(offer, KEYS, 4 << 20, timeout=5.0)))
            done.set()

        threading.Thread(target=receiver, daemon=True).start()
        assert done.wait(5.0), "the fetch waited for the server's event loop"  # loop held
        return fetched

    assert _run(body) == [FRAME]


def test_a_requester_without_the_key_gets_nothing() -> None:
    async def body(server: BulkServer) -> None:
        with pytest.raises(TransportError, match="bulk fetch failed"):
            await fetch(server.offer(FRAME), OTHER, 4 << 20)

    _run(body)


def test_an_unknown_token_and_an_oversize_offer_are_refused() -> None:
    async def body(server: BulkServer) -> None:
        offer = server.offer(b"small")
        with pytest.raises(TransportError, match="no longer holds"):
            await fetch(dataclasses.replace(offer, token=b"x" * 16), KEYS, 1024)
        with pytest.raises(RemoteProtocolError, match="exceeds the 4-byte limit"):
            await fetch(offer, KEYS, 4)

    _run(body)


def test_an_offer_is_forgotten_once_fetched() -> None:
    """One receiver per offer: the sender does not keep a fetched 2 MB frame for its TTL."""
    async def body(server: BulkServer) -> None:
        offer = server.offer(FRAME)
        assert await fetch(offer, KEYS, 4 << 20) == FRAME
        with pytest.raises(TransportError, match="no longer holds"):
            await fetch(offer, KEYS, 4 << 20)

    _run(body)


def test_a_reply_differing_from_the_offer_is_refused() -> None:
    async def body(server: BulkServer) -> None:
        offer = server.offer(b"payload")
        with pytest.raises(RemoteProtocolError, match="SHA-256 differs"):
            await fetch(dataclasses.replace(offer, sha256=b"\0" * 32), KEYS, 1024)

    _run(body)


def test_a_request_signed_with_another_key_is_refused() -> None:
    from messaging.bulk import _request

    request = _request(OTHER.signing_key(), b"n" * 16, b"t" * 16)
    with pytest.raises(RemoteProtocolError, match="bad signature"):
        read_request(request, KEYS)
    with pytest.raises(RemoteProtocolError, match="bad magic"):
        read_request(b"GET / HTTP/1.0\r\n\r\n" * 4, KEYS)
    key, nonce, token = read_request(_request(KEYS.signing_key(), b"n" * 16, b"t" * 16), KEYS)
    assert (key.index, nonce, token) == (1, b"n" * 16, b"t" * 16)


def test_an_offer_without_endpoints_says_so() -> None:
    offer = Offer((), b"t" * 16, 1, b"\0" * 32)
    with pytest.raises(TransportError, match="names no endpoint"):
        asyncio.run(fetch(offer, KEYS, 1024))


def test_cluster_addresses_are_the_local_ucast_lines(tmp_path: Path) -> None:
    config = tmp_path / "ha.cf"
    config.write_text("udpport 6940\nucast lo 127.0.0.1\nucast lo 192.0.2.77\nnode n1 n2\n")
    assert cluster_addresses(str(config)) == ["127.0.0.1"]
