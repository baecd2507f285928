"""A daemon that closes the connection before the handshake (it is stopping or was killed)
is a PeerTimeout from the one error tree, never a bare BrokenPipeError: callers (the lab's
lrmd sampler, crm tools) catch HAError only, and a bare OSError killed the sampler's thread
in a slow lab run."""

from __future__ import annotations

import socket
import time

import pytest

from messaging import zmtp
from messaging.errors import HAError, PeerTimeout


def test_a_peer_gone_before_the_greeting_is_a_peer_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = socket.socketpair()
    theirs.close()  # the daemon's end is gone: sendall gets EPIPE

    def connected(endpoint: str, deadline: float) -> socket.socket:
        return ours

    monkeypatch.setattr(zmtp, "_connect", connected)
    with pytest.raises(PeerTimeout) as caught:
        zmtp.Connection("ipc:///nonexistent", time.monotonic() + 1, 1 << 20)
    assert isinstance(caught.value, HAError)
    assert "broke" in str(caught.value)
