"""The attribute manager's core (Pacemaker's attrd), pure: transient node attributes kept in
memory on every node and written into the status section by one writer.

Invariants:
- Every node holds every attribute's value for every node; an update made on any node is
  applied there and sent to all members, so each copy converges without the CIB.
- ``value++`` and ``value+=N`` are expanded against the current value on the node the update
  is made on, saturating at INFINITY (as Pacemaker's attrd_expand_value).
- Only the writer (chosen like the CIB master, by `cib.replication.choose_master`) writes,
  with one CIB request per attribute holding every node's value (`WriteAttribute`); a
  dampened attribute is written when its dampening timer fires, so changes during the delay
  coalesce into one write. A new writer writes every attribute it knows.
- A node is the authority for its own attributes: after a view change each member sends
  its own values to everyone, so a restarted writer learns them again.
- Node uuids are the ccm node ids (the status section's node_state ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from cib.model import INFINITY, char2score
from cib.replication import choose_master
from cib.replication_messages import WireRequest
from cib.request import Op
from cib.xmlio import element_text
from messaging.effects import ArmTimer, Effect, Node, Send, TimerFired


@dataclass(frozen=True, slots=True)
class AttributeUpdate:
    """Set (value) or delete (None) attribute `name` of node `node`; `dampen` in seconds."""

    name: str
    node: str
    value: str | None
    dampen: float = 0.0


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
    """ccm's membership for attrd: (node id, node name) pairs."""

    now: float
    view: int
    members: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Shared:
    """The message attrd sends to its peers."""

    view: int
    update: AttributeUpdate


@dataclass(frozen=True, slots=True)
class WriteAttribute:
    """Effect: send these CIB writes (one attribute, all nodes) to the local cib."""

    name: str
    requests: tuple[WireRequest, ...]


def expand_value(value: str, old: str | None) -> str:
    """attrd's ``value++`` / ``value+=N`` against the old value, saturating at INFINITY."""
    if not value.startswith("value") or len(value) < 7 or value[5] != "+" or value[6] not in "+=":
        return value
    offset = 1 if value[6] == "+" else char2score(value[7:])
    return str(min(char2score(old) + offset, INFINITY))


@dataclass
class AttrdCore:
    """attrd on one node."""

    node: str
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    dampen: dict[str, float] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)
    view: int = -1
    writer: str | None = None
    armed: set[str] = field(default_factory=set)

    def handle(self, event: LocalUpdate | PeerUpdate | AttrdView | TimerFired
               ) -> list[Effect | WriteAttribute]:
        if isinstance(event, AttrdView):
            return self._on_view(event)
        if isinstance(event, TimerFired):
            name = event.key.removeprefix("write:")
            self.armed.discard(name)
            return self._write(name) if self.writer == self.node else []
        if isinstance(event, PeerUpdate):
            if event.view != self.view or event.sender not in self.members:
                return []
            return self._store(event.update, event.now)
        update = event.update
        old = self.values.get(update.name, {}).get(update.node)
        if update.value is not None:
            update = AttributeUpdate(update.name, update.node, expand_value(update.value, old),
                                     update.dampen)
        effects: list[Effect | WriteAttribute] = [
            Send(Node(member), Shared(self.view, update)) for member in sorted(self.members)
            if member != self.node]
        return effects + self._store(update, event.now)

    def _store(self, update: AttributeUpdate, now: float) -> list[Effect | WriteAttribute]:
        node_values = self.values.setdefault(update.name, {})
        if update.value is None:
            node_values.pop(update.node, None)
        else:
            node_values[update.node] = update.value
        self.dampen[update.name] = update.dampen
        if self.writer != self.node:
            return []
        if update.dampen <= 0:
            return self._write(update.name)
        if update.name in self.armed:
            return []
        self.armed.add(update.name)
        return [ArmTimer(f"write:{update.name}", now + update.dampen)]

    def _on_view(self, event: AttrdView) -> list[Effect | WriteAttribute]:
        self.view = event.view
        self.members = {name: ident for ident, name in event.members}
        self.writer = choose_master(event.members)
        effects: list[Effect | WriteAttribute] = []
        for name, node_values in sorted(self.values.items()):
            if self.node in node_values:
                update = AttributeUpdate(name, self.node, node_values[self.node],
                                         self.dampen.get(name, 0.0))
                effects += [Send(Node(member), Shared(self.view, update))
                            for member in sorted(self.members) if member != self.node]
        if self.writer == self.node:
            for name in sorted(self.values):
                effects += self._write(name)
        return effects

    def _write(self, name: str) -> list[Effect | WriteAttribute]:
        writes: list[WireRequest] = []
        deletes: list[WireRequest] = []
        node_values = self.values.get(name, {})
        status = etree.Element("status")
        for node in sorted(self.members, key=self.members.__getitem__):
            uuid = str(self.members[node])
            if node in node_values:
                state = etree.SubElement(status, "node_state", id=uuid)
                attrs = etree.SubElement(state, "transient_attributes", id=uuid)
                sets = etree.SubElement(attrs, "instance_attributes", id=f"status-{uuid}")
                ident = f"status-{uuid}-{name}".replace("#", ".").replace(":", ".")
                etree.SubElement(sets, "nvpair", id=ident, name=name, value=node_values[node])
            else:
                deletes.append(WireRequest(
                    Op.DELETE.value, xpath=f"/cib/status/node_state[@id='{uuid}']"
                    f"/transient_attributes/instance_attributes/nvpair[@name='{name}']",
                    multiple=True, force=True))
        writes += [WireRequest(Op.MODIFY.value, element_text(state, pretty=False),
                               scope="status", allow_create=True) for state in status]
        return [WriteAttribute(name, (*writes, *deletes))]
