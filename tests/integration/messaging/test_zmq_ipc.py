"""zmq IPC with real ipc:// sockets: file permissions, typed request/reply, timeouts."""

from __future__ import annotations

import grp
import os
import stat
import threading
import time
from pathlib import Path

import pytest
import zmq

from messaging.errors import PeerTimeout, PeerUnreachable
from messaging.heartbeat.api import (
    IPC,
    Ack,
    HeartbeatClient,
    NodeState,
    NodeStatusChanged,
    SendMessage,
    ctl_endpoint,
    pub_endpoint,
)
from messaging.ipc import RequestClient, Subscriber, bind, cluster_gid


def test_bound_socket_is_0660_and_group_haclient(tmp_path: Path) -> None:
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    try:
        bind(sock, ctl_endpoint(tmp_path))
        info = (tmp_path / "heartbeat.ctl").stat()
        assert stat.S_IMODE(info.st_mode) == 0o660
        gid = cluster_gid()
        if gid is not None and os.geteuid() == 0:
            assert info.st_gid == gid == grp.getgrnam("haclient").gr_gid
    finally:
        sock.close(linger=0)
        context.term()


def _serve_once(endpoint: str, reply: object, ready: threading.Event,
                delay: float = 0.0) -> threading.Thread:
    def run() -> None:
        context = zmq.Context()
        sock = context.socket(zmq.REP)
        bind(sock, endpoint)
        ready.set()
        if sock.poll(5000):
            request = IPC.decode(sock.recv())
            assert isinstance(request, SendMessage)
            time.sleep(delay)
            sock.send(IPC.encode(reply))
        sock.close(linger=0)
        context.term()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_typed_request_reply(tmp_path: Path) -> None:
    ready = threading.Event()
    thread = _serve_once(ctl_endpoint(tmp_path), Ack(False, "unknown node 'x'"), ready)
    ready.wait(5)
    client = HeartbeatClient(tmp_path)
    assert client.send_message("x", "ccm", b"hi") == Ack(False, "unknown node 'x'")
    client.close()
    thread.join(5)


def test_timeout_and_missing_daemon(tmp_path: Path) -> None:
    with pytest.raises(PeerUnreachable, match="no daemon listening"):
        RequestClient(ctl_endpoint(tmp_path), IPC, timeout=0.2).request(SendMessage("*", "c", b""))
    ready = threading.Event()
    thread = _serve_once(ctl_endpoint(tmp_path), Ack(True), ready, delay=1.0)
    ready.wait(5)
    client = RequestClient(ctl_endpoint(tmp_path), IPC, timeout=0.2)
    with pytest.raises(PeerTimeout):
        client.request(SendMessage("*", "c", b""))
    client.close()
    thread.join(5)


def test_subscriber_skips_undecodable_events(tmp_path: Path) -> None:
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    bind(pub, pub_endpoint(tmp_path))
    sub = Subscriber(pub_endpoint(tmp_path), IPC, (b"status",), context=context)
    try:
        time.sleep(0.3)
        event = NodeStatusChanged("n2", NodeState.DEAD, {}, 3, 1.0)
        pub.send_multipart([b"status", b"\xc1garbage"])
        pub.send_multipart([b"message", IPC.encode(event)])  # other topic: filtered
        pub.send_multipart([b"status", IPC.encode(event)])
        assert sub.recv(1.0) == event
        assert sub.recv(0.1) is None
    finally:
        sub.close()
        pub.close(linger=0)
        context.term()
