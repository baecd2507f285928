"""Floating addresses in network namespaces: ocf:hacluster:IPaddr and Debian's
ocf:heartbeat:IPaddr2 run by an lrmd inside namespace A; namespace B pings the address,
sees the gratuitous ARP, and loses the address after stop. The namespaces and the veth pair
are created here and removed afterwards; addresses are from the documentation ranges
(192.0.2.0/24, 2001:db8::/64)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lrmd_harness import Daemon, start_daemon, stop_daemon

from messaging.types import OpStatus

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 (ip) is not installed"),
    pytest.mark.skipif(shutil.which("ping") is None, reason="ping (iputils-ping) is not installed"),
]

CAPTURE = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        frame = s.recv(2048)
    except TimeoutError:
        continue
    if frame[20:22] == b"\x00\x01":  # ARP request
        print(socket.inet_ntoa(frame[28:32]), socket.inet_ntoa(frame[38:42]), flush=True)
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    tag = f"lrmdt{os.getpid() % 100000}"
    a, b = f"{tag}a", f"{tag}b"
    try:
        _ip("netns", "add", a)
        _ip("netns", "add", b)
        _ip("link", "add", f"{tag}va", "type", "veth", "peer", "name", f"{tag}vb")
        _ip("link", "set", f"{tag}va", "netns", a, "name", "eth0")
        _ip("link", "set", f"{tag}vb", "netns", b, "name", "eth0")
        for ns, address, address6 in (
            (a, "192.0.2.1/24", "2001:db8::1/64"),
            (b, "192.0.2.2/24", "2001:db8::2/64"),
        ):
            _ip("-n", ns, "addr", "add", address, "dev", "eth0")
            _ip("-n", ns, "addr", "add", address6, "dev", "eth0", "nodad")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _pings(ns: str, address: str) -> bool:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", address], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def lab_lrmd(namespaces: tuple[str, str], tmp_path: Path) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path, netns=namespaces[0])
    yield daemon
    stop_daemon(daemon)


@pytest.mark.parametrize(
    "agent,address,params",
    [
        ("ocf:hacluster:IPaddr", "192.0.2.100", {"cidr_netmask": "24", "nic": "eth0"}),
        ("ocf:hacluster:IPaddr", "192.0.2.101", {}),  # nic and netmask found from the subnet
        ("ocf:hacluster:IPaddr", "2001:db8::100", {}),  # IPv6: start waits out DAD
        ("ocf:heartbeat:IPaddr2", "192.0.2.102", {"cidr_netmask": "24", "nic": "eth0"}),
    ],
)
def test_floating_address_answers_ping_then_goes(
    lab_lrmd: Daemon,
    namespaces: tuple[str, str],
    agent: str,
    address: str,
    params: dict[str, str],
) -> None:
    if (
        agent.startswith("ocf:heartbeat")
        and not Path("/usr/lib/ocf/resource.d/heartbeat/IPaddr2").exists()
    ):
        pytest.skip("Debian's resource-agents is not installed")
    b = namespaces[1]
    params = {"ip": address, **params}
    assert lab_lrmd.execute(agent, "monitor", params=params).rc == 7
    assert not _pings(b, address)
    capture = subprocess.Popen(
        ["ip", "netns", "exec", b, sys.executable, "-c", CAPTURE, "8"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert capture.stdout is not None and capture.stdout.readline().strip() == "ready"
    started = lab_lrmd.execute(agent, "start", params=params)
    assert (started.rc, started.status) == (0, OpStatus.DONE), started.exit_reason
    assert lab_lrmd.execute(agent, "monitor", params=params).rc == 0
    assert _pings(b, address)
    capture.terminate()
    arp_lines = capture.communicate(timeout=10)[0].split("\n")
    if "." in address:
        assert f"{address} {address}" in arp_lines  # a gratuitous ARP announced the address
    assert lab_lrmd.execute(agent, "stop", params=params).rc == 0
    assert lab_lrmd.execute(agent, "monitor", params=params).rc == 7
    assert not _pings(b, address)
    assert lab_lrmd.execute(agent, "stop", params=params).rc == 0  # stop is idempotent


def test_ipaddr_bad_nic_is_a_local_error(lab_lrmd: Daemon) -> None:
    result = lab_lrmd.execute(
        "ocf:hacluster:IPaddr", "start", params={"ip": "192.0.2.103", "nic": "nosuch0"}
    )
    assert result.rc == 2 and "nosuch0" in result.exit_reason
    far = lab_lrmd.execute("ocf:hacluster:IPaddr", "validate-all", params={"ip": "198.51.100.9"})
    assert far.rc == 2 and "set nic" in far.exit_reason


@pytest.mark.skipif(shutil.which("ocf-tester") is None, reason="ocf-tester is not installed")
def test_ocf_tester_on_ipaddr(namespaces: tuple[str, str], tmp_path: Path) -> None:
    """resource-agents' compliance tool on ocf:hacluster:IPaddr inside namespace A; only its
    OCF 1.0 DTD check may fail (our meta-data is OCF 1.1)."""
    from lrmd.agents import own_ocf_root

    agent = own_ocf_root() / "resource.d" / "hacluster" / "IPaddr"
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            namespaces[0],
            "ocf-tester",
            "-n",
            "vip",
            "-o",
            "ip=192.0.2.110",
            "-o",
            "cidr_netmask=24",
            str(agent),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        # python3 on PATH must be this interpreter (pyroute2); HACLUSTER_PYTHON is not set
        # because ocf-tester also runs the agent as nobody, who may not reach it
        env=dict(
            os.environ,
            OCF_ROOT="/usr/lib/ocf",
            PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        ),
    )
    failures = [line for line in done.stdout.splitlines() if line.startswith("* rc=")]
    assert [f for f in failures if "ra-api-1.dtd" not in f] == [], done.stdout + done.stderr
