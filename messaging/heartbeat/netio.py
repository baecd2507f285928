"""UDP sockets for the heartbeat media (bcast, mcast, ucast) and local address discovery.

One `LinkSocket` per link (= interface). It knows where the link's packets go by default
(the interface broadcast address, the multicast group, or every ucast peer on that
interface) and which socket receives them. Interface details come from Linux ioctls
(SIOCGIFADDR / SIOCGIFBRDADDR), so no extra dependency is needed. Binding to a device
needs root; without it the socket is bound to the address only (fine for tests on lo).

Neighbour confirmation: a unicast destination heard on the link within `fresh` seconds (the
caller passes deadtime) is sent to with MSG_CONFIRM, which tells the kernel the neighbour is
reachable, as a TCP ACK does. Without it a peer's ARP entry goes STALE every ~30 s and is
re-checked with three unicast ARP probes; on a lossy link all three can fail (each needs a
request and a reply through), the entry becomes FAILED and every datagram to that peer waits
for a broadcast re-resolution, one second per retry: the peer hears silence for seconds and
declares us dead although most of our keepalives would have got through. Heartbeat's ucast
medium sends with no flags and has the same exposure. A peer we no longer hear (dead, or
re-addressed) is not confirmed after `fresh`, so the kernel probes it normally again; an
ARP packet from the peer updates our entry whether or not we confirm.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
from dataclasses import dataclass, field

from messaging.config import Medium
from messaging.errors import ConfigError, TransportError

SIOCGIFADDR = 0x8915
SIOCGIFBRDADDR = 0x8919
# asm-generic/socket.h (the socket module does not name them): the kernel stamps each
# datagram with its arrival time (CLOCK_REALTIME, a struct timespec in the ancillary data)
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
TIMESPEC = struct.Struct("@ll")
STAMP_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
Address = tuple[str, int]


def _ifreq(interface: str, request: int) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            packed = struct.pack("256s", interface.encode()[:15])
            result = fcntl.ioctl(probe.fileno(), request, packed)
        except OSError:
            return None
    return socket.inet_ntoa(result[20:24])


def interface_address(interface: str) -> str | None:
    """The primary IPv4 address of `interface`, or None."""
    return _ifreq(interface, SIOCGIFADDR)


def broadcast_address(interface: str) -> str | None:
    """The IPv4 broadcast address of `interface`, or None."""
    return _ifreq(interface, SIOCGIFBRDADDR)


def is_local_address(address: str) -> bool:
    """Whether `address` belongs to this host (secondary addresses included): only a local
    address can be bound (net.ipv4.ip_nonlocal_bind aside)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def resolve_ipv4(name: str) -> str:
    """The first IPv4 address of host `name` (/etc/hosts, DNS: the system's resolver)."""
    found = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_DGRAM)
    return str(found[0][4][0])


def local_addresses(candidates: set[str] | None = None) -> set[str]:
    """Primary IPv4 addresses of every local interface, plus those of `candidates` that
    are local (so ucast lines naming a secondary address of ours are recognised)."""
    found = {a for a in candidates or set() if is_local_address(a)}
    for _, name in socket.if_nameindex():
        address = interface_address(name)
        if address:
            found.add(address)
    return found


def arrival_time(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's arrival time (wall-clock seconds) in recvmsg's ancillary data, if any."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return float(seconds + nanoseconds / 1e9)
    return None


@dataclass
class LinkSocket:
    """The socket of one link and its default destinations."""

    link: str
    sock: socket.socket
    destinations: list[Address] = field(default_factory=list)
    heard_at: dict[str, float] = field(default_factory=dict)  # source IP -> monotonic time

    def heard(self, address: str, now: float) -> None:
        """A datagram from `address` came in on this link at `now`."""
        self.heard_at[address] = now

    def send_flags(self, dest: Address, now: float, fresh: float) -> int:
        """MSG_CONFIRM for a destination heard within `fresh` seconds, else no flags."""
        heard = self.heard_at.get(dest[0])
        return socket.MSG_CONFIRM if heard is not None and now - heard <= fresh else 0

    def send(self, data: bytes, dest: Address, now: float, fresh: float) -> None:
        """sendto `dest`, confirming the neighbour while we hear it (module docstring).

        Raises:
            OSError: as sendto does (full buffer, unreachable network).
        """
        self.sock.sendto(data, self.send_flags(dest, now, fresh), dest)

    def close(self) -> None:
        self.sock.close()


def _base_socket(interface: str, bind_address: str, port: int,
                 broadcast: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        with contextlib.suppress(OSError):  # needs root; optional on lo / in tests
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        with contextlib.suppress(OSError):  # without it a datagram counts when it is read
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.bind((bind_address, port))
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise TransportError(f"link {interface}: cannot bind {bind_address}:{port}: "
                             f"{error.strerror}") from None
    return sock


def open_link(link: str, media: list[Medium], bind_address: str | None) -> LinkSocket:
    """Open the socket for one link from its media lines (all on the same interface).

    Raises:
        ConfigError: mixed media kinds on one interface, or a missing interface address.
        TransportError: the socket cannot be bound.
    """
    kinds = {m.kind for m in media}
    if len(kinds) != 1:
        raise ConfigError(f"interface {link}: mixes {', '.join(sorted(kinds))} media; "
                          "use one kind per interface")
    kind, first = kinds.pop(), media[0]
    if kind == "ucast":
        sock = _base_socket(link, bind_address or "", first.port)
        return LinkSocket(link, sock, [(m.address, m.port) for m in media])
    if kind == "bcast":
        target = broadcast_address(link)
        if target is None:
            raise ConfigError(f"bcast {link}: interface has no IPv4 broadcast address")
        sock = _base_socket(link, bind_address or "", first.port, broadcast=True)
        return LinkSocket(link, sock, [(target, first.port)])
    return _open_mcast(link, first, bind_address)


def _open_mcast(link: str, medium: Medium, bind_address: str | None) -> LinkSocket:
    local = bind_address or interface_address(link)
    if local is None:
        raise ConfigError(f"mcast {link}: interface has no IPv4 address")
    sock = _base_socket(link, "", medium.port)
    try:
        membership = socket.inet_aton(medium.address) + socket.inet_aton(local)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, medium.ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    except OSError as error:
        sock.close()
        raise TransportError(f"mcast {link}: cannot join {medium.address}: "
                             f"{error.strerror}") from None
    return LinkSocket(link, sock, [(medium.address, medium.port)])


def open_links(media: tuple[Medium, ...], bind_address: str | None) -> dict[str, LinkSocket]:
    """One LinkSocket per link name, in ha.cf order."""
    grouped: dict[str, list[Medium]] = {}
    for medium in media:
        grouped.setdefault(medium.link, []).append(medium)
    opened: dict[str, LinkSocket] = {}
    try:
        for link, items in grouped.items():
            opened[link] = open_link(link, items, bind_address)
    except Exception:
        for link_socket in opened.values():
            link_socket.close()
        raise
    return opened
