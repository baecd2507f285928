"""The attribute manager's core (Pacemaker's attrd), pure: transient node attributes kept in
memory on every node and written into the status section by one writer.

Invariants:
- Every node holds every attribute's value for every member; an update made on any node is
  applied there and sent to all members, so each copy converges without the CIB.
- ``value++`` and ``value+=N`` are expanded against the current value on the node the update
  is made on, saturating at INFINITY (as Pacemaker's attrd_expand_value).
- Only the writer writes: the DC's node, as this node's crmd names it (`DcKnown`, the way
  crmd tells its cib), so attributes are written where the master CIB is; while no DC is
  known or the DC is not a member, the node `cib.replication.choose_master` picks. It
  writes one `WriteAttribute` per attribute holding every member's value, and only when a
  value or the dampening changed (Pacemaker's attrd_updater -U: "if this causes the value
  to change"). A dampened attribute is written when its dampening timer fires: the first
  change arms it and later changes coalesce into that one write. While a write of an
  attribute is in flight a new one waits for `WriteDone`; a failed write is retried after
  `RETRY_DELAY` (Pacemaker's temporary 2 s delay). Private attributes are never written.
  A new writer, and a refresh (attrd_updater -R), writes every attribute it knows.
- A node is the authority for its own attributes: after a view change each member sends
  its own values to everyone. A node that left the view takes its values with it (as
  Pacemaker's attrd forgets a lost peer's values); the writer deletes them from the CIB.
  An attrd that starts (its first view) asks every member for everything it holds.
- An attribute's set (attrd_updater -s) is the one given when attrd first learns of the
  attribute, as in Pacemaker's attrd, which takes it when it creates the attribute; without
  one the set is ``status-<node uuid>``.
- node_state ids are the nodes' uuids given with each view (the configuration's node ids,
  stable across views), never ranks within one view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from cib.model import INFINITY, char2score
from cib.replication_messages import WireRequest
from cib.replication_state import choose_master
from cib.request import Op
from cib.xmlio import element_text
from messaging.effects import ArmTimer, Effect, Node, Send, TimerFired

RETRY_DELAY = 2.0


@dataclass(frozen=True, slots=True)
class AttributeUpdate:
    """Set (value) or delete (None) attribute `name` of node `node`; `dampen` in seconds
    (None keeps the attribute's dampening); a `private` attribute is never written;
    `set_id` names the instance_attributes set it is written in (attrd_updater -s)."""

    name: str
    node: str
    value: str | None
    dampen: float | None = None
    private: bool = False
    set_id: str | None = None


@dataclass(frozen=True, slots=True)
class LocalUpdate:
    """A local client (attrd_updater, crmd) asks for an update."""

    now: float
    update: AttributeUpdate


@dataclass(frozen=True, slots=True)
class PeerUpdate:
    """An update from another node's attrd (already expanded)."""

    now: float
    sender: str
    view: int
    update: AttributeUpdate


@dataclass(frozen=True, slots=True)
class AttrdView:
    """ccm's membership for attrd: (node id, node name) pairs (the ids choose the writer),
    and the nodes' uuids (node_state ids: the configuration's node ids) by name; a member
    without one is written under its member id."""

    now: float
    view: int
    members: tuple[tuple[int, str], ...]
    uuids: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Shared:
    """Peer message: one update."""

    view: int
    update: AttributeUpdate


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Peer message: a starting attrd asks for every value the receiver holds."""

    view: int


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    """Peer message: ask the writer to write every attribute again (attrd_updater -R)."""

    view: int


@dataclass(frozen=True, slots=True)
class PeerRequest:
    """A `SyncRequest` or `RefreshRequest` from another node's attrd."""

    now: float
    sender: str
    message: SyncRequest | RefreshRequest


@dataclass(frozen=True, slots=True)
class DcKnown:
    """This node's crmd names the DC (None: none known); attrd's writer follows it."""

    now: float
    dc: str | None


@dataclass(frozen=True, slots=True)
class LocalRefresh:
    """A local client asks for every attribute to be written again."""

    now: float


@dataclass(frozen=True, slots=True)
class WriteDone:
    """The shell's report on a `WriteAttribute`: every request acknowledged, or not."""

    now: float
    name: str
    ok: bool


@dataclass(frozen=True, slots=True)
class WriteAttribute:
    """Effect: send these CIB writes (one attribute, all nodes) to the local cib, in order,
    then feed `WriteDone`."""

    name: str
    requests: tuple[WireRequest, ...]


Event = (LocalUpdate | PeerUpdate | PeerRequest | AttrdView | TimerFired | LocalRefresh
         | WriteDone | DcKnown)
Output = Effect | WriteAttribute


def expand_value(value: str, old: str | None) -> str:
    """attrd's ``value++`` / ``value+=N`` against the old value, saturating at INFINITY."""
    if not value.startswith("value") or len(value) < 7 or value[5] != "+" or value[6] not in "+=":
        return value
    offset = 1 if value[6] == "+" else char2score(value[7:])
    return str(min(char2score(old) + offset, INFINITY))


def status_id(uuid: str, name: str, set_id: str | None = None) -> str:
    """Pacemaker's nvpair id in transient_attributes: ``<set>-<name>``, the set being
    ``status-<uuid>`` unless named (crm_xml_set_id makes '#', ':' '.')."""
    return f"{set_id or f'status-{uuid}'}-{name}".replace("#", ".").replace(":", ".")


@dataclass
class AttrdCore:
    """attrd on one node."""

    node: str
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    dampen: dict[str, float] = field(default_factory=dict)
    private: set[str] = field(default_factory=set)
    sets: dict[str, str] = field(default_factory=dict)  # name -> its instance_attributes id
    members: dict[str, int] = field(default_factory=dict)
    uuids: dict[str, str] = field(default_factory=dict)
    view: int = -1
    writer: str | None = None
    dc: str | None = None  # as this node's crmd names it
    ids: tuple[tuple[int, str], ...] = ()  # the view's (member id, name) pairs
    armed: set[str] = field(default_factory=set)
    in_flight: dict[str, frozenset[str]] = field(default_factory=dict)  # name -> nodes
    in_cib: dict[str, frozenset[str]] = field(default_factory=dict)  # known since a write
    pending: set[str] = field(default_factory=set)

    def handle(self, event: Event) -> list[Output]:
        if isinstance(event, AttrdView):
            return self._on_view(event)
        if isinstance(event, TimerFired):
            name = event.key.removeprefix("write:")
            self.armed.discard(name)
            return self._write(name, event.now)
        if isinstance(event, WriteDone):
            return self._on_written(event)
        if isinstance(event, LocalRefresh):
            return self._refresh(event.now, self.node)
        if isinstance(event, DcKnown):
            return self._on_dc(event)
        if isinstance(event, PeerRequest):
            return self._on_request(event)
        if isinstance(event, PeerUpdate):
            if event.view != self.view or event.sender not in self.members:
                return []
            return self._store(event.update, event.now)
        update = event.update
        if update.value is not None:
            old = self.values.get(update.name, {}).get(update.node)
            update = AttributeUpdate(update.name, update.node, expand_value(update.value, old),
                                     update.dampen, update.private, update.set_id)
        return self._to_peers(Shared(self.view, update)) + self._store(update, event.now)

    def value(self, name: str, node: str) -> str | None:
        return self.values.get(name, {}).get(node)

    def uuid(self, node: str) -> str:
        """The node_state id of a member."""
        return self.uuids.get(node) or str(self.members.get(node, node))

    def _to_peers(self, message: object) -> list[Output]:
        return [Send(Node(member), message) for member in sorted(self.members)
                if member != self.node]

    def _store(self, update: AttributeUpdate, now: float) -> list[Output]:
        if update.set_id and update.name not in self.values:
            self.sets[update.name] = update.set_id
        node_values = self.values.setdefault(update.name, {})
        changed = node_values.get(update.node) != update.value
        if update.value is None:
            node_values.pop(update.node, None)
        else:
            node_values[update.node] = update.value
        if update.private:
            self.private.add(update.name)
        if update.dampen is not None and update.dampen != self.dampen.get(update.name, 0.0):
            self.dampen[update.name] = update.dampen
            changed = True
        if not changed:
            return []
        if self.dampen.get(update.name, 0.0) <= 0:
            return self._write(update.name, now)
        if self.writer != self.node or update.name in self.armed:
            return []
        self.armed.add(update.name)
        return [ArmTimer(f"write:{update.name}", now + self.dampen[update.name])]

    def _on_view(self, event: AttrdView) -> list[Output]:
        first = self.view < 0
        staying = {name for _, name in event.members}
        left = {node: self.uuid(node) for node in self.members if node not in staying}
        self.view = event.view
        self.members = {name: ident for ident, name in event.members}
        self.uuids.update(event.uuids)
        self.ids = event.members
        self.writer = self._choose_writer()
        for node_values in self.values.values():
            for node in left:
                node_values.pop(node, None)
        self.in_cib.clear()  # another partition's writer may have written meanwhile
        effects: list[Output] = self._to_peers(SyncRequest(self.view)) if first else []
        for name, node_values in sorted(self.values.items()):
            if self.node in node_values:
                effects += self._to_peers(Shared(self.view, AttributeUpdate(
                    name, self.node, node_values[self.node], self.dampen.get(name),
                    name in self.private, self.sets.get(name))))
        if self.writer == self.node:
            effects += self._forget(left)
            for name in sorted(self.values):
                effects += self._write(name, event.now)
        return effects

    def _choose_writer(self) -> str | None:
        if self.dc is not None and self.dc in self.members:
            return self.dc
        return choose_master(self.ids) if self.ids else None

    def _on_dc(self, event: DcKnown) -> list[Output]:
        """A new DC: the writer moves with it; a node that becomes the writer writes every
        attribute it knows (as a newly elected attrd writer does)."""
        self.dc = event.dc
        before, self.writer = self.writer, self._choose_writer()
        if self.writer == before or self.writer != self.node:
            return []
        self.in_cib.clear()  # the previous writer may have written meanwhile
        return [effect for name in sorted(self.values) for effect in self._write(name, event.now)]

    def _on_request(self, event: PeerRequest) -> list[Output]:
        if event.message.view != self.view or event.sender not in self.members:
            return []
        if isinstance(event.message, RefreshRequest):
            return self._refresh(event.now, event.sender)
        return [Send(Node(event.sender), Shared(self.view, AttributeUpdate(
                    name, node, value, self.dampen.get(name), name in self.private,
                    self.sets.get(name))))
                for name, node_values in sorted(self.values.items())
                for node, value in sorted(node_values.items())]

    def _refresh(self, now: float, asked_by: str) -> list[Output]:
        if self.writer == self.node:
            return [effect for name in sorted(self.values) for effect in self._write(name, now)]
        if self.writer is None or asked_by != self.node:
            return []
        return [Send(Node(self.writer), RefreshRequest(self.view))]

    def _on_written(self, event: WriteDone) -> list[Output]:
        written = self.in_flight.pop(event.name, None)
        if not event.name:
            return []
        if event.ok and written is not None:
            self.in_cib[event.name] = written
        else:
            self.in_cib.pop(event.name, None)
        if not event.ok:
            self.armed.add(event.name)
            return [ArmTimer(f"write:{event.name}", event.now + RETRY_DELAY)]
        if event.name in self.pending:
            self.pending.discard(event.name)
            return self._write(event.name, event.now)
        return []

    @staticmethod
    def _forget(left: dict[str, str]) -> list[Output]:
        """The writer deletes departed nodes' transient attributes from the CIB (one
        attempt: a `WriteDone` for the empty name is not retried)."""
        return [WriteAttribute("", (WireRequest(
            Op.DELETE.value, xpath=f"/cib/status/node_state[@id='{ident}']"
            "/transient_attributes", multiple=True, force=True),))
            for ident in sorted(set(left.values()))]

    def _write(self, name: str, now: float) -> list[Output]:
        if self.writer != self.node or name in self.private or name in self.armed:
            return []
        if name in self.in_flight:
            self.pending.add(name)
            return []
        node_values = {node: value for node, value in self.values.get(name, {}).items()
                       if node in self.members}
        self.in_flight[name] = frozenset(node_values)
        # a member's old value is deleted unless this writer knows the CIB has none
        stale = [node for node in self.members if node not in node_values
                 and (name not in self.in_cib or node in self.in_cib[name])]
        return [WriteAttribute(name, write_requests(
            name, {self.uuid(node): value for node, value in node_values.items()},
            [self.uuid(node) for node in stale], self.sets.get(name)))]


def write_requests(name: str, values: dict[str, str], stale: list[str],
                   set_id: str | None = None) -> tuple[WireRequest, ...]:
    """The CIB requests that write `name`: one modify of the status section holding every
    node's value (by node_state id; Pacemaker's build_update_element shape, all nodes in one
    request as Pacemaker's attrd writes them) in the set `set_id` (None: each node's
    ``status-<uuid>``), then one delete of the value of every node in `stale` (from
    whichever set holds it)."""
    requests: list[WireRequest] = []
    if values:
        status = etree.Element("status")
        for uuid, value in sorted(values.items()):
            state = etree.SubElement(status, "node_state", id=uuid)
            attrs = etree.SubElement(state, "transient_attributes", id=uuid)
            sets = etree.SubElement(attrs, "instance_attributes", id=set_id or f"status-{uuid}")
            etree.SubElement(sets, "nvpair", id=status_id(uuid, name, set_id), name=name,
                             value=value)
        requests.append(WireRequest(Op.MODIFY.value, element_text(status, pretty=False),
                                    scope="status", allow_create=True))
    if stale:  # one request: each CIB write is a replicated round trip and a diff the DC
        # reads; at a 16-node cold start a delete per node (old values of the last boot)
        # were 15 writes in a row, each aborting the DC's first transition again
        requests.append(WireRequest(Op.DELETE.value, xpath=" | ".join(
            f"/cib/status/node_state[@id='{uuid}']"
            f"/transient_attributes/instance_attributes/nvpair[@name='{name}']"
            for uuid in sorted(stale)), multiple=True, force=True))
    return tuple(requests)
