"""Issue 10, fencing: a fencing the DC did not ask for (``stonith_admin --reboot beta`` or
``--off`` run on any node) is recorded by the DC like Pacemaker's controller records every
fencing its fencer notifies (`tengine_stonith_notify`): beta is written cleanly down
(join=down expected=down, its history erased) and the transition is replanned from there.
Before the fix the DC saw a fast-rebooting beta leave the view as an online member that
vanished, and fenced it a second time (with ``--off``, the DC's own reboot turned the node
back on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from lab.sim.cluster import ControllerCluster
from stonithd import api as fencing

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"
TARGET = "beta"  # it runs the group


def _settled_cluster(reboot_delay: float) -> ControllerCluster:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.devices.reboot_delay = reboot_delay  # the lab's nodes reboot within ~100 ms
    cluster.start_all()
    cluster.run_for(10.0)
    assert cluster.dc() == "alpha" and cluster.controller("alpha").engine.finished
    return cluster


def _stonith_admin(cluster: ControllerCluster, origin: str, action: str) -> None:
    """``stonith_admin --reboot/--off beta`` run on `origin`: a client of its stonithd."""
    sim = cluster.sim
    request = fencing.FenceRequest(TARGET, action, 60.0, client="stonith_admin")
    sim.feed(origin, "stonithd", lambda now: fencing.ClientRequest(
        "stonith_admin:1", request, now, sim.scheduler.wall()))


def _node_state(cluster: ControllerCluster) -> dict[str, str]:
    root = etree.fromstring(cluster.cib_text("alpha"))
    state = root.find(f"status/node_state[@uname='{TARGET}']")
    assert state is not None
    return dict(state.attrib)


@pytest.mark.parametrize("origin", ["alpha", "gamma"])
def test_an_external_reboot_of_a_node_that_rejoins_fast_is_not_fenced_again(
        origin: str) -> None:
    cluster = _settled_cluster(reboot_delay=0.1)
    _stonith_admin(cluster, origin, "reboot")
    cluster.run_for(30.0)
    assert cluster.fenced == [TARGET], "fenced once, by stonith_admin"
    assert cluster.fence_requests == [], "no controller asked for another fencing"
    state = _node_state(cluster)
    assert (state.get("in_ccm"), state.get("crmd"), state.get("join")) == \
        ("true", "online", "member"), state  # it rejoined after its reboot
    assert cluster.dc() == "alpha" and cluster.controller("alpha").engine.finished
    assert cluster.violations == [] and cluster.lrmd_audit.double_runs() == []


def test_an_external_off_leaves_the_node_cleanly_down_and_its_resources_move() -> None:
    cluster = _settled_cluster(reboot_delay=0.1)
    assert {rsc for rsc, node in cluster.placement() if node == TARGET}, "it runs things"
    _stonith_admin(cluster, "gamma", "off")
    cluster.run_for(30.0)
    assert cluster.fenced == [TARGET] and cluster.fence_requests == []
    assert TARGET not in cluster.alive
    state = _node_state(cluster)
    assert (state.get("in_ccm"), state.get("crmd"), state.get("join"),
            state.get("expected")) == ("false", "offline", "down", "down"), state
    placement = cluster.placement()
    assert placement and all(node != TARGET for _, node in placement), placement
    assert b"<lrm " not in etree.tostring(etree.fromstring(cluster.cib_text("alpha")).find(
        f"status/node_state[@uname='{TARGET}']"))
    assert cluster.violations == [] and cluster.lrmd_audit.double_runs() == []


@pytest.mark.parametrize("action", ["off", "reboot"])
def test_an_external_fencing_of_the_dc_is_recorded_by_the_next_dc(action: str) -> None:
    """The fenced node was the DC: no DC records it when the result arrives; the node
    that wins the election writes it cleanly down at the end of its join (Pacemaker's
    stonith cleanup list, run at the DC takeover) instead of fencing it again."""
    cluster = _settled_cluster(reboot_delay=0.1)
    sim = cluster.sim
    request = fencing.FenceRequest("alpha", action, 60.0, client="stonith_admin")
    sim.feed("gamma", "stonithd", lambda now: fencing.ClientRequest(
        "stonith_admin:1", request, now, sim.scheduler.wall()))
    cluster.run_for(30.0)
    assert cluster.fenced == ["alpha"], "fenced once, by stonith_admin"
    assert cluster.fence_requests == [], "no controller asked for another fencing"
    assert cluster.dc() in ("beta", "gamma")
    assert cluster.controller(cluster.dc() or "").engine.finished
    assert cluster.violations == [] and cluster.lrmd_audit.double_runs() == []
