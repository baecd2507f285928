"""The origin starts fencing before every fencer replied, as Pacemaker's fencer does.

Without topology a reply from a fencer other than the target naming a verified device (a
list/monitor/status of it succeeded there: where its resource runs) is enough; with a
topology every device of every level must be known (the target's own reply does not count
for off/reboot). Otherwise the origin waits for all replies or the query timeout (5 s).
A silent fencer (`sim.kill`) stands for a slow peer of a large cluster.
"""

from __future__ import annotations

from lab.sim import Simulation
from lab.sim.direct import fencing_simulation, request
from stonithd.api import (
    CapableReply,
    DeviceActionRequest,
    DeviceActionResult,
    FenceRequest,
    QueryCapable,
)
from stonithd.query_ready import can_start_early, unplanned
from tests.unit.stonithd.test_stonithd_core import cib, device, fence_runs, result

NODES = ("n1", "n2", "n3", "n4")


def only_on(rid: str, node: str) -> str:
    return "".join(f'<rsc_location id="{rid}-{n}" rsc="{rid}" node="{n}" score="-INFINITY"/>'
                   for n in NODES if n != node)


def monitor(sim: Simulation, node: str, rid: str) -> None:
    """What the lrmd's start/monitor of the device's resource asks that node's fencer."""
    request(sim, node, DeviceActionRequest(rid, "monitor"), client=f"client:mon-{rid}")
    sim.run_until_idle()
    replies = sim.replies_to(f"client:mon-{rid}")
    assert isinstance(replies[-1], DeviceActionResult) and replies[-1].ok


def test_a_verified_device_on_another_fencer_starts_fencing_without_the_silent_one() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3 n4"),
                                        constraints=only_on("d1", "n2")))
    monitor(sim, "n2", "d1")
    sim.kill("n3")
    request(sim, "n1", FenceRequest("n4", "reboot", 60))
    sim.run_until(sim.now + 1.0)
    assert fence_runs(sim) == [("n2", "d1", "reboot")]
    sim.run_until_idle()
    assert result(sim).ok and result(sim).executioner == "n2"


def test_an_unverified_device_waits_for_every_reply_or_the_query_timeout() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3 n4"),
                                        constraints=only_on("d1", "n2")))
    sim.kill("n3")
    start = sim.now
    request(sim, "n1", FenceRequest("n4", "reboot", 60))
    sim.run_until(start + 4.9)
    assert fence_runs(sim) == []
    sim.run_until_idle()
    assert result(sim).ok and fence_runs(sim) == [("n2", "d1", "reboot")]


def test_a_device_verified_only_on_the_target_does_not_start_early() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3 n4"),
                                        constraints=only_on("d1", "n4")))
    monitor(sim, "n4", "d1")
    sim.kill("n3")
    start = sim.now
    request(sim, "n1", FenceRequest("n4", "reboot", 60))
    sim.run_until(start + 4.9)
    assert fence_runs(sim) == []


def test_topology_starts_once_every_level_device_is_known_not_before() -> None:
    topology = ('<fencing-level id="l1" target="n4" index="1" devices="a"/>'
                '<fencing-level id="l2" target="n4" index="2" devices="b"/>')
    resources = device("a", pcmk_host_list="n4") + device("b", pcmk_host_list="n4")
    known = fencing_simulation(NODES, cib(resources, topology, only_on("b", "n2")))
    monitor(known, "n1", "a")
    known.kill("n3")
    request(known, "n1", FenceRequest("n4", "reboot", 60))
    known.run_until(known.now + 1.0)  # a and b known from n1 and n2: no wait for n3
    assert fence_runs(known) == [("n1", "a", "reboot")]
    # all devices known but `a` verified nowhere: Pacemaker's stonith_choose_peer waits
    # for the other replies (here the query timeout) before settling for an unverified one
    unverified = fencing_simulation(NODES, cib(resources, topology, only_on("b", "n2")))
    unverified.kill("n3")
    start = unverified.now
    request(unverified, "n1", FenceRequest("n4", "reboot", 60))
    unverified.run_until(start + 4.9)
    assert fence_runs(unverified) == []
    unverified.run_until_idle()
    assert fence_runs(unverified)[0][1:] == ("a", "reboot")
    # b runs only on the silent n3: a verified `a` alone must not skip level 2's device
    missing = fencing_simulation(NODES, cib(resources, topology, only_on("b", "n3")))
    monitor(missing, "n1", "a")
    missing.kill("n3")
    start = missing.now
    request(missing, "n1", FenceRequest("n4", "reboot", 60))
    missing.run_until(start + 4.9)
    assert fence_runs(missing) == []


def test_readiness_rules_and_late_devices() -> None:
    replies = {"n4": ("d1",), "n2": ("d2",)}
    assert not can_start_early("n4", "reboot", replies, {"n4": ("d1",)}, [])
    assert can_start_early("n4", "reboot", replies, {"n2": ("d2",)}, [])
    assert not can_start_early("n4", "reboot", replies, {"n2": ("d9",)}, [])  # not offered
    assert not can_start_early("n4", "off", replies, {}, [("d1",), ("d2",)])  # d1: target's
    assert can_start_early("n4", "on", replies, {}, [("d1",), ("d2",)])
    assert unplanned([("d1",)], ("d3", "d1", "d2")) == [("d2",), ("d3",)]


def test_the_capability_reply_names_verified_devices_among_those_it_offers() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n4")
                                        + device("d2", pcmk_host_list="n1")))
    monitor(sim, "n2", "d1")
    monitor(sim, "n2", "d2")
    fencer = sim.core("n2", "stonithd")
    assert fencer.executor.verified == {"d1", "d2"}
    sends = fencer.executor.query(QueryCapable("op", "n1", "n4", "reboot"), sim.now)
    assert [s.message for s in sends] == [CapableReply("op", "n2", ("d1",), ("d1",))]
