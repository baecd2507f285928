"""Members whose controller does not run: the DC joins only the nodes whose controller runs
(Pacemaker's DC knows them from the controllers' process group), writes the others
``crmd="offline"`` (pending for the scheduler), and integrates them when their controller
starts; a controller killed and respawned again and again costs the cluster nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from crmd.fsa import FsaState
from crmd.join import JoinCoordinator, JoinPhase
from crmd.messages import JoinOffer, ModifyCib
from lab.sim.cluster import ControllerCluster as Cluster
from messaging.effects import Send
from tests.oracle import pacemaker_tool

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "cib-3node.xml"
IDS = {"alpha": "1", "beta": "2", "gamma": "3"}
JOIN_TIMEOUT = 180.0  # join-integration-timeout: the DC used to wait this long for beta


def _node_state(cib: bytes, uname: str) -> dict[str, str]:
    found = etree.fromstring(cib).find(f"status/node_state[@uname='{uname}']")
    assert found is not None, f"no node_state for {uname}"
    return dict(found.attrib)


def test_offers_go_only_to_members_whose_controller_runs() -> None:
    coordinator = JoinCoordinator("alpha", IDS, controllers={"alpha", "gamma"})
    effects = coordinator.offer_all({"alpha", "beta", "gamma"}, now=0.0)
    offered = sorted(e.destination.name for e in effects
                     if isinstance(e, Send) and isinstance(e.message, JoinOffer))
    assert offered == ["alpha", "gamma"]
    assert coordinator.phases.get("beta") is None


def test_a_member_without_controller_is_written_offline_without_expected() -> None:
    # Pacemaker's create_node_state_update: crmd="offline" when the controller process is
    # not running, join "down", and no expected attribute while it was never set.
    coordinator = JoinCoordinator("alpha", IDS, controllers={"alpha", "gamma"})
    coordinator.phases = {"alpha": JoinPhase.CONFIRMED, "gamma": JoinPhase.CONFIRMED}
    coordinator.expected = {"alpha": "member", "gamma": "member"}
    states = {etree.fromstring(e.xml).get("uname"): dict(etree.fromstring(e.xml).attrib)
              for e in coordinator.node_states({"alpha", "beta", "gamma"})
              if isinstance(e, ModifyCib)}
    beta = states["beta"]
    assert (beta["in_ccm"], beta["crmd"], beta["join"]) == ("true", "offline", "down")
    assert "expected" not in beta
    assert (states["gamma"]["crmd"], states["gamma"]["expected"]) == ("online", "member")


def test_without_controllers_known_every_member_is_offered() -> None:
    coordinator = JoinCoordinator("alpha", IDS)
    effects = coordinator.offer_all({"alpha", "beta", "gamma"}, now=0.0)
    assert len([e for e in effects if isinstance(e, Send)]) == 3


def _pending_cluster(stonith: bool) -> Cluster:
    cluster = Cluster(EXAMPLE, stonith=stonith)
    cluster.start_all()
    cluster.stop_controller("beta")
    cluster.run_for(10.0)
    return cluster


@pytest.mark.parametrize("stonith", [False, True], ids=["no-fencing", "fencing"])
def test_dc_goes_idle_without_the_member_and_integrates_it_later(stonith: bool) -> None:
    cluster = _pending_cluster(stonith)
    assert cluster.dc() == "alpha"
    assert cluster.controller("alpha").state is FsaState.IDLE, "DC held in the join"
    assert cluster.controller("gamma").state is FsaState.NOT_DC
    assert cluster.now < JOIN_TIMEOUT
    beta = _node_state(cluster.cib_text(), "beta")
    assert (beta["in_ccm"], beta["crmd"], beta["join"]) == ("true", "offline", "down")
    assert cluster.fenced == [], "a pending member is not fenced"
    if not stonith:  # with fencing, Pacemaker blocks starts until beta can be probed
        assert {"service-ip", "app-data", "app-daemon"} <= cluster.running()["alpha"]
    cluster.restart_controller("beta")
    cluster.run_for(10.0)
    assert cluster.controller("beta").state is FsaState.NOT_DC
    assert cluster.controller("alpha").state is FsaState.IDLE
    beta = _node_state(cluster.cib_text(), "beta")
    assert (beta["crmd"], beta["join"], beta["expected"]) == ("online", "member", "member")
    assert cluster.violations == []


@pytest.mark.oracle
def test_pacemaker_reads_the_member_without_controller_as_pending(tmp_path: Path) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    cluster = _pending_cluster(stonith=True)
    path = tmp_path / "cib.xml"
    path.write_bytes(cluster.cib_text())
    done = subprocess.run([tool, "-x", str(path), "-S"], capture_output=True, text=True,
                          env={**os.environ, "CIB_file": str(path)}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Node beta: pending" in done.stdout
    assert "Online: [ alpha gamma ]" in done.stdout
    assert "Fence" not in done.stdout, "Pacemaker would fence it: wrong node_state"


def test_a_controller_killed_and_respawned_gets_its_node_fenced_once() -> None:
    # Pacemaker's pacemakerd respawns a controller killed by a signal at once, but the DC
    # saw it leave the process group: crmd offline, and the scheduler fences the node
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    cluster.stop_controller("gamma")
    cluster.run_for(1.0)  # the launcher's respawn delay, far less than the silence limit
    cluster.restart_controller("gamma")
    cluster.run_for(20.0)
    assert cluster.dc() == "alpha" and cluster.controller("alpha").state is FsaState.IDLE
    assert cluster.fenced == ["gamma"]
    assert cluster.violations == []
