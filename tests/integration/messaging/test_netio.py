"""Link sockets and own-address detection with real sockets on this host."""

from __future__ import annotations

import select
import socket
import time

import pytest

from messaging.config import Medium, parse_ha_cf
from messaging.errors import ConfigError
from messaging.heartbeat.netio import (
    STAMP_SPACE,
    LinkSocket,
    arrival_time,
    is_local_address,
    local_addresses,
    open_link,
    open_links,
)


def test_own_addresses() -> None:
    assert is_local_address("127.0.0.1") and is_local_address("127.0.0.77")
    assert not is_local_address("198.51.100.77")  # TEST-NET-2, never assigned here
    assert "127.0.0.1" in local_addresses()
    assert "127.0.0.77" in local_addresses({"127.0.0.77", "198.51.100.77"})
    assert "198.51.100.77" not in local_addresses({"198.51.100.77"})


def test_ucast_link_sends_to_the_other_peers_only() -> None:
    config = parse_ha_cf("udpport 39999\nucast lo 127.0.0.61\nucast lo 127.0.0.62\n"
                         "ucast lo 127.0.0.63\nnode a b c\n")
    links = open_links(config.media_for({"127.0.0.61"}), "127.0.0.61")
    try:
        assert list(links) == ["lo"]
        assert links["lo"].destinations == [("127.0.0.62", 39999), ("127.0.0.63", 39999)]
        assert links["lo"].sock.getsockname() == ("127.0.0.61", 39999)
    finally:
        for link in links.values():
            link.close()


def test_mixed_media_on_one_interface_are_refused() -> None:
    media = [Medium("ucast", "lo", 694, "127.0.0.2"), Medium("bcast", "lo", 694)]
    with pytest.raises(ConfigError, match="mixes bcast, ucast"):
        open_link("lo", media, None)


def test_a_datagram_carries_its_arrival_time_not_its_read_time() -> None:
    """The paced reader (messaging.heartbeat.pacing) may read a keepalive tens of ms after
    it came; liveness must count it as heard when it arrived."""
    config = parse_ha_cf("udpport 39998\nucast lo 127.0.0.64\nucast lo 127.0.0.65\nnode a b\n")
    receiver = open_links(config.media_for({"127.0.0.64"}), "127.0.0.64")["lo"]
    sender = open_links(config.media_for({"127.0.0.65"}), "127.0.0.65")["lo"]
    try:
        # Linux turns receive stamps on for the whole host through deferred work
        # (net_enable_timestamp schedules netstamp_work); until it has run, a datagram with no
        # stamp gets one when it is read (__sock_recv_timestamp). The first one may thus carry
        # its read time when no other socket on the host asked for stamps: try a few.
        stamps = [_arrival_after_a_late_read(sender, receiver) for _ in range(5)]
        assert any(before - 0.01 <= arrived <= sent_by + 0.01
                   for before, arrived, sent_by in stamps), stamps
    finally:
        receiver.close()
        sender.close()


def _arrival_after_a_late_read(sender: LinkSocket,
                               receiver: LinkSocket) -> tuple[float, float, float]:
    """(time before sending, the datagram's stamp, time it was known to be there)."""
    before = time.time()
    sender.sock.sendto(b"keepalive", ("127.0.0.64", 39998))
    assert select.select([receiver.sock], [], [], 10.0)[0]
    sent_by = time.time()
    time.sleep(0.05)  # left unread for a while, as during a snooze
    data, ancillary, _, _ = receiver.sock.recvmsg(2048, STAMP_SPACE)
    arrived = arrival_time(ancillary)
    assert data == b"keepalive" and arrived is not None
    return before, arrived, sent_by


def test_no_arrival_time_without_the_kernels_stamp() -> None:
    assert arrival_time([]) is None
    assert arrival_time([(0, 0, b"\0" * 16)]) is None


def test_a_peer_heard_within_fresh_is_sent_to_with_msg_confirm() -> None:
    """Hearing a peer confirms its ARP entry, so a lossy link cannot make it FAILED (the
    kernel's own re-probes then need request and reply through) while the peer is heard."""
    config = parse_ha_cf("udpport 39997\nucast lo 127.0.0.66\nucast lo 127.0.0.67\nnode a b\n")
    link = open_links(config.media_for({"127.0.0.66"}), "127.0.0.66")["lo"]
    try:
        peer, stranger = ("127.0.0.67", 39997), ("127.0.0.68", 39997)
        assert link.send_flags(peer, 10.0, 1.6) == 0  # never heard
        link.heard("127.0.0.67", 10.0)
        assert link.send_flags(peer, 11.6, 1.6) == socket.MSG_CONFIRM
        assert link.send_flags(stranger, 11.6, 1.6) == 0
        assert link.send_flags(peer, 11.7, 1.6) == 0  # silent for longer than fresh
        link.send(b"keepalive", peer, 10.5, 1.6)  # the kernel takes the flag on UDP
    finally:
        link.close()
