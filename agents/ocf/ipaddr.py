"""ocf:hacluster:IPaddr: a floating IP address managed with pyroute2 (netlink).

start adds ``ip/cidr_netmask`` to ``nic`` and announces it with gratuitous ARP (IPv4) or
waits for duplicate address detection to finish (IPv6, failing if the address is taken); stop
removes it; monitor answers 0 when the address is on the interface and 7 when not. ``nic``
defaults to the interface whose configured subnet contains ``ip``; ``cidr_netmask`` defaults
to that subnet's prefix (32/128 without one). validate-all: a missing or malformed ``ip`` or
``cidr_netmask`` is rc 6 (the configuration is wrong everywhere); a ``nic`` that does not
exist here, or no interface able to carry ``ip``, is rc 2 (wrong on this host only).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
import time
from dataclasses import dataclass

from agents.ocf._ocf import Instance, fail, run_agent
from messaging.types import OcfRc

METADATA = """<?xml version="1.0"?>
<resource-agent name="IPaddr" version="1.0">
<version>1.1</version>
<longdesc lang="en">Manages a floating IPv4 or IPv6 address on a network interface through
netlink, and announces IPv4 addresses with gratuitous ARP.</longdesc>
<shortdesc lang="en">Manages a floating IP address</shortdesc>
<parameters>
<parameter name="ip" unique="1" required="1">
<longdesc lang="en">The address to manage, e.g. 192.168.1.10 or 2001:db8::10.</longdesc>
<shortdesc lang="en">IP address</shortdesc>
<content type="string"/>
</parameter>
<parameter name="cidr_netmask">
<longdesc lang="en">Prefix length; by default that of the interface subnet containing
ip, else 32 (IPv4) or 128 (IPv6).</longdesc>
<shortdesc lang="en">Prefix length</shortdesc>
<content type="integer"/>
</parameter>
<parameter name="nic">
<longdesc lang="en">Interface to add the address to; by default the one whose subnet
contains ip.</longdesc>
<shortdesc lang="en">Network interface</shortdesc>
<content type="string"/>
</parameter>
<parameter name="arp_count">
<longdesc lang="en">How many gratuitous ARP packets start sends (IPv4).</longdesc>
<shortdesc lang="en">ARP packets</shortdesc>
<content type="integer" default="3"/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="validate-all" timeout="20s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
"""


@dataclass(frozen=True, slots=True)
class Config:
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    prefix: int
    nic: str
    index: int
    arp_count: int


def _parse_address(instance: Instance) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = instance.param("ip")
    if not text:
        raise fail(OcfRc.ERR_CONFIGURED, "parameter ip is required")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise fail(OcfRc.ERR_CONFIGURED, f"ip {text!r} is not an IP address") from None


def _parse_int(instance: Instance, name: str, low: int, high: int) -> int | None:
    text = instance.param(name)
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise fail(OcfRc.ERR_CONFIGURED, f"{name} {text!r} must be an integer {low}..{high}")
    return int(text)


def _find_subnet(ipr: object, address: ipaddress._BaseAddress) -> tuple[int, int] | None:
    """(interface index, prefix) of a configured subnet that contains `address`."""
    for entry in ipr.get_addr(family=_family(address)):  # type: ignore[attr-defined]
        network = ipaddress.ip_network(
            f"{entry.get_attr('IFA_ADDRESS')}/{entry['prefixlen']}", strict=False
        )
        if address in network and network.prefixlen < network.max_prefixlen:
            return int(entry["index"]), int(entry["prefixlen"])
    return None


def _family(address: ipaddress._BaseAddress) -> int:
    return socket.AF_INET if address.version == 4 else socket.AF_INET6


def configure(instance: Instance, ipr: object) -> Config:
    """Check the parameters against this host; raises AgentFailure with rc 6 or 2."""
    address = _parse_address(instance)
    prefix = _parse_int(instance, "cidr_netmask", 1, address.max_prefixlen)
    arp_count = _parse_int(instance, "arp_count", 0, 100)
    nic = instance.param("nic")
    subnet = _find_subnet(ipr, address)
    if nic:
        found = ipr.link_lookup(ifname=nic)  # type: ignore[attr-defined]
        if not found:
            raise fail(OcfRc.ERR_ARGS, f"nic {nic!r} does not exist on this host")
        index = int(found[0])
    elif subnet is not None:
        index = subnet[0]
        nic = ipr.get_links(index)[0].get_attr("IFLA_IFNAME")  # type: ignore[attr-defined]
    else:
        raise fail(OcfRc.ERR_ARGS, f"no interface here has a subnet containing {address}; set nic")
    if prefix is None:
        prefix = subnet[1] if subnet is not None and subnet[0] == index else address.max_prefixlen
    return Config(address, prefix, nic, index, 3 if arp_count is None else arp_count)


def _present(ipr: object, config: Config) -> bool:
    for entry in ipr.get_addr(index=config.index, family=_family(config.address)):  # type: ignore[attr-defined]
        if entry.get_attr("IFA_ADDRESS") == str(config.address):
            return True
    return False


def _with_netlink(action: str, instance: Instance) -> int:
    from pyroute2 import IPRoute  # imported late: meta-data must work without it

    with IPRoute() as ipr:
        config = configure(instance, ipr)
        present = _present(ipr, config)
        if action == "validate-all":
            return int(OcfRc.SUCCESS)
        if action == "monitor":
            return int(OcfRc.SUCCESS if present else OcfRc.NOT_RUNNING)
        address = {
            "index": config.index,
            "address": str(config.address),
            "prefixlen": config.prefix,
        }
        if action == "stop":
            if present:
                ipr.addr("del", **address)
            return int(OcfRc.SUCCESS)
        if not present:
            ipr.addr("add", **address)
        if config.address.version == 6:
            _await_dad(ipr, config, address)
        else:
            mac = ipr.get_links(config.index)[0].get_attr("IFLA_ADDRESS") or ""
            send_gratuitous_arp(config.nic, mac, str(config.address), config.arp_count)
    return int(OcfRc.SUCCESS)


_IFA_F_DADFAILED, _IFA_F_TENTATIVE = 0x08, 0x40
DAD_WAIT = 10.0  # seconds an IPv6 start waits for duplicate address detection


def _await_dad(ipr: object, config: Config, address: dict[str, object]) -> None:
    """Return once the IPv6 address is usable; a duplicate elsewhere fails the start."""
    deadline = time.monotonic() + DAD_WAIT
    while time.monotonic() < deadline:
        flags = 0
        for entry in ipr.get_addr(index=config.index, family=socket.AF_INET6):  # type: ignore[attr-defined]
            if entry.get_attr("IFA_ADDRESS") == str(config.address):
                flags = int(entry.get_attr("IFA_FLAGS") or entry["flags"])
        if flags & _IFA_F_DADFAILED:
            ipr.addr("del", **address)  # type: ignore[attr-defined]
            raise fail(OcfRc.ERR_GENERIC, f"{config.address} is already in use on the network")
        if not flags & _IFA_F_TENTATIVE:
            return
        time.sleep(0.1)
    raise fail(OcfRc.ERR_GENERIC, f"{config.address} still tentative after {DAD_WAIT:g} s")


def arp_frame(mac: str, ip: str) -> bytes:
    """A broadcast ARP request for `ip` from `ip` itself (a gratuitous ARP)."""
    hw = bytes.fromhex(mac.replace(":", ""))
    proto = socket.inet_aton(ip)
    header = b"\xff" * 6 + hw + struct.pack("!H", 0x0806)
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + proto + b"\x00" * 6 + proto
    return header + body


def send_gratuitous_arp(nic: str, mac: str, ip: str, count: int) -> None:
    """Announce `ip` on `nic`; a link without a hardware address (loopback) is skipped."""
    if not mac or mac == "00:00:00:00:00:00" or count == 0:
        return
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
        raw.bind((nic, 0))
        for _ in range(count):
            raw.send(arp_frame(mac, ip))


def _action(name: str):  # type: ignore[no-untyped-def]
    return lambda instance: _with_netlink(name, instance)


ACTIONS = {name: _action(name) for name in ("start", "stop", "monitor", "validate-all")}

if __name__ == "__main__":
    sys.exit(run_agent(ACTIONS, METADATA))
