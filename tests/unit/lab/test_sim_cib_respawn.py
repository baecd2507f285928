"""A cib daemon respawned while its node stays in the view, in the whole-cluster simulator
(issue 9, seen in the lab): the simulator starts it as the daemon starts (its last
persisted copy without the status, `fresh`), and within a moment of its start, with no
write in between, its copy is the master's again, status included; the DC stays."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from lab.sim.cib_replica import cib_text
from lab.sim.cluster import ControllerCluster

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"


def _node_states(text: bytes) -> int:
    return len(etree.fromstring(text).findall("status/node_state"))


def test_a_respawned_cib_serves_the_masters_status_again() -> None:
    cluster = ControllerCluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.run_for(10.0)
    dc = cluster.dc()
    assert dc is not None
    for node in [*(name for name in cluster.names if name != dc), dc]:
        cluster.sim.restart_daemon(node, "cib")
        cluster.run_for(2.0)
        copies = {name: cib_text(cluster.sim, name) for name in cluster.names}
        assert len(set(copies.values())) == 1, f"{node}'s respawned cib differs"
        assert _node_states(copies[node]) == len(cluster.names)
        assert cluster.dc() == dc
    assert cluster.fenced == [] and cluster.violations == []
