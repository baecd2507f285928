"""Pacemaker 2.1.5's choice of the fencer that runs a device (fenced_remote.c:
`sort_peers`, `stonith_choose_peer`, `find_best_peer`): the pure rule, then the fencer
core following it with a device verified where its resource runs."""

from __future__ import annotations

from lab.sim import Simulation
from lab.sim.direct import fencing_simulation, request
from stonithd.api import DeviceActionRequest, DeviceActionResult, FenceRequest
from stonithd.executor_choice import Choice, choose_executor, implicit_levels, ranked_fencers
from tests.unit.stonithd.test_stonithd_core import cib, device, fence_runs, result
from tests.unit.stonithd.test_stonithd_early_start import monitor

NODES = ("n1", "n2", "n3", "n4")


def test_more_devices_first_and_among_equals_the_latest_reply_first() -> None:
    replies = {"n1": ("a",), "n2": ("a", "b"), "n3": ("a",), "n4": ()}  # arrival order
    assert ranked_fencers(replies) == ["n2", "n3", "n1"]  # n4 named nothing


def test_a_verified_fencer_other_than_the_target_wins_over_rank() -> None:
    replies = {"n1": ("a",), "n2": ("a",), "n3": ("a",)}
    assert choose_executor("a", "n3", "reboot", replies, {"n1": ("a",)},
                           query_open=False) == Choice("n1")
    # verified only on the target: it does not count as verified
    assert choose_executor("a", "n3", "reboot", replies, {"n3": ("a",)},
                           query_open=False) == Choice("n2")


def test_an_unverified_executor_waits_while_the_query_is_open() -> None:
    replies = {"n1": ("a",), "n2": ("a",)}
    assert choose_executor("a", "n3", "off", replies, {}, query_open=True) == \
        Choice(None, wait=True)
    assert choose_executor("a", "n3", "off", replies, {"n1": ("a",)},
                           query_open=True) == Choice("n1")


def test_the_target_only_as_a_last_resort_and_never_to_switch_on() -> None:
    replies = {"n1": ("a",), "n3": ("a", "b")}
    assert choose_executor("b", "n3", "reboot", replies, {}, query_open=False) == Choice("n3")
    assert choose_executor("b", "n3", "off", replies, {}, query_open=False) == Choice("n3")
    assert choose_executor("b", "n3", "on", replies, {}, query_open=False) == Choice(None)
    assert choose_executor("a", "n3", "reboot", replies, {"n3": ("a",)},
                           query_open=False) == Choice("n1")
    assert choose_executor("z", "n3", "reboot", replies, {}, query_open=False) == Choice(None)


def test_without_topology_the_best_executors_device_is_tried_first() -> None:
    replies = {"n1": ("a", "b"), "n2": ("c",), "n4": ("d",)}
    # c is verified on n2, a/b nowhere, d only on the target n4
    assert implicit_levels("n4", replies, {"n2": ("c",)}) == [("c",), ("a",), ("b",), ("d",)]
    assert implicit_levels("n4", replies, {}) == [("a",), ("b",), ("c",), ("d",)]


def test_the_fencer_where_the_device_runs_fences_not_the_origin() -> None:
    # d1 may run anywhere but its resource runs on n3 (start/monitor verified it there):
    # n1 asks, and n3 fences n2, as Pacemaker's fencer picks the verified peer.
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3 n4")))
    monitor(sim, "n3", "d1")
    request(sim, "n1", FenceRequest("n2", "reboot", 30))
    sim.run_until_idle()
    assert fence_runs(sim) == [("n3", "d1", "reboot")]
    assert result(sim).ok and result(sim).executioner == "n3"


def test_a_device_verified_on_the_origin_is_run_there() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3 n4")))
    monitor(sim, "n1", "d1")
    request(sim, "n1", FenceRequest("n2", "off", 30))
    sim.run_until_idle()
    assert fence_runs(sim) == [("n1", "d1", "off")]


def test_the_target_with_the_only_verified_device_fences_itself_last() -> None:
    # a is verified on the target n2 and may run on n4 too: n4 (unverified) goes first
    sim = fencing_simulation(NODES, cib(device("a", pcmk_host_list="n2"),
                                        constraints="".join(
                                            f'<rsc_location id="a-{n}" rsc="a" node="{n}" '
                                            'score="-INFINITY"/>' for n in ("n1", "n3"))))
    monitor(sim, "n2", "a")
    request(sim, "n1", FenceRequest("n2", "reboot", 30))
    sim.run_until_idle()
    assert fence_runs(sim) == [("n4", "a", "reboot")]


def stop(sim: Simulation, node: str, rid: str) -> None:
    """What the lrmd's stop of the device's resource asks that node's fencer."""
    request(sim, node, DeviceActionRequest(rid, "stop"), client=f"client:stop-{rid}")
    sim.run_until_idle()
    assert sim.replies_to(f"client:stop-{rid}")[-1] == DeviceActionResult(rid, "stop", True)


def test_a_stopped_device_resource_is_no_longer_verified_where_it_stopped() -> None:
    # the resource ran on n1, then moved to n3 (stop on n1, start on n3): n3 fences, as
    # Pacemaker's executor unregistering the device on stop clears its verified flag
    # (were n1 still verified, its later reply would rank it first)
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3 n4")))
    monitor(sim, "n1", "d1")
    stop(sim, "n1", "d1")
    assert sim.core("n1", "stonithd").executor.verified == set()
    monitor(sim, "n3", "d1")
    request(sim, "n4", FenceRequest("n2", "reboot", 30))
    sim.run_until_idle()
    assert fence_runs(sim) == [("n3", "d1", "reboot")]


def test_stopping_an_unknown_device_succeeds() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1")))
    stop(sim, "n2", "no-such-device")
