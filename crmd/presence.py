"""Which peers' controllers run: one node's view of the controllers' process group.

Pacemaker's controllers learn that a peer's controller is up or gone from corosync's process
group (CPG) for the controllers (`peer_update_callback`, `crm_update_peer_proc`): a member
whose controller left the group while its node stayed in the membership is written
``crmd="offline"`` by the DC, and its scheduler then reads the node as unclean ("peer
process is no longer available") and fences it. Heartbeat has no process group, so the
controllers keep one themselves over the crmd channel:

- every controller broadcasts `ControllerAlive` (its credentials) every `keepalive`
  seconds; any frame from a peer's controller counts as hearing from it;
- a member not heard from for `deadtime` seconds has lost its controller (a crash without
  respawn, a hung or stopped process);
- a controller that is killed and respawned before `deadtime` runs out is lost all the
  same: its new incarnation speaks with other credentials (its start time), which proves
  the old one left (`restarted`). Pacemaker's DC sees the process-group leave at once
  (`peer_update_callback`: crmd offline, "Node failure" abort) although pacemakerd
  respawns the controller right away (`pcmk_child_exit` -> `pcmk_process_exit`), and its
  scheduler fences the node ("peer process is no longer available").
- a lost controller's node is fenced by the scheduler; if its controller speaks again
  first, the DC holds its join until the graph answering the loss has started
  (`crmd.fsa.Controller`), as Pacemaker's respawned controller comes back after the
  scheduler's answer.
- the DC's own controller lost (silent, or respawned): the peers elect, and the new DC
  answers that loss like any other (`former_dc_lost`), as Pacemaker's peers see it leave
  the process group before the respawned one joins.

Invariants: pure (time comes in calls, no clock); `alive` always holds this node and only
members of the last view; a peer is reported lost at most once until it is heard again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crmd.join import JoinPhase, node_state_xml
from crmd.messages import ControllerAlive, Credentials, CrmdEffect, DeleteCib, ModifyCib
from messaging.effects import ALL_NODES, ArmTimer, Effect, Log, Send

KEEPALIVE_TIMER = "presence:keepalive"


@dataclass(frozen=True, slots=True)
class PresenceTiming:
    keepalive: float = 2.0  # seconds between this controller's ControllerAlive broadcasts
    # silence after which a member's controller counts as gone: several keepalives, so a
    # busy peer (a long scheduler run, a large CIB write) is not taken for a dead one
    deadtime: float = 6.0


class ControllerPresence:
    """The controllers of this node's view that are known to run."""

    def __init__(self, credentials: Credentials, timing: PresenceTiming | None = None) -> None:
        self.credentials = credentials
        self.name = credentials.name
        self.timing = timing or PresenceTiming()
        self.members: frozenset[str] = frozenset({self.name})
        self.alive: set[str] = {self.name}
        self.last_heard: dict[str, float] = {}
        # the start time (election age) each peer's controller announced: a new one is a
        # new process, so the old one is gone even if no silence showed it
        self.incarnations: dict[str, float] = {}

    def start(self, now: float) -> list[Effect]:
        if self.timing.keepalive <= 0:
            return []
        return [ArmTimer(KEEPALIVE_TIMER, now + self.timing.keepalive)]

    def on_view(self, members: Iterable[str]) -> None:
        """A new view: departed nodes are forgotten (their loss is a node loss, not a
        controller loss); a member joining is alive only once its controller is heard."""
        self.members = frozenset(members) | {self.name}
        self.alive &= self.members
        for node in set(self.last_heard) - self.members:
            del self.last_heard[node]
        for node in set(self.incarnations) - self.members:
            del self.incarnations[node]

    def restarted(self, source: str, incarnation: float) -> bool:
        """`source`'s controller spoke with start time `incarnation`; True when a controller
        known to run there had another one: that process is gone (killed and respawned
        before its silence counted). Call before `heard`."""
        if source == self.name:
            return False
        known = self.incarnations.get(source)
        self.incarnations[source] = incarnation
        return source in self.alive and known is not None and known != incarnation

    def restarted_sender(self, source: str, message: object) -> bool:
        """`restarted` for a frame carrying its sender's credentials (any other: False).
        Pacemaker's DC saw that old controller leave the process group although
        pacemakerd respawned it, and answers as for any lost controller."""
        credentials = getattr(message, "credentials", None)
        return isinstance(credentials, Credentials) and credentials.name == source \
            and self.restarted(source, credentials.started)

    def heard(self, source: str, now: float) -> bool:
        """A frame from `source`'s controller arrived; True when its controller was not
        known to run (it appeared)."""
        if source == self.name:
            return False
        self.last_heard[source] = now
        appeared = source not in self.alive
        self.alive.add(source)
        return appeared

    def tick(self, now: float) -> tuple[list[Effect], list[str]]:
        """The keepalive timer fired: broadcast, re-arm, and report the members whose
        controller has been silent for `deadtime` (each once)."""
        silent = sorted(node for node in self.alive - {self.name}
                        if now - self.last_heard.get(node, now) >= self.timing.deadtime)
        self.alive -= set(silent)
        effects: list[Effect] = [Send(ALL_NODES, ControllerAlive(self.credentials)),
                                 *self.start(now)]
        return effects, silent

    def lost(self, node: str) -> None:
        """`node`'s controller is gone for another reason (it said it stops)."""
        self.alive.discard(node)


def former_dc_lost(presence: ControllerPresence, nodes: Iterable[str],
                   node_ids: dict[str, str]) -> list[CrmdEffect]:
    """A new DC just won and `nodes` are members whose controller died while they were DC:
    they count as lost controllers, their transient attributes are erased, and they are
    not offered a join (the DC's caller holds their rejoin until the graph answering the
    loss started). Pacemaker's peers see such a controller leave the process group
    ("Our peer on the DC is dead": attributes erased, an election) before its respawned
    successor joins it; the new DC offers joins to the group's members only, its join's
    end writes the node ``crmd="offline"``, and the scheduler fences it ("peer process is
    no longer available")."""
    effects: list[CrmdEffect] = []
    for node in nodes:
        presence.lost(node)
        node_id = node_ids.get(node, node)
        effects += [Log("former_dc_controller_lost", "warning", (("node", node),)),
                    _attributes_erased(node_id)]
    return effects


def _attributes_erased(node_id: str) -> DeleteCib:
    return DeleteCib(f"/cib/status/node_state[@id='{node_id}']/transient_attributes")


def controller_gone_updates(node_id: str, node: str, *, expected_down: bool
                            ) -> list[CrmdEffect]:
    """What the DC writes when `node`'s controller is gone while the node stays a member
    (Pacemaker's `peer_update_callback`): its transient attributes are erased and its
    node_state gets ``crmd="offline"`` only, so join and expected stay ``member`` and the
    scheduler reads the node as unclean ("peer process is no longer available"); a node
    that was told to shut down (`expected_down`) also gets join down, expected down."""
    erase = _attributes_erased(node_id)
    if expected_down:
        state = node_state_xml(node_id, node, "peer_update_callback", crmd_online=False,
                               join=JoinPhase.NONE, expected="down")
    else:
        state = node_state_xml(node_id, node, "peer_update_callback", crmd_online=False)
    return [erase, ModifyCib("status", state)]
