"""A controller's start is its join announcement: the DC answers it with its claim and a
join offer together, as Pacemaker's DC answers the join announce a starting controller
broadcasts (`do_cl_join_query`) with an offer (`do_dc_join_offer_one`), instead of waiting
for the announce the node sends once it learned the DC (one round trip less per late node
at a cold boot)."""

from __future__ import annotations

from pathlib import Path

from crmd.fsa_matrix import FsaState
from crmd.messages import ControllerStarted, Credentials, DcClaim, JoinOffer, PeerMessage
from lab.sim.cluster import ControllerCluster as Cluster
from messaging.clock import FakeClock
from messaging.effects import Node, Send
from tests.unit.crmd.test_presence import _dc_alpha

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "cib-3node.xml"


def test_the_dc_offers_a_join_with_its_claim_to_a_controller_that_starts() -> None:
    clock = FakeClock()
    core = _dc_alpha(clock)  # beta's controller as it announces its start (same age)
    effects = core.handle(PeerMessage("beta", ControllerStarted(
        Credentials("beta", "3.16.2", 2.0)), clock.advance(1.0)))
    to_beta = [type(e.message) for e in effects
               if isinstance(e, Send) and e.destination == Node("beta")]
    assert to_beta[:2] == [DcClaim, JoinOffer], to_beta
    assert core.state is FsaState.INTEGRATION


def test_a_start_from_outside_the_view_gets_no_offer() -> None:
    clock = FakeClock()
    core = _dc_alpha(clock)
    effects = core.handle(PeerMessage("delta", ControllerStarted(
        Credentials("delta", "3.16.2", 5.0)), clock.advance(1.0)))
    assert not [e for e in effects if isinstance(e, Send) and isinstance(e.message, JoinOffer)]
    assert core.state is FsaState.IDLE


def _arrivals(cluster: Cluster, node: str, source: str, kind: str) -> list[float]:
    """Simulated times `node`'s heartbeat delivered a crmd `kind` message from `source`."""
    marker = f"{node} heartbeat message/crmd: MessageReceived(src='{source}'"
    return [float(line.split()[0]) for line in cluster.trace_lines()
            if marker in line and kind in line]


def test_a_late_controller_is_offered_before_its_announce_reaches_the_dc() -> None:
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.stop_controller("beta")
    cluster.run_for(10.0)
    cluster.restart_controller("beta")
    cluster.run_for(10.0)
    offers = [t for t in _arrivals(cluster, "beta", "alpha", "JoinOffer") if t >= 10.0]
    announces = [t for t in _arrivals(cluster, "alpha", "beta", "JoinAnnounce") if t >= 10.0]
    assert offers and announces
    assert offers[0] < announces[0], "the offer waited for the node's announce"
    assert cluster.controller("beta").state is FsaState.NOT_DC
    assert cluster.controller("alpha").state is FsaState.IDLE
    assert cluster.violations == []


def _node_joins(cluster: Cluster, dc: str, since: int = 0) -> int:
    """How often `dc`'s controller took I_NODE_JOIN in its log records from `since` on."""
    return sum(1 for record in cluster.sim.daemon(dc, "crmd").log.records[since:]
               if record.event == "fsa_input" and record.fields.get("input") == "I_NODE_JOIN")


def test_a_late_controller_restarts_the_integration_once() -> None:
    # Pacemaker's controller announces itself once, at its start (`do_cl_join_query`):
    # the DC offers it a join (`do_dc_join_offer_one`, I_NODE_JOIN) and the round goes on.
    # Ours also announces when it learned the DC; with the first offer still unanswered
    # that announce only gets the same offer again, not a second I_NODE_JOIN (which
    # offered the DC itself again, set the node back to welcomed and, in FINALIZE_JOIN,
    # sent the DC back to INTEGRATION: at a cold boot, once more per late node).
    cluster = Cluster(EXAMPLE, stonith=True)
    cluster.start_all()
    cluster.stop_controller("beta")
    cluster.run_for(10.0)
    assert cluster.dc() == "alpha"
    logged = len(cluster.sim.daemon("alpha", "crmd").log.records)
    cluster.restart_controller("beta")
    cluster.run_for(10.0)
    announces = [t for t in _arrivals(cluster, "alpha", "beta", "JoinAnnounce") if t >= 10.0]
    assert announces, "beta announced itself once it learned the DC"
    assert _node_joins(cluster, "alpha", logged) == 1
    assert cluster.controller("beta").state is FsaState.NOT_DC
    assert cluster.controller("alpha").state is FsaState.IDLE
    assert cluster.violations == []
