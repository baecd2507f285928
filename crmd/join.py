"""The join protocol: the DC's side (`JoinCoordinator`), a node's side (`JoinClient`), the
``node_state`` entries it writes and the probe requests for a node's resources.

Pacemaker's join (`controld_join_dc.c`, `controld_join_client.c`):
offer (DC -> every member whose controller runs, phase welcomed) -> request (node -> DC with
its CIB version; phase integrated, expected=member, or nack: expected=banned) -> when nobody
is still welcomed, the DC syncs the best CIB (highest (admin_epoch, epoch, num_updates), the
DC's own copy wins ties; the cib daemons fetch it, and the acks wait until the DC's own copy
holds its version, else the join starts over) -> ack (DC -> each integrated node; phase
finalized; ``<node>`` added to configuration/nodes) -> confirm (node -> DC with its
``node_state`` and a fresh ``<lrm>`` built from its executor history; the DC deletes that
node's old ``lrm`` and writes the new one; phase confirmed). When no node is welcomed,
integrated or finalized the join is over. Integration and finalisation timeouts move on with
whoever answered. A member whose controller does not run is not offered (it would hold the
join for the integration timeout); it is written ``crmd="offline"``, ``join="down"`` and is
offered when its controller announces itself.

Invariants: a node's phase only moves to none/nack or to exactly the next phase; messages
carrying another join id are ignored; ``node_state`` attributes are written exactly as
Pacemaker 2.1.5 does (``join`` is only ``down``/``member``; ``expected`` is ``member``,
``down``, ``pending`` or ``banned``). Pure: effects out, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lxml import etree

from crmd.graph import FEATURE_SET
from crmd.messages import (
    CibSynced,
    CrmdEffect,
    DeleteCib,
    JoinAckNack,
    JoinConfirm,
    JoinOffer,
    JoinRequest,
    ModifyCib,
    PeerMessage,
    SyncCib,
    UpdateAttribute,
)
from lrmd.api import AgentSpec, ExecRequest
from messaging.effects import ArmTimer, CancelTimer, Log, Node, Send, TimerFired

INTEGRATION_TIMER = "join:integration"
FINALIZATION_TIMER = "join:finalization"
SYNC_TIMER = "join:sync"


class JoinPhase(enum.IntEnum):
    NONE = 0
    WELCOMED = 1
    INTEGRATED = 2
    FINALIZED = 3
    CONFIRMED = 4
    NACK = -1


def node_state_xml(node_id: str, uname: str, origin: str, *, in_ccm: bool | None = None,
                   crmd_online: bool | None = None, join: JoinPhase | None = None,
                   expected: str | None = None, children: Iterable[str] = ()) -> str:
    """A ``node_state`` update carrying only the attributes given (the update flags of
    `create_node_state_update`), in Pacemaker's attribute order."""
    element = etree.Element("node_state", id=node_id, uname=uname)
    if in_ccm is not None:
        element.set("in_ccm", "true" if in_ccm else "false")
    if crmd_online is not None:
        element.set("crmd", "online" if crmd_online else "offline")
    if join is not None:
        element.set("join", "member" if join > JoinPhase.NONE else "down")
    if expected is not None:
        element.set("expected", expected)
    element.set("crm-debug-origin", origin)
    for child in children:
        element.append(etree.fromstring(child))
    return etree.tostring(element, encoding="unicode")


def feature_set_compatible(dc_version: str, join_version: str) -> bool:
    """Same major version, and the joining node no older than the DC (the DC is elected
    as the oldest, so a younger joiner is fine and an older one is not)."""
    def parse(text: str) -> tuple[int, int]:
        parts = [int(p) if p.isdigit() else 0 for p in text.split(".")] + [0, 0]
        return parts[0], parts[1]
    dc, joiner = parse(dc_version), parse(join_version)
    return dc[0] == joiner[0] and dc[1] <= joiner[1]


@dataclass(frozen=True, slots=True)
class JoinTiming:
    integration_timeout: float = 180.0  # join-integration-timeout (3min)
    finalization_timeout: float = 1800.0  # join-finalization-timeout (30min)
    # how long the DC waits for its copy to reach the best copy's version: longer than the
    # cib's view sync may take to fetch it (cib.replication: 5 asks 2 s apart, a 2 s fetch)
    sync_timeout: float = 15.0


class JoinCoordinator:
    """The DC's join bookkeeping. `node_ids` maps node names to CIB node ids."""

    def __init__(self, dc: str, node_ids: Mapping[str, str], timing: JoinTiming | None = None,
                 feature_set: str = FEATURE_SET, *,
                 controllers: set[str] | None = None, seen: set[str] | None = None,
                 copy: tuple[int, int, int] = (0, 0, 0)) -> None:
        """`controllers`: the nodes whose controller is known to run, kept up to date by
        the caller (None: assume every member's). `seen`: the nodes ever in this
        controller's views or fenced by it, also kept by the caller (None: every
        configured node); only those get ``node_state`` writes (`known`). `copy`: the
        version of this node's CIB copy, then kept up to date with `copy_reached`."""
        self.dc = dc
        self.controllers = controllers
        self.seen = seen
        self.node_ids = dict(node_ids)
        self.timing = timing or JoinTiming()
        self.feature_set = feature_set
        self.join_id = 0
        self.members: frozenset[str] = frozenset()
        self.phases: dict[str, JoinPhase] = {}
        self.expected: dict[str, str] = {}
        self.best: tuple[tuple[int, int, int], str] | None = None
        self.syncing = False
        self.local_version = copy
        self.copy_wanted: tuple[int, int, int] | None = None  # acks wait for this version
        self.unsettled = False  # confirmations written since the last settle
        self.rewrites: dict[str, str] = {}  # confirmed node -> its node_state with lrm
        self.powered_down: set[str] = set()  # fenced; no controller of its next boot offered
        self.claimed: set[str] = set()  # offered behind the claim answering their start

    def running(self, members: Iterable[str]) -> set[str]:
        """The members whose controller runs (the DC's always does)."""
        members = set(members)
        known = members if self.controllers is None else members & self.controllers
        return known | {self.dc}

    def node_id(self, node: str) -> str:
        return self.node_ids.get(node, node)

    def known(self, members: Iterable[str]) -> set[str]:
        """The nodes given a ``node_state``: members and the configured nodes seen before.
        Pacemaker's `create_node_state_update` writes nothing for a peer without a
        membership state ("not seen yet"), so a configured node that never booted has no
        ``node_state`` and its scheduler treats it as unseen: UNCLEAN and fenced once the
        cluster is quorate under startup-fencing=true (the default), merely offline
        under startup-fencing=false."""
        configured = set(self.node_ids) if self.seen is None else set(self.node_ids) & self.seen
        return configured | set(members)

    @property
    def integrated(self) -> bool:
        """Nobody is still welcomed (everyone answered the offer, or was given up on)."""
        return JoinPhase.WELCOMED not in self.phases.values()

    @property
    def finalized(self) -> bool:
        busy = {JoinPhase.WELCOMED, JoinPhase.INTEGRATED, JoinPhase.FINALIZED}
        return not busy & set(self.phases.values())

    def _move(self, node: str, phase: JoinPhase) -> bool:
        current = self.phases.get(node, JoinPhase.NONE)
        if phase in (JoinPhase.NONE, JoinPhase.NACK) or phase == current + 1:
            self.phases[node] = phase
            return True
        return False

    def offer_all(self, members: Iterable[str], now: float) -> list[CrmdEffect]:
        """A new join round: every member whose controller runs is offered (Pacemaker's
        `do_dc_join_offer_all` offers active peers only: a member without a controller
        would hold the join until the integration timeout); lost nodes are expected down."""
        self.join_id += 1
        self.members = frozenset(members) | {self.dc}
        self.phases = {}
        self.claimed = set()
        self.rewrites = {}
        self.best, self.copy_wanted = None, None
        self.syncing = False
        effects: list[CrmdEffect] = [Log("join_offered", fields=(("join_id", self.join_id),))]
        for node in sorted(self.known(self.members) - self.members):
            if node not in self.expected:
                self.expected[node] = "down"
                effects.append(ModifyCib("status", node_state_xml(
                    self.node_id(node), node, "do_dc_join_offer_all", expected="down")))
        for node in sorted(self.running(self.members)):
            effects += self._offer(node)
        return [*effects, ArmTimer(INTEGRATION_TIMER, now + self.timing.integration_timeout)]

    def offer_one(self, node: str, members: Iterable[str], now: float, *,
                  claimed: bool = False) -> list[CrmdEffect]:
        """A node announced itself during an existing round: offer it, and the DC itself
        again, so the DC's own CIB version takes part in the comparison. The round goes on
        (Pacemaker's `do_dc_join_offer_one`: same join id, the other nodes keep their
        phase, and the best CIB seen so far is kept: only a new round forgets it).
        `claimed`: the offer follows the DC's claim answering the node's controller start,
        so the node follows this DC by the time the offer arrives (see `reoffer`)."""
        self.members = frozenset(members) | {self.dc}
        self.copy_wanted = None  # a sync under way is abandoned; the best CIB is kept
        self.syncing = False
        effects = self._offer(node) + (self._offer(self.dc) if node != self.dc else [])
        if claimed:
            self.claimed.add(node)
        return [*effects, ArmTimer(INTEGRATION_TIMER, now + self.timing.integration_timeout)]

    def offer_unoffered(self, nodes: Iterable[str], members: Iterable[str],
                        now: float) -> list[CrmdEffect]:
        """Members joined the view during a round: offer those not offered yet in it, and
        nobody else (Pacemaker's `do_dc_join_offer_one` for a membership change, which
        carries no announce: "offers to any unconfirmed nodes", skipping a node whose
        join phase is past none, without offering the DC again). [] if all were."""
        self.members = frozenset(members) | {self.dc}
        fresh = [n for n in sorted(nodes)
                 if self.phases.get(n, JoinPhase.NONE) is JoinPhase.NONE]
        if not fresh:
            return []
        self.syncing = False
        effects = [e for node in fresh for e in self._offer(node)]
        return [*effects, ArmTimer(INTEGRATION_TIMER, now + self.timing.integration_timeout)]

    def reoffer(self, node: str) -> list[CrmdEffect] | None:
        """`node` announced itself (it learned the DC) while the offer that followed the
        claim answering its controller's start is still unanswered: the same offer again,
        nothing else changed (None: otherwise). Pacemaker's controller announces once, at
        its start (`do_cl_join_query`); ours announces again once it follows the DC, and
        drops an offer from a node it does not follow yet (the claim may wait for its next
        view), so the offer is sent again; a second request is ignored (the phase moved
        on). `offer_one` would have offered the DC again, set the node back to welcomed
        and, in FINALIZE_JOIN, restarted the integration. Any other announce (a DC of a
        merged partition giving way) gets `offer_one`: the node's history changed since."""
        if node not in self.claimed or self.phases.get(node) is not JoinPhase.WELCOMED:
            return None
        return [Send(Node(node), JoinOffer(self.join_id, self.dc, self.feature_set))]

    def _offer(self, node: str) -> list[CrmdEffect]:
        self.powered_down.discard(node)  # a controller of its next boot: in the view again
        self.claimed.discard(node)
        self.phases[node] = JoinPhase.NONE
        self._move(node, JoinPhase.WELCOMED)
        return [Send(Node(node), JoinOffer(self.join_id, self.dc, self.feature_set))]

    def handle(self, event: PeerMessage | CibSynced | TimerFired) -> list[CrmdEffect]:
        if isinstance(event, CibSynced):
            return self._synced(event)
        if isinstance(event, TimerFired):
            return self._timer(event)
        message = event.message
        if isinstance(message, JoinRequest) and message.join_id == self.join_id:
            return self._request(message)
        if isinstance(message, JoinConfirm) and message.join_id == self.join_id:
            return self._confirm(message)
        return []

    def _request(self, request: JoinRequest) -> list[CrmdEffect]:
        node = request.node
        if self.phases.get(node) is not JoinPhase.WELCOMED:
            return []
        if node not in self.members or not feature_set_compatible(self.feature_set,
                                                                  request.feature_set):
            self._move(node, JoinPhase.NACK)
            self.expected[node] = "banned"
            return [Log("join_rejected", "warning", (("node", node),)),
                    Send(Node(node), JoinAckNack(self.join_id, ack=False))]
        self._move(node, JoinPhase.INTEGRATED)
        self.expected[node] = "member"
        version = tuple(request.cib_version)
        if (self.best is None or version > self.best[0]
                or (version == self.best[0] and node == self.dc)):
            self.best = (request.cib_version, node)
        return [CancelTimer(INTEGRATION_TIMER)] if self.integrated else []

    def finalize(self, now: float) -> list[CrmdEffect]:
        """Sync the best CIB to everyone; the acks follow when the sync is done."""
        if not self.integrated or self.syncing \
                or JoinPhase.INTEGRATED not in self.phases.values():
            return []  # still waiting, already syncing, or nobody left to finalize
        self.syncing = True
        source = self.best[1] if self.best is not None and self.best[1] != self.dc else ""
        return [SyncCib(source), ArmTimer(FINALIZATION_TIMER,
                                          now + self.timing.finalization_timeout)]

    def _synced(self, event: CibSynced) -> list[CrmdEffect]:
        if not self.syncing or self.copy_wanted is not None:
            return []
        if not event.ok:
            self.syncing = False
            return [Log("join_sync_failed", "warning"), *self.offer_all(self.members, event.now)]
        if JoinPhase.INTEGRATED in self.phases.values() and self.best is not None \
                and self.best[1] != self.dc and self.local_version < self.best[0]:
            # Pacemaker's DC syncs the CIB from the node holding the highest version before
            # it acks anyone (do_dc_join_finalize: sync_from, then finalize_sync_callback).
            # Here the cib daemons fetch the best copy at the view change (cib.replication):
            # the acks wait until the DC's own copy holds that version, so no node is
            # finalized, and no scheduler run follows, on an older CIB.
            self.copy_wanted, source = self.best
            version = ".".join(map(str, self.copy_wanted))
            return [Log("join_sync_waiting", fields=(("source", source), ("version", version))),
                    ArmTimer(SYNC_TIMER, event.now + self.timing.sync_timeout)]
        self.syncing = False
        return self._ack_integrated()

    def copy_reached(self, version: tuple[int, int, int]) -> list[CrmdEffect]:
        """The DC's own CIB copy now has `version`: the acks held for the best copy go
        out once it reaches that copy's version."""
        self.local_version = version
        if self.copy_wanted is None or version < self.copy_wanted:
            return []
        self.copy_wanted, self.syncing = None, False
        return [CancelTimer(SYNC_TIMER), *self._ack_integrated()]

    def _ack_integrated(self) -> list[CrmdEffect]:
        effects: list[CrmdEffect] = []
        for node in sorted(n for n, p in self.phases.items() if p is JoinPhase.INTEGRATED):
            self._move(node, JoinPhase.FINALIZED)
            entry = etree.Element("node", id=self.node_id(node), uname=node)
            effects += [ModifyCib("nodes", etree.tostring(entry, encoding="unicode")),
                        Send(Node(node), JoinAckNack(self.join_id, ack=True))]
        return effects

    def _confirm(self, confirm: JoinConfirm) -> list[CrmdEffect]:
        node = confirm.node
        if not self._move(node, JoinPhase.CONFIRMED):
            return []
        self.rewrites[node] = confirm.node_state_xml
        return self._rewrite_history()

    def _rewrite_history(self) -> list[CrmdEffect]:
        """Once nobody is left to confirm: delete every confirmed node's ``lrm`` and write
        the history it sent, as two CIB writes for the whole round (one xpath union, one
        merged status update) rather than two per node: each write is a replicated round
        trip, and the scheduler runs only after the join (Pacemaker's DC issues them per
        node, but its CIB calls are asynchronous, not one at a time)."""
        if not self.finalized:
            return []
        effects: list[CrmdEffect] = [CancelTimer(FINALIZATION_TIMER)]
        written = self.rewrites
        nodes = sorted(n for n in written if self.phases.get(n) is JoinPhase.CONFIRMED)
        self.rewrites = {}
        if not nodes:
            return effects
        effects.append(DeleteCib(" | ".join(
            f"/cib/status/node_state[@id='{self.node_id(n)}']/lrm" for n in nodes)))
        effects += [ModifyCib("status", written[n]) for n in nodes]
        self.unsettled = True
        return effects

    def settle(self) -> list[CrmdEffect]:
        """Everyone confirmed: wait until the history rewrites are answered before the join
        ends, as Pacemaker's DC finalizes only once its join updates completed
        (`join_update_complete_callback`). Otherwise their echoes (the lrm delete, each
        node's old results) reach the DC's next transition and abort it for nothing:
        its scheduler read them already. [] when there is nothing to wait for."""
        if not self.unsettled or self.syncing:
            return []
        self.unsettled = False
        self.syncing = True
        return [SyncCib("")]

    def _timer(self, event: TimerFired) -> list[CrmdEffect]:
        if event.key == SYNC_TIMER and self.copy_wanted is not None:
            # the sync from the best copy failed: Pacemaker's finalize_sync_callback starts
            # the join over
            self.copy_wanted, self.syncing = None, False
            return [Log("join_sync_failed", "warning"), *self.offer_all(self.members, event.now)]
        waiting = {INTEGRATION_TIMER: JoinPhase.WELCOMED,
                   FINALIZATION_TIMER: JoinPhase.FINALIZED}.get(event.key)
        if waiting is None:
            return []
        late = sorted(n for n, p in self.phases.items()
                      if p is waiting or (waiting is JoinPhase.FINALIZED
                                          and p is JoinPhase.INTEGRATED))
        for node in late:
            self._move(node, JoinPhase.NONE)
        if not late:
            return []
        return [Log("join_timeout", "warning", (("late", ",".join(late)),)),
                *self._rewrite_history()]

    def node_states(self, members: Iterable[str], origin: str = "do_state_transition",
                    online: Iterable[str] = ()) -> list[CrmdEffect]:
        """Every known node's node_state with all four attributes (the FINALIZE_JOIN ->
        POLICY_ENGINE rewrite; a node never seen gets none, see `known`). `online`: nodes
        whose controller is up (default: the members whose controller runs). A member
        without a controller that never joined gets no ``expected`` (Pacemaker leaves it
        unset: the scheduler sees it pending). A node fenced since (`powered_down`) is
        written out of the view: its power went, though a reboot faster than deadtime is
        back before the view changes (in the view, without a controller, the scheduler
        would see it pending and block the starts the fencing was for)."""
        members = set(members)
        running = set(online) or self.running(members)
        effects: list[CrmdEffect] = []
        for node in sorted(self.known(members)):
            phase = self.phases.get(node, JoinPhase.NONE)
            expected = self.expected.get(node, "member" if node in running else
                                         None if node in members else "down")
            effects.append(ModifyCib("status", node_state_xml(
                self.node_id(node), node, origin,
                in_ccm=node in members and node not in self.powered_down,
                crmd_online=node in running, join=phase, expected=expected)))
        return effects


class JoinClient:
    """A node's side of the join (the DC runs one too, for its own join)."""

    def __init__(self, name: str, node_id: str, feature_set: str = FEATURE_SET) -> None:
        self.name = name
        self.node_id = node_id
        self.feature_set = feature_set
        self.join_id = -1
        self.joined = False
        self.rejected = False

    def handle(self, event: PeerMessage, dc: str | None, cib_version: tuple[int, int, int],
               lrm_xml: str) -> list[CrmdEffect]:
        """`dc`: the node this controller believes is DC (offers from others are ignored);
        `cib_version` and `lrm_xml` (from `Recorder.lrm_xml`) describe this node now."""
        message = event.message
        if event.source != dc:
            return []
        if isinstance(message, JoinOffer):
            self.join_id = message.join_id
            self.joined = False
            return [Send(Node(dc), JoinRequest(message.join_id, self.name, cib_version,
                                         self.feature_set))]
        if isinstance(message, JoinAckNack) and message.join_id == self.join_id:
            if not message.ack:
                self.rejected = True
                return [Log("join_rejected_by_dc", "error", (("dc", dc),))]
            self.joined = True
            state = node_state_xml(self.node_id, self.name, "controld_query_executor_state",
                                   in_ccm=True, crmd_online=True, children=[lrm_xml])
            return [UpdateAttribute(self.name, "#feature-set", self.feature_set),
                    Send(Node(dc), JoinConfirm(message.join_id, self.name, state))]
        return []


def probe_requests(cib_xml: str, node: str) -> list[ExecRequest]:
    """One-shot monitors (op key ``<rsc>_monitor_0``, expected rc 7) of every configured
    primitive, to learn what runs on `node` outside any transition (a refresh). Inside a
    transition the scheduler plans the probes itself (with clone instance names)."""
    root = etree.fromstring(cib_xml.encode())
    requests = []
    for primitive in root.iterfind("configuration/resources//primitive"):
        standard = primitive.get("class", "ocf")
        agent = AgentSpec(standard, primitive.get("type", ""),
                          primitive.get("provider", "") if standard == "ocf" else "")
        params = {str(nv.get("name")): str(nv.get("value", ""))
                  for nv in primitive.iterfind("instance_attributes/nvpair")}
        requests.append(ExecRequest(resource=str(primitive.get("id")), agent=agent,
                                    action="monitor", params=params, interval_ms=0,
                                    target_rc=7))
    return requests
