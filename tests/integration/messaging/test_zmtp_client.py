"""messaging.zmtp under the blocking Client: what differs from a pyzmq socket is covered here
(test_zmq_ipc.py runs the Client's whole contract against the pyzmq Server): a listener
that appears late is reached, a socket nobody listens on times out, a peer that is not a
ZMTP 3 ROUTER or sends a frame over the limit is refused with a clear error, and the
client does not load pyzmq."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from messaging.client import Client
from messaging.codec import Registry
from messaging.envelope import protocol
from messaging.errors import PeerTimeout, RemoteProtocolError
from messaging.zmtp import GREETING, frames_bytes

API: Registry = protocol("ztest")


@API.register("echo")
@dataclass(frozen=True, slots=True)
class Echo:
    text: str


def _serve_once(path: Path, answer: bytes, ready: threading.Event) -> None:
    """A Unix listener that sends `answer` to the first client and closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        ready.set()
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(answer)
            _wait_until_closed(connection)  # the client read the answer and gave up


def _wait_until_closed(connection: socket.socket) -> None:
    """Keep the connection open until the client closes it (not a guessed delay, which a
    loaded host may outlast before the client has read the answer)."""
    connection.settimeout(30)
    try:
        while connection.recv(4096):
            pass
    except OSError:
        pass  # reset or timed out: the client is gone either way


@pytest.fixture
def fake_peer(tmp_path: Path) -> Iterator[tuple[Path, list[bytes]]]:
    path, answers = tmp_path / "fake.ctl", []
    ready = threading.Event()

    def run() -> None:
        while not answers:
            time.sleep(0.01)
        _serve_once(path, answers[0], ready)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield path, answers
    thread.join(5)


def _start(answers: list[bytes], path: Path, answer: bytes) -> None:
    answers.append(answer)
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_peer_that_is_not_zmtp_is_refused_clearly(fake_peer: tuple[Path, list[bytes]]) -> None:
    path, answers = fake_peer
    _start(answers, path, b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"x" * 64)
    with pytest.raises(RemoteProtocolError, match="does not speak ZMTP 3"):
        Client(f"ipc://{path}", API, timeout=2.0).request(Echo("x"))


def test_a_frame_over_the_limit_is_refused(fake_peer: tuple[Path, list[bytes]]) -> None:
    path, answers = fake_peer
    ready = bytes([0x04, 28]) + b"\x05READY" + b"\x0bSocket-Type\x00\x00\x00\x06ROUTER"
    _start(answers, path, GREETING + ready + frames_bytes([b"", b"y" * 5000]))
    with pytest.raises(RemoteProtocolError, match="over the limit"):
        Client(f"ipc://{path}", API, timeout=2.0, max_frame=100).request(Echo("x"))


def test_a_socket_nobody_listens_on_times_out(tmp_path: Path) -> None:
    path = tmp_path / "stale.ctl"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(path))  # the file of a daemon that died: bound, never listening
    with pytest.raises(PeerTimeout):
        Client(f"ipc://{path}", API, timeout=0.3).request(Echo("x"))


def test_the_blocking_client_does_not_load_pyzmq() -> None:
    code = ("import sys, messaging.client, cib.api; "
            "print(any(name == 'zmq' or name.startswith('zmq.') for name in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
