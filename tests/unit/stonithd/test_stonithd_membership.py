"""Fencers following the membership: PeerSet bookkeeping and the core's reaction to a
node leaving the view (no waiting for query or device timeouts), on a FakeClock."""

from __future__ import annotations

from lab.sim.direct import fencing_simulation, request, set_peers
from stonithd.api import FenceRequest, FenceResult, HistoryReply, HistoryRequest
from stonithd.events import PeersChanged
from stonithd.membership import PeerSet
from tests.unit.stonithd.test_stonithd_core import cib, device, fence_runs, only_on, script

NODES = ("n1", "n2", "n3")


def test_peers_are_members_whose_fencer_said_hello() -> None:
    peers = PeerSet("n1")
    assert peers.peers == ("n1",) and not peers.reachable("n2")
    assert peers.on_view(1, ("n3", "n1", "n2"), 1.0) is None  # nobody announced yet
    assert peers.joined == {"n2", "n3"}  # -> the transport broadcasts our hello
    assert peers.reachable("n2") and not peers.reachable("n1")  # self goes through loopback
    assert peers.should_answer("n2") and not peers.should_answer("n1")
    assert peers.on_hello("n2", 1.1) == PeersChanged(("n1", "n2"), 1.1)
    assert peers.on_hello("n2", 1.2) is None
    assert peers.on_hello("n3", 1.3) == PeersChanged(("n1", "n2", "n3"), 1.3)
    assert peers.on_view(1, ("n1", "n2", "n3"), 3.0) is None  # ccm repeats every 2 s
    assert peers.joined == frozenset()
    assert peers.on_view(2, ("n1", "n2"), 4.0) == PeersChanged(("n1", "n2"), 4.0)
    assert not peers.reachable("n3") and peers.others() == ("n2",)
    assert peers.view_id == 2 and peers.changed_at == 4.0


def test_a_node_that_comes_back_is_a_peer_only_after_its_fencer_says_hello() -> None:
    peers = PeerSet("n1")
    peers.on_view(1, ("n1", "n2", "n3"), 0.0)
    peers.on_hello("n2", 0.1)
    peers.on_hello("n3", 0.1)
    peers.on_view(2, ("n1", "n2"), 1.0)  # n3 rebooted
    assert peers.on_view(3, ("n1", "n2", "n3"), 2.0) is None  # back, its stonithd not yet
    assert peers.joined == {"n3"} and peers.peers == ("n1", "n2")
    assert peers.on_hello("n3", 2.5) == PeersChanged(("n1", "n2", "n3"), 2.5)


def test_a_hello_before_the_view_counts_once_the_view_includes_the_node() -> None:
    peers = PeerSet("n1")
    peers.on_view(1, ("n1",), 0.0)
    assert peers.on_hello("n2", 0.5) is None  # heard before ccm agreed on n2
    assert peers.reachable("n2") and not peers.should_answer("n2")  # our view lags
    assert peers.on_view(2, ("n1", "n2"), 1.0) == PeersChanged(("n1", "n2"), 1.0)
    assert peers.on_hello("n1", 1.5) is None  # our own broadcast comes back: ignored


def test_a_view_without_this_node_keeps_only_this_node() -> None:
    peers = PeerSet("n1")
    peers.on_view(1, ("n1", "n2"), 0.0)
    peers.on_hello("n2", 0.0)
    assert peers.on_view(2, ("n2", "n3"), 1.0) == PeersChanged(("n1",), 1.0)
    assert peers.others() == () and not peers.reachable("n2")


def test_query_does_not_wait_for_a_node_that_left_the_view() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3")))
    sim.kill("n2")  # n2 died: its reply never comes
    request(sim, "n1", FenceRequest("n3", "off", 60))
    sim.run_until(0.5)
    assert sim.replies_to("client:1") == []  # still waiting for n2's reply
    set_peers(sim, ("n1", "n3"))
    sim.run_until_idle()
    done = sim.replies_to("client:1")[0]
    assert isinstance(done, FenceResult) and done.ok
    assert sim.now < 2.0  # well before the 5 s query timeout


def test_device_sent_to_a_departed_executor_goes_to_another_node() -> None:
    resources = device("d1", pcmk_host_list="n1 n2 n3")
    constraints = only_on("d1", "n2").replace('node="n1" score="-INFINITY"', 'node="n1" score="0"')
    sim = fencing_simulation(NODES, cib(resources, constraints=constraints),
                              script=script(slow={"d1": 20.0}))
    request(sim, "n3", FenceRequest("n1", "off", 120))
    sim.run_until(1.0)
    assert fence_runs(sim) == [("n2", "d1", "off")]  # n2 preferred over the target n1
    sim.kill("n2")
    set_peers(sim, ("n1", "n3"))
    sim.run_until_idle()
    done = sim.replies_to("client:1")[0]
    assert isinstance(done, FenceResult)
    assert fence_runs(sim)[1:] == [("n1", "d1", "off")]  # the target, as a last resort
    assert done.ok and done.executioner == "n1"
    assert sim.now < 25.0  # not the device timeout (default 60 s * 1.2)


def test_departed_executor_without_alternative_fails_the_operation_at_once() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n3"),
                                         constraints=only_on("d1", "n2")),
                              script=script(slow={"d1": 20.0}))
    request(sim, "n1", FenceRequest("n3", "reboot", 120))
    sim.run_until(1.0)
    sim.kill("n2")
    set_peers(sim, ("n1", "n3"))
    sim.run_until(2.0)
    done = sim.replies_to("client:1")
    assert len(done) == 1 and isinstance(done[0], FenceResult) and not done[0].ok
    assert "n2 left the membership" in done[0].reason


def test_history_sync_stops_waiting_for_a_departed_node() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3")))
    sim.kill("n3")
    request(sim, "n1", HistoryRequest("n2", broadcast=True), client="client:h")
    sim.run_until(0.5)
    assert sim.replies_to("client:h") == []
    set_peers(sim, ("n1", "n2"))
    replies = sim.replies_to("client:h")
    assert len(replies) == 1 and isinstance(replies[0], HistoryReply)


def test_a_fencer_that_joins_receives_the_history_it_missed() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3")))
    sim.kill("n3")
    set_peers(sim, ("n1", "n2"))
    request(sim, "n1", FenceRequest("n2", "off", 60))
    sim.run_until_idle()
    done = sim.replies_to("client:1")[0]
    assert isinstance(done, FenceResult) and done.ok
    assert sim.core("n3", "stonithd").history.get(done.op_id) is None  # it was down
    sim.start("n3")
    set_peers(sim, ("n1", "n2", "n3"))
    sim.run_until_idle()
    entry = sim.core("n3", "stonithd").history.get(done.op_id)
    assert entry is not None and entry.target == "n2" and entry.executioner == "n1"
