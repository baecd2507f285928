"""The controller's membership and election handling (part of `crmd.fsa.Controller`):
a new membership view, a member's controller lost or started again, a lost node, and the
DC changing (this node elected, or following another). Functions of the `Controller` they
change; pure like it (time in events, effects out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmd.election import DcChanged, ViewChanged
from crmd.fsa_matrix import DC_STATES, FsaInput
from crmd.graph import DC_OPTIONS_XML, dc_root_xml
from crmd.join import JoinCoordinator, JoinPhase, node_state_xml
from crmd.messages import CrmdEffect as Effect
from crmd.messages import JoinAnnounce, MembershipView, ModifyCib, NodeLeft
from crmd.presence import controller_gone_updates, former_dc_lost
from messaging.effects import Log, Node, Send

if TYPE_CHECKING:
    from crmd.fsa import Controller


def on_view(ctl: Controller, view: MembershipView) -> list[Effect]:
    """A new membership view: lost members are written down and their actions failed,
    joined ones are offered a join (on the DC)."""
    lost = ctl.members - set(view.members)
    joined = set(view.members) - ctl.members
    ctl.members = frozenset(view.members) | {ctl.name}
    ctl.fencing.seen |= ctl.members  # Pacemaker's peer cache: a state once seen
    ctl.presence.on_view(ctl.members)
    ctl.election.controllers = frozenset(ctl.controllers)
    ctl.awaiting_replan -= lost
    ctl.deferred_rejoins -= lost
    ctl.quorate = view.quorate
    effects: list[Effect] = [*ctl.election.handle(
        ViewChanged(tuple(sorted(ctl.members)), view.now))]
    if not ctl.is_dc:
        return effects
    effects.append(ModifyCib("cib", dc_root_xml(ctl.quorate, ctl.node_id)))
    for node in sorted(lost):
        effects += node_lost(ctl, node, view.now)
    if joined and ctl.coordinator is not None and ctl.state in DC_STATES:
        effects += ctl._abort("Node join", view.now)
        effects += ctl._input(FsaInput.NODE_JOIN, view.now)
        effects += ctl.coordinator.offer_unoffered(joined & ctl.controllers,
                                                   ctl.members, view.now)
    return effects + ctl._join_progress(view.now)  # a lost node may end the wait


def rejoin(ctl: Controller, node: str, now: float, claimed: bool = False) -> list[Effect]:
    """A member's controller started (or came back without its node leaving the view):
    offer it a join, as Pacemaker's `do_dc_join_offer_one` does even with an offer out
    (to a previous incarnation?). The join refreshes its history and re-probes."""
    if ctl.coordinator is None or ctl.state not in DC_STATES:
        return []
    if node in ctl.awaiting_replan:
        ctl.deferred_rejoins.add(node)
        return []
    effects = ctl._abort("Node join", now) + ctl._input(FsaInput.NODE_JOIN, now)
    return effects + ctl.coordinator.offer_one(node, ctl.members, now, claimed=claimed)


def node_lost(ctl: Controller, node: str, now: float) -> list[Effect]:
    """Membership lost `node`: write it down (expected unchanged, so an unexpected loss
    leaves it unclean for the scheduler to fence) and fail its in-flight actions."""
    expected = "member"
    if ctl.coordinator is not None:
        ctl.coordinator.phases[node] = JoinPhase.NONE
        expected = ctl.coordinator.expected.get(node, "member")
    update = node_state_xml(ctl.node_ids.get(node, node), node, "post_cache_update",
                            in_ccm=False, crmd_online=False, expected=expected)
    effects: list[Effect] = [ModifyCib("status", update)]
    effects += ctl.engine.handle(NodeLeft(node, now))
    return effects + ctl._abort("Node failure", now)


def controller_lost(ctl: Controller, node: str, now: float) -> list[Effect]:
    """`node` stays a member but its controller is gone (Pacemaker's
    `peer_update_callback` when a peer leaves the controllers' process group)."""
    ctl.presence.lost(node)
    effects: list[Effect] = [*ctl.election.controllers_changed(frozenset(ctl.controllers),
                                                               now)]
    effects.append(Log("controller_lost", "warning", (("node", node),)))
    if node == ctl.dc and not ctl.is_dc:
        return effects + ctl.election.call_election(now)  # "our peer on the DC is dead"
    if not ctl.is_dc or node not in ctl.members:
        return effects
    expected = ctl.coordinator.expected.get(node) if ctl.coordinator else None
    if ctl.coordinator is not None:
        ctl.coordinator.phases[node] = JoinPhase.NONE
    effects += controller_gone_updates(ctl.node_ids.get(node, node), node,
                                       expected_down=expected == "down")
    if expected == "down":  # it was told to shut down: a clean departure
        return effects + ctl._join_progress(now)
    ctl.awaiting_replan.add(node)
    effects += ctl.engine.handle(NodeLeft(node, now))
    return effects + ctl._abort("Node failure", now) + ctl._join_progress(now)


def on_dc_changed(ctl: Controller, change: DcChanged) -> list[Effect]:
    """The election core named a DC (or none): follow it, or start coordinating joins."""
    now = change.now
    if change.dc is None:
        ctl.coordinator = None
        return ctl._input(FsaInput.ELECTION, now)
    if change.dc != ctl.name:
        ctl.coordinator = None
        ctl.fencing.fenced_dcs.clear()  # that DC was told of them by its own fencer
        ctl.client.joined = False
        # Pacemaker's join announce: a DC that is offering already ignores it
        return [*ctl._input(FsaInput.PENDING, now),
                Send(Node(change.dc), JoinAnnounce(ctl.name))]
    ctl.coordinator = JoinCoordinator(
        ctl.name, ctl.node_ids, ctl.timing.join, controllers=ctl.controllers,
        seen=ctl.fencing.seen, copy=ctl.cib_version)
    effects = ctl._input(FsaInput.ELECTION_DC, now)
    effects += [ModifyCib("cib", dc_root_xml(ctl.quorate, ctl.node_id)),
                ModifyCib("crm_config", DC_OPTIONS_XML)]
    lost = sorted(ctl.election.take_lost_dcs() & ctl.members - {ctl.name})
    ctl.awaiting_replan.update(lost)  # their rejoin waits for the graph answering it
    effects += former_dc_lost(ctl.presence, lost, ctl.node_ids)
    return effects + ctl.coordinator.offer_all(ctl.members, now)
