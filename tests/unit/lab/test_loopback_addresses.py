"""Loopback labs side by side (lab.layout.address, lab.loopback.check_addresses_free): labs
of different names bind different addresses, and a lab refuses to come up on a port
another process holds. Every loopback lab bound 127.0.60.x: a second lab's heartbeats
(SO_REUSEADDR) took the first lab's datagrams, its nodes partitioned, and writes
acknowledged on one side were lost at the merge (the 1000-write lab test of one
checkout failed while another checkout's lab came up)."""

from __future__ import annotations

import socket

import pytest

from lab.layout import LabSpec, address
from lab.loopback import check_addresses_free
from messaging.errors import UsageError


def test_loopback_labs_of_different_names_bind_different_addresses() -> None:
    names = ("hccibd", "akcibd", "amcibd", "hcloop", "akloop")
    bound = {name: {address(LabSpec(name, loopback=True), index) for index in (1, 2, 3)}
             for name in names}
    for first in names:
        for second in names:
            if first != second:
                assert not bound[first] & bound[second], (first, second)
    assert all(a.startswith("127.") for addresses in bound.values() for a in addresses)


def test_a_loopback_lab_refuses_a_port_another_process_holds() -> None:
    spec = LabSpec("akheld", nodes=2, loopback=True, port=20694)
    check_addresses_free(spec)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as heartbeat does
        holder.bind((address(spec, 2), spec.port))
        with pytest.raises(UsageError, match=rf"{address(spec, 2)}:20694 is in use"):
            check_addresses_free(spec)
