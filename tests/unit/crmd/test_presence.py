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

from crmd.fsa import FsaState
from crmd.messages import ControllerAlive, Credentials
from crmd.presence import KEEPALIVE_TIMER, ControllerPresence, PresenceTiming
from lab.sim.cluster import ControllerCluster as Cluster
from messaging.clock import FakeClock
from messaging.effects import ALL_NODES, ArmTimer, Send
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


def test_without_fencing_the_dead_controller_is_only_written_offline() -> None:
    cluster = _settled(stonith=False)
    cluster.stop_controller("gamma")
    _run_until_offline(cluster, "gamma")
    cluster.run_for(10.0)
    assert cluster.fenced == []
    assert cluster.controller("alpha").state is FsaState.IDLE


def test_the_dc_controller_dying_elects_a_new_dc_that_fences_its_node() -> None:
    cluster = _settled(stonith=True)
    cluster.stop_controller("alpha")
    cluster.run_for(30.0)
    new_dc = cluster.dc()
    assert new_dc in ("beta", "gamma")
    assert "alpha" in cluster.fenced
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
