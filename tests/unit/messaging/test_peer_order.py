"""messaging.peer_channel.SenderOrder: a frame being fetched (a bulk offer) holds back only
its own sender's later messages; every sender's messages arrive in that sender's order."""

from __future__ import annotations

import asyncio

from messaging.errors import HAError, RemoteProtocolError
from messaging.peer_channel import SenderOrder


def test_a_stalled_fetch_holds_back_only_its_own_sender() -> None:
    delivered: list[tuple[str, str]] = []
    errors: list[tuple[str, str]] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def open_frame(payload: bytes) -> str:
            text = payload.decode()
            if text == "offer":  # a bulk fetch from a sender that does not answer yet
                await release.wait()
            if text == "bad":
                raise RemoteProtocolError("unreadable frame")
            return text

        def on_error(sender: str, error: HAError) -> None:
            errors.append((sender, str(error)))

        order = SenderOrder(open_frame, lambda sender, m: delivered.append((sender, m)),
                            on_error)
        order.received("n2", b"offer")
        order.received("n2", b"after-offer")
        order.received("n3", b"one")
        order.received("n3", b"bad")
        order.received("n3", b"two")
        while len(delivered) < 2:  # n3's messages get through while n2's fetch waits
            await asyncio.sleep(0.01)
        assert delivered == [("n3", "one"), ("n3", "two")]
        release.set()
        while len(delivered) < 4:
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert delivered == [("n3", "one"), ("n3", "two"), ("n2", "offer"), ("n2", "after-offer")]
    assert errors == [("n3", "unreadable frame")]
