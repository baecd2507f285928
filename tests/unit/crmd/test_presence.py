"""A controller that dies while its node stays a member: the controllers notice its silence
(`crmd.presence`), the DC writes ``crmd="offline"`` as Pacemaker's `peer_update_callback`
does, and the scheduler fences the node ("peer process is no longer available",
Pacemaker 2.1.5's crm_simulate on the same CIB) before its resources start elsewhere."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from crmd.fsa import Controller
from crmd.fsa_matrix import FsaState
from crmd.messages import (
    ControllerAlive,
    ControllerStarted,
    Credentials,
    DeleteCib,
    JoinAnnounce,
    JoinOffer,
    MembershipView,
    ModifyCib,
    NoVote,
    PeerMessage,
    RunScheduler,
    SchedulerDone,
)
from crmd.plan_trigger import TRANSITION_TRIGGER
from crmd.presence import KEEPALIVE_TIMER, ControllerPresence, PresenceTiming
from lab.sim.cluster import ControllerCluster as Cluster
from messaging.clock import FakeClock
from messaging.effects import ALL_NODES, ArmTimer, Send, TimerFired
from pengine.api import TransitionGraph
from tests.oracle import pacemaker_tool

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "cib-3node.xml"
TIMING = PresenceTiming(keepalive=1.0, deadtime=5.0)


def _presence(clock: FakeClock) -> ControllerPresence:
    presence = ControllerPresence(Credentials("alpha", "3.16.2", 1.0), TIMING)
    presence.on_view({"alpha", "beta", "gamma"})
    return presence


def test_a_member_is_alive_once_heard_and_lost_once_after_deadtime_of_silence() -> None:
    clock = FakeClock()
    presence = _presence(clock)
    assert presence.alive == {"alpha"}, "a member counts only once its controller spoke"
    assert presence.heard("beta", clock.monotonic()) is True
    assert presence.heard("gamma", clock.monotonic()) is True
    assert presence.heard("beta", clock.monotonic()) is False
    clock.advance(4.0)
    presence.heard("gamma", clock.monotonic())
    effects, silent = presence.tick(clock.monotonic())
    assert silent == []
    assert Send(ALL_NODES, ControllerAlive(presence.credentials)) in effects
    assert ArmTimer(KEEPALIVE_TIMER, clock.monotonic() + TIMING.keepalive) in effects
    clock.advance(1.0)
    assert presence.tick(clock.monotonic())[1] == ["beta"]
    clock.advance(1.0)
    assert presence.tick(clock.monotonic())[1] == [], "reported once"
    assert presence.alive == {"alpha", "gamma"}
    assert presence.heard("beta", clock.monotonic()) is True, "back when it speaks again"


def test_a_node_leaving_the_view_is_forgotten_not_reported_lost() -> None:
    clock = FakeClock()
    presence = _presence(clock)
    presence.heard("beta", clock.monotonic())
    presence.on_view({"alpha", "gamma"})
    clock.advance(10.0)
    assert presence.tick(clock.monotonic())[1] == []
    assert presence.alive == {"alpha"}


def _node_state(cib: bytes, uname: str) -> dict[str, str]:
    found = etree.fromstring(cib).find(f"status/node_state[@uname='{uname}']")
    assert found is not None, f"no node_state for {uname}"
    return dict(found.attrib)


def _settled(stonith: bool) -> Cluster:
    cluster = Cluster(EXAMPLE, stonith=stonith)
    cluster.start_all()
    cluster.run_for(10.0)
    assert cluster.dc() == "alpha"
    return cluster


def _run_until_offline(cluster: Cluster, node: str, limit: float = 15.0) -> bytes:
    """Step until the DC's CIB says `node`'s controller is offline; that CIB."""
    end = cluster.now + limit
    while cluster.now < end:
        cluster.run_for(0.1)
        cib = cluster.cib_text()
        if _node_state(cib, node).get("crmd") == "offline":
            return cib
    raise AssertionError(f"{node} never written crmd=offline")


def test_a_dead_controller_gets_its_node_fenced_and_its_resources_moved() -> None:
    cluster = _settled(stonith=True)
    victim = next(n for n, rscs in cluster.running().items()
                  if n != "alpha" and "service-ip" in rscs)
    cluster.stop_controller(victim)
    cib = _run_until_offline(cluster, victim)
    state = _node_state(cib, victim)
    # Pacemaker's peer_update_callback writes only the peer flag: join/expected stay
    assert (state["in_ccm"], state["crmd"], state["join"], state["expected"]) == \
        ("true", "offline", "member", "member")
    assert state["crm-debug-origin"] == "peer_update_callback"
    cluster.run_for(20.0)
    assert victim in cluster.fenced
    survivors = {"alpha", "beta", "gamma"} - {victim}
    assert any("service-ip" in cluster.running().get(n, set()) for n in survivors)
    assert cluster.violations == []


def test_without_fencing_the_node_counts_as_offline_and_nothing_is_fenced() -> None:
    # Pacemaker 2.1.5's crm_simulate on that node_state without stonith: "Node beta:
    # UNCLEAN (offline)", its resources started on a survivor (it cannot be fenced)
    cluster = _settled(stonith=False)
    assert {"service-ip", "app-data", "app-daemon"} <= cluster.running()["beta"]
    cluster.stop_controller("beta")
    _run_until_offline(cluster, "beta")
    cluster.run_for(10.0)
    assert cluster.fenced == []
    assert cluster.controller("alpha").state is FsaState.IDLE
    assert {"service-ip", "app-data", "app-daemon"} <= cluster.running()["alpha"]


def test_a_lost_controller_that_comes_back_at_once_still_gets_its_node_fenced() -> None:
    # its new controller speaks right after the DC wrote it offline: the DC holds the
    # join until the graph answering the loss started, so the fencing goes ahead (as
    # Pacemaker's respawned controller returns after the scheduler answered)
    cluster = _settled(stonith=True)
    cluster.stop_controller("gamma")
    _run_until_offline(cluster, "gamma")
    cluster.restart_controller("gamma")
    cluster.run_for(20.0)
    assert "gamma" in cluster.fenced
    assert cluster.violations == []


def test_the_dc_controller_dying_elects_a_new_dc_that_fences_its_node() -> None:
    cluster = _settled(stonith=True)
    cluster.stop_controller("alpha")
    cluster.run_for(30.0)
    new_dc = cluster.dc()
    assert new_dc in ("beta", "gamma")
    assert "alpha" in cluster.fenced
    assert cluster.violations == []


def test_the_dc_controller_respawned_gets_its_node_fenced_by_the_new_dc() -> None:
    # Pacemaker: every peer sees the DC's controller leave the process group before the
    # respawned one joins it ("Our peer on the DC is dead": election, its transient
    # attributes erased); the new DC does not count a node whose controller is not in the
    # group, writes it crmd=offline, and its scheduler fences it ("peer process is no
    # longer available"), as for any other node's respawned controller
    cluster = _settled(stonith=True)
    cluster.restart_controller("alpha")
    cib = _run_until_offline(cluster, "alpha")
    new_dc = cluster.dc()
    assert new_dc in ("beta", "gamma")
    state = _node_state(cib, "alpha")
    # written by the new DC's join end for every node, Pacemaker's populate_cib_nodes
    assert (state["in_ccm"], state["crmd"], state["join"], state["expected"],
            state["crm-debug-origin"]) == ("true", "offline", "down", "member",
                                           "do_state_transition")
    cluster.run_for(20.0)
    assert "alpha" in cluster.fenced
    assert cluster.dc() == new_dc, "the respawned controller does not take the DC back"
    assert cluster.violations == []


@pytest.mark.oracle
def test_pacemaker_fences_the_node_whose_controller_is_offline(tmp_path: Path) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    cluster = _settled(stonith=True)
    cluster.stop_controller("gamma")
    path = tmp_path / "cib.xml"
    path.write_bytes(_run_until_offline(cluster, "gamma"))
    done = subprocess.run([tool, "-x", str(path), "-S"], capture_output=True, text=True,
                          env={**os.environ, "CIB_file": str(path)}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Node gamma: UNCLEAN (online)" in done.stdout
    assert "Fence (reboot) gamma 'peer process is no longer available'" in done.stdout


def _dc_alpha(clock: FakeClock) -> Controller:
    """alpha's core as an idle DC of alpha, beta and gamma, every controller heard."""
    core = Controller("alpha", {"alpha": "1", "beta": "2", "gamma": "3"}, started=1.0)
    core.start(clock.monotonic())
    core.handle(MembershipView(("alpha", "beta", "gamma"), True, clock.monotonic()))
    for peer in ("beta", "gamma"):
        core.handle(PeerMessage(peer, ControllerAlive(Credentials(peer, "3.16.2", 2.0)),
                                clock.monotonic()))
    core.handle(TimerFired("election:dc-wait", clock.advance(2.0)))
    for peer in ("beta", "gamma"):
        core.handle(PeerMessage(peer, NoVote(core.election.round, "alpha"), clock.monotonic()))
    assert core.is_dc
    core.state = FsaState.IDLE  # the join's own course is tested in test_fsa/test_join
    return core


def test_the_dc_holds_a_lost_controllers_join_until_the_next_graph_started() -> None:
    clock = FakeClock()
    core = _dc_alpha(clock)
    core.handle(PeerMessage("gamma", ControllerAlive(Credentials("gamma", "3.16.2", 2.0)),
                            clock.advance(5.0)))
    effects = core.handle(TimerFired(KEEPALIVE_TIMER, clock.advance(2.0)))
    writes = [e.xml for e in effects if isinstance(e, ModifyCib)]
    assert any('uname="beta"' in x and 'crmd="offline"' in x and "join=" not in x
               for x in writes), writes
    assert any(isinstance(e, DeleteCib) and "transient_attributes" in e.xpath
               for e in effects)
    # the replan waits for the trigger armed at once (every abort before it: one run)
    assert ArmTimer(TRANSITION_TRIGGER, clock.monotonic()) in effects
    effects = core.handle(TimerFired(TRANSITION_TRIGGER, clock.monotonic()))
    asked = [e for e in effects if isinstance(e, RunScheduler)]
    assert core.state is FsaState.POLICY_ENGINE and len(asked) == 1
    # beta's controller is back before the scheduler answered: its join waits
    back = core.handle(PeerMessage("beta", JoinAnnounce("beta"), clock.advance(0.1)))
    assert not [e for e in back if isinstance(e, Send) and isinstance(e.message, JoinOffer)]
    assert core.state is FsaState.POLICY_ENGINE
    graph = TransitionGraph(asked[0].transition_id, "60s", "60s", "INFINITY", "INFINITY",
                            0, -1, ())
    done = core.handle(SchedulerDone(graph, clock.advance(0.1)))
    offers = [e.destination.name for e in done
              if isinstance(e, Send) and isinstance(e.message, JoinOffer)]
    assert "beta" in offers, "offered once the graph answering the loss started"
    assert core.state is FsaState.INTEGRATION


def test_a_new_incarnation_of_a_running_controller_means_the_old_one_died() -> None:
    clock = FakeClock()
    presence = _presence(clock)
    assert presence.restarted("beta", 2.0) is False, "first heard: nothing to compare"
    presence.heard("beta", clock.monotonic())
    assert presence.restarted("beta", 2.0) is False
    assert presence.restarted("beta", 9.0) is True, "other start time: a new process"
    presence.lost("gamma")
    assert presence.restarted("gamma", 3.0) is False
    presence.lost("beta")
    assert presence.restarted("beta", 12.0) is False, "already counted as lost"


def test_the_dc_writes_a_respawned_controllers_node_offline_at_once() -> None:
    # Pacemaker's DC sees the killed controller leave the process group although
    # pacemakerd respawns it at once: crmd offline, a replan; the join waits for it
    clock = FakeClock()
    core = _dc_alpha(clock)
    effects = core.handle(PeerMessage("beta", ControllerStarted(
        Credentials("beta", "3.16.2", 7.0)), clock.advance(1.0)))
    writes = [e.xml for e in effects if isinstance(e, ModifyCib)]
    assert any('uname="beta"' in x and 'crmd="offline"' in x for x in writes), writes
    assert ArmTimer(TRANSITION_TRIGGER, clock.monotonic()) in effects  # the replan, at once
    core.handle(TimerFired(TRANSITION_TRIGGER, clock.monotonic()))
    assert core.state is FsaState.POLICY_ENGINE
    assert "beta" in core.controllers, "its new controller runs"
    back = core.handle(PeerMessage("beta", JoinAnnounce("beta"), clock.advance(0.1)))
    assert not [e for e in back if isinstance(e, Send) and isinstance(e.message, JoinOffer)]

