"""The join protocol between a DC and its nodes, node_state entries, probe requests."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from crmd.join import (
    FINALIZATION_TIMER,
    INTEGRATION_TIMER,
    SYNC_TIMER,
    JoinClient,
    JoinCoordinator,
    JoinPhase,
    feature_set_compatible,
    node_state_xml,
    probe_requests,
)
from crmd.messages import (
    CibSynced,
    DeleteCib,
    JoinAckNack,
    JoinConfirm,
    JoinOffer,
    ModifyCib,
    PeerMessage,
    SyncCib,
    UpdateAttribute,
)
from crmd.recorder import merge_status
from messaging.effects import Node, Send, TimerFired
from tests.oracle import pacemaker_tool

ROOT = Path(__file__).resolve().parents[3]
IDS = {"alpha": "1", "beta": "2", "gamma": "3"}
EMPTY_LRM = '<lrm id="x"><lrm_resources/></lrm>'


class Wire:
    """Routes Sends between one coordinator and the clients (the DC's own client too)."""

    def __init__(self, dc: str, members: list[str], versions: dict[str, tuple[int, int, int]],
                 silent: frozenset[str] = frozenset()) -> None:
        self.coordinator = JoinCoordinator(dc, IDS, copy=versions[dc])
        self.clients = {n: JoinClient(n, IDS[n]) for n in members}
        self.versions = versions
        self.silent = silent
        self.cib: list[object] = []

    def run(self, effects: list[object]) -> None:
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            if isinstance(effect, Send) and isinstance(effect.message, (JoinOffer, JoinAckNack)):
                assert isinstance(effect.destination, Node)
                node = effect.destination.name
                if node in self.silent:
                    continue
                queue += self.clients[node].handle(
                    PeerMessage(self.coordinator.dc, effect.message, 1.0),
                    self.coordinator.dc, self.versions[node], EMPTY_LRM)
            elif isinstance(effect, Send):
                queue += self.coordinator.handle(PeerMessage("?", effect.message, 1.0))
            elif isinstance(effect, (SyncCib, ModifyCib, DeleteCib, UpdateAttribute)):
                self.cib.append(effect)

    def sync_done(self) -> None:
        self.run(self.coordinator.handle(CibSynced(True, 2.0)))


def test_full_join_confirms_everyone_and_replaces_their_lrm() -> None:
    wire = Wire("alpha", ["alpha", "beta", "gamma"],
                {"alpha": (0, 5, 3), "beta": (0, 5, 3), "gamma": (0, 4, 9)})
    wire.run(wire.coordinator.offer_all(["alpha", "beta", "gamma"], 0.0))
    assert wire.coordinator.integrated
    wire.run(wire.coordinator.finalize(1.0))
    assert SyncCib("") in wire.cib, "a tie on the highest version goes to the DC's copy"
    wire.sync_done()
    assert wire.coordinator.finalized
    assert set(wire.coordinator.phases.values()) == {JoinPhase.CONFIRMED}
    assert wire.coordinator.finalize(2.0) == [], "one sync per join round"
    deletes = [e.xpath for e in wire.cib if isinstance(e, DeleteCib)]
    assert deletes == ["/cib/status/node_state[@id='1']/lrm | "
                       "/cib/status/node_state[@id='2']/lrm | "
                       "/cib/status/node_state[@id='3']/lrm"], "one delete for the round"
    rewrites = [e for e in wire.cib if isinstance(e, ModifyCib) and "<lrm" in e.xml]
    assert len(rewrites) == 3 and wire.cib.index(rewrites[0]) > wire.cib.index(
        next(e for e in wire.cib if isinstance(e, DeleteCib))), "rewritten after the delete"
    nodes = [e.xml for e in wire.cib if isinstance(e, ModifyCib) and e.section == "nodes"]
    assert '<node id="3" uname="gamma"/>' in nodes
    assert UpdateAttribute("beta", "#feature-set", "3.16.2") in wire.cib


def test_the_join_ends_only_once_its_history_rewrites_are_answered() -> None:
    """Pacemaker's DC finalizes once its join updates completed: the echoes of the lrm
    deletes and rewrites then no longer abort the first transition (the lab's cold start
    lost a transition and a replan to them)."""
    wire = Wire("alpha", ["alpha", "beta"], {"alpha": (0, 5, 3), "beta": (0, 5, 3)})
    wire.run(wire.coordinator.offer_all(["alpha", "beta"], 0.0))
    wire.run(wire.coordinator.finalize(1.0))
    wire.sync_done()
    assert wire.coordinator.finalized and not wire.coordinator.syncing
    assert wire.coordinator.settle() == [SyncCib("")], "wait for the rewrites first"
    assert wire.coordinator.syncing and wire.coordinator.settle() == []
    wire.sync_done()
    assert not wire.coordinator.syncing and wire.coordinator.settle() == [], "settled"


def test_the_highest_cib_version_wins_the_sync() -> None:
    wire = Wire("alpha", ["alpha", "beta"], {"alpha": (0, 5, 3), "beta": (0, 6, 0)})
    wire.run(wire.coordinator.offer_all(["alpha", "beta"], 0.0))
    wire.run(wire.coordinator.finalize(1.0))
    assert SyncCib("beta") in wire.cib


def test_the_acks_wait_until_the_dc_copy_holds_the_best_version() -> None:
    """Pacemaker's DC syncs the CIB from the node with the highest version before it
    acks anyone (do_dc_join_finalize: sync_from, finalize_sync_callback); the acks used
    to go out as soon as the DC's own earlier writes were answered, on its older copy."""
    wire = Wire("alpha", ["alpha", "beta"], {"alpha": (0, 5, 3), "beta": (0, 6, 0)})
    wire.run(wire.coordinator.offer_all(["alpha", "beta"], 0.0))
    wire.run(wire.coordinator.finalize(1.0))
    wire.sync_done()
    assert set(wire.coordinator.phases.values()) == {JoinPhase.INTEGRATED}, "no ack yet"
    assert wire.coordinator.syncing and wire.coordinator.finalize(2.0) == []
    assert wire.coordinator.copy_reached((0, 5, 9)) == []
    wire.run(wire.coordinator.copy_reached((0, 6, 0)))
    assert set(wire.coordinator.phases.values()) == {JoinPhase.CONFIRMED}
    assert not wire.coordinator.syncing


def test_a_best_copy_that_never_arrives_starts_the_join_over() -> None:
    """Pacemaker's finalize_sync_callback restarts the join when the sync failed."""
    wire = Wire("alpha", ["alpha", "beta"], {"alpha": (0, 5, 3), "beta": (0, 6, 0)})
    wire.run(wire.coordinator.offer_all(["alpha", "beta"], 0.0))
    wire.run(wire.coordinator.finalize(1.0))
    wire.sync_done()
    first = wire.coordinator.join_id
    timeout = wire.coordinator.timing.sync_timeout
    effects = wire.coordinator.handle(TimerFired(SYNC_TIMER, 2.0 + timeout))
    assert wire.coordinator.join_id == first + 1 and not wire.coordinator.syncing
    assert {e.destination for e in effects if isinstance(e, Send)} == {
        Node("alpha"), Node("beta")}, "everyone offered again"
    assert wire.coordinator.copy_reached((0, 6, 0)) == [], "the old round's acks are gone"


def _round_without_gamma() -> Wire:
    """A round offered to alpha (the DC) and beta (the best CIB); gamma not yet a member."""
    wire = Wire("alpha", ["alpha", "beta", "gamma"],
                {"alpha": (0, 5, 3), "beta": (0, 6, 0), "gamma": (0, 4, 9)})
    wire.run(wire.coordinator.offer_all(["alpha", "beta"], 0.0))
    return wire


def test_a_node_offered_during_the_round_keeps_the_best_cib_seen_so_far() -> None:
    # Pacemaker forgets the best CIB (max_generation) only when a new round starts
    # (start_join_round); do_dc_join_offer_one keeps it while offering one more node
    wire = _round_without_gamma()
    wire.run(wire.coordinator.offer_one("gamma", ["alpha", "beta", "gamma"], 0.5))
    assert wire.coordinator.phases["beta"] is JoinPhase.INTEGRATED, "beta is not asked again"
    wire.run(wire.coordinator.finalize(1.0))
    assert SyncCib("beta") in wire.cib


def test_a_view_offers_only_the_members_not_offered_in_the_round() -> None:
    # Pacemaker's membership-driven offer_one (no announce message) offers the peers
    # whose join phase is still none, and neither the others nor the DC again
    wire = _round_without_gamma()
    effects = wire.coordinator.offer_unoffered({"beta", "gamma"}, ["alpha", "beta", "gamma"],
                                               0.5)
    offered = [e.destination for e in effects if isinstance(e, Send)]
    assert offered == [Node("gamma")]
    assert wire.coordinator.offer_unoffered({"beta"}, ["alpha", "beta", "gamma"], 0.6) == []
    wire.run(effects)
    wire.run(wire.coordinator.finalize(1.0))
    assert SyncCib("beta") in wire.cib


def test_integration_timeout_moves_on_without_the_silent_node() -> None:
    wire = Wire("alpha", ["alpha", "beta", "gamma"],
                {n: (0, 1, 0) for n in IDS}, silent=frozenset({"gamma"}))
    wire.run(wire.coordinator.offer_all(["alpha", "beta", "gamma"], 0.0))
    assert not wire.coordinator.integrated
    wire.coordinator.handle(TimerFired(INTEGRATION_TIMER, 180.0))
    assert wire.coordinator.integrated and wire.coordinator.phases["gamma"] is JoinPhase.NONE
    wire.run(wire.coordinator.finalize(181.0))
    wire.sync_done()
    assert wire.coordinator.finalized
    assert wire.coordinator.handle(TimerFired(FINALIZATION_TIMER, 999.0)) == []


def test_histories_wait_for_the_last_confirmation_or_its_timeout() -> None:
    wire = Wire("alpha", ["alpha", "beta", "gamma"], {n: (0, 1, 0) for n in IDS})
    wire.run(wire.coordinator.offer_all(["alpha", "beta", "gamma"], 0.0))
    wire.silent = frozenset({"gamma"})  # gamma answered the offer, never the ack
    wire.run(wire.coordinator.finalize(1.0))
    wire.sync_done()
    assert not [e for e in wire.cib if isinstance(e, DeleteCib)], "gamma may still confirm"
    wire.run(wire.coordinator.handle(TimerFired(FINALIZATION_TIMER, 1800.0)))
    assert [e.xpath for e in wire.cib if isinstance(e, DeleteCib)] == [
        "/cib/status/node_state[@id='1']/lrm | /cib/status/node_state[@id='2']/lrm"]
    assert wire.coordinator.finalized and wire.coordinator.settle() == [SyncCib("")]


def test_incompatible_feature_set_is_nacked_and_banned() -> None:
    assert feature_set_compatible("3.16.2", "3.17.0")
    assert not feature_set_compatible("3.16.2", "3.15.9")
    assert not feature_set_compatible("3.16.2", "4.0.0")
    wire = Wire("alpha", ["alpha", "beta"], {"alpha": (0, 1, 0), "beta": (0, 1, 0)})
    wire.clients["beta"] = JoinClient("beta", "2", feature_set="3.2.0")
    wire.run(wire.coordinator.offer_all(["alpha", "beta"], 0.0))
    assert wire.coordinator.phases["beta"] is JoinPhase.NACK
    assert wire.coordinator.expected["beta"] == "banned"
    assert wire.clients["beta"].rejected


def test_confirm_payload_is_the_nodes_state_with_its_lrm() -> None:
    client = JoinClient("beta", "2")
    client.handle(PeerMessage("alpha", JoinOffer(4, "alpha", "3.16.2"), 0.0), "alpha",
                  (0, 1, 0), EMPTY_LRM)
    effects = client.handle(PeerMessage("alpha", JoinAckNack(4, True), 0.1), "alpha",
                            (0, 1, 0), EMPTY_LRM)
    confirm = next(e.message for e in effects if isinstance(e, Send))
    assert isinstance(confirm, JoinConfirm)
    state = etree.fromstring(confirm.node_state_xml)
    assert dict(state.attrib) == {"id": "2", "uname": "beta", "in_ccm": "true",
                                  "crmd": "online",
                                  "crm-debug-origin": "controld_query_executor_state"}
    assert state[0].tag == "lrm"


def test_offers_from_a_node_we_do_not_follow_are_ignored() -> None:
    client = JoinClient("beta", "2")
    assert client.handle(PeerMessage("gamma", JoinOffer(1, "gamma", "3.16.2"), 0.0),
                         "alpha", (0, 1, 0), EMPTY_LRM) == []


def test_node_state_attributes_as_pacemaker_writes_them() -> None:
    # the corpus' healthy node shape (Pacemaker's own output), written by one update
    assert node_state_xml("1", "alpha", "do_state_transition", in_ccm=True, crmd_online=True,
                          join=JoinPhase.CONFIRMED, expected="member") == (
        '<node_state id="1" uname="alpha" in_ccm="true" crmd="online" join="member" '
        'expected="member" crm-debug-origin="do_state_transition"/>')
    assert node_state_xml("3", "gamma", "do_dc_join_offer_all", expected="down") == (
        '<node_state id="3" uname="gamma" expected="down" '
        'crm-debug-origin="do_dc_join_offer_all"/>')
    assert 'join="down"' in node_state_xml("3", "g", "x", join=JoinPhase.NONE)
    assert 'join="down"' in node_state_xml("3", "g", "x", join=JoinPhase.NACK)


def test_lost_node_is_expected_down_at_the_offer() -> None:
    coordinator = JoinCoordinator("alpha", IDS)
    effects = coordinator.offer_all(["alpha", "beta"], 0.0)
    updates = [e.xml for e in effects if isinstance(e, ModifyCib)]
    assert updates == ['<node_state id="3" uname="gamma" expected="down" '
                       'crm-debug-origin="do_dc_join_offer_all"/>']


def test_phases_only_move_forward_one_step() -> None:
    coordinator = JoinCoordinator("alpha", IDS)
    coordinator.offer_all(["alpha"], 0.0)
    assert not coordinator._move("alpha", JoinPhase.CONFIRMED)
    assert coordinator._move("alpha", JoinPhase.INTEGRATED)
    assert coordinator._move("alpha", JoinPhase.NONE)


def test_probe_requests_cover_every_configured_primitive() -> None:
    requests = probe_requests((ROOT / "examples" / "cib-3node.xml").read_text(), "beta")
    assert sorted(r.resource for r in requests) == ["app-daemon", "app-data",
                                                    "heartbeat-probe", "service-ip"]
    assert {(r.action, r.interval_ms, r.target_rc) for r in requests} == {("monitor", 0, 7)}
    ip = next(r for r in requests if r.resource == "service-ip")
    assert ip.params == {"ip": "10.77.0.100", "cidr_netmask": "24"}
    assert str(ip.agent) == "ocf:heartbeat:IPaddr2"


@pytest.mark.oracle
def test_crm_simulate_reads_our_node_states(tmp_path: Path) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Debian's crm_simulate is not installed")
    cib = etree.parse(str(ROOT / "examples" / "cib-3node.xml")).getroot()
    status = cib.find("status")
    assert status is not None
    for child in list(status):
        status.remove(child)
    coordinator = JoinCoordinator("alpha", IDS)
    coordinator.offer_all(["alpha", "beta"], 0.0)  # gamma is lost
    for node in ("alpha", "beta"):
        coordinator.phases[node] = JoinPhase.CONFIRMED
        coordinator.expected[node] = "member"
    for effect in coordinator.node_states(["alpha", "beta"]):
        assert isinstance(effect, ModifyCib)
        merge_status(status, effect.xml)
    path = tmp_path / "cib.xml"
    path.write_bytes(etree.tostring(cib))
    env = {**os.environ, "CIB_file": str(path)}
    done = subprocess.run([tool, "-x", str(path)], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = {re.sub(r"\s+", " ", line.strip()) for line in done.stdout.splitlines()}
    assert "* Online: [ alpha beta ]" in lines
    assert "* OFFLINE: [ gamma ]" in lines
