"""The <nodes> and <resources> of Pacemaker 2.1.5's XML cluster status: one writer for
crm_mon --output-as=xml and crm_simulate's <cluster_status>/<revised_cluster_status>.

Pure: the unpacked ClusterStatus plus `StatusFacts` (what Pacemaker prints from the CIB
as written: expected states, feature sets, members still named by instance) in, lxml
elements out. Both tools print these sections with the same Pacemaker message
(cluster-status), so every attribute here is checked against either tool's output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from lxml import etree

from pengine.model import ClusterStatus, ResourceStatus

# Agent classes that cannot be globally unique (their clones are forced anonymous).
_ANONYMOUS_ONLY = ("lsb", "service", "systemd", "upstart", "nagios")
_FEATURE_SET = "#feature-set"


class StatusFacts(NamedTuple):
    """What the status prints as the CIB has it, beside the unpacked ClusterStatus."""

    # nodes whose node_state says expected="member"
    expected_up: frozenset[str] = frozenset()
    # node name -> its #feature-set transient attribute
    feature_sets: tuple[tuple[str, str], ...] = ()
    # clone instance members that keep their ":N" id although their clone is anonymous
    still_unique: frozenset[str] = frozenset()


def status_facts(root: etree._Element, status: ClusterStatus) -> StatusFacts:
    """The facts of the CIB `root` whose unpacked status is `status`."""
    expected: set[str] = set()
    feature_sets: list[tuple[str, str]] = []
    for state in root.iterfind("status/node_state"):
        uname = state.get("uname") or ""
        if state.get("expected") == "member":
            expected.add(uname)
        for pair in state.iterfind("transient_attributes/instance_attributes/nvpair"):
            if pair.get("name") == _FEATURE_SET:
                feature_sets.append((uname, pair.get("value") or ""))
    return StatusFacts(frozenset(expected), tuple(feature_sets),
                       still_unique_members(root, status.resources))


def still_unique_members(root: etree._Element, resources: tuple[ResourceStatus, ...]
                         ) -> frozenset[str]:
    """Members Pacemaker keeps naming by instance id in a forced-anonymous cloned group.

    A clone configured globally-unique whose group holds an lsb (service, systemd, ...)
    member is made anonymous while that member unpacks: Pacemaker clears uniqueness on
    the clone and the instances already attached to it, but the instance being built is
    attached only afterwards, so the last instance's other members stay unique and keep
    their ":N" ids in crm_mon's output (force-anon-clone-max: dummy1:1, lsb3).
    """
    found: set[str] = set()
    for clone in resources:
        if clone.kind not in ("clone", "promotable") or clone.unique or not clone.children:
            continue
        last = clone.children[-1]
        configured = next((el for el in root.iterfind("configuration/resources/*")
                           if el.get("id") == clone.id), None)
        if last.kind != "group" or configured is None or not _globally_unique(configured):
            continue
        found |= {member.id for member in last.children
                  if member.agent.split(":")[0].lower() not in _ANONYMOUS_ONLY}
    return frozenset(found)


def _globally_unique(configured: etree._Element) -> bool:
    for pair in configured.iterfind("meta_attributes/nvpair"):
        if pair.get("name") == "globally-unique":
            return (pair.get("value") or "").lower() in ("true", "yes", "on", "y", "1")
    return False


def _bool(value: bool) -> str:
    return "true" if value else "false"


def leaves(rsc: ResourceStatus) -> list[ResourceStatus]:
    """The primitives of a resource (itself when it is one)."""
    if rsc.kind == "primitive":
        return [rsc]
    return [leaf for child in rsc.children for leaf in leaves(child)]


def nodes_element(parent: etree._Element, status: ClusterStatus,
                  facts: StatusFacts) -> etree._Element:
    """<nodes>: every node in the node list's order (pe__cmp_node_name: digit runs compare
    as numbers), appended to `parent`."""
    from pengine.glib_order import node_name_key

    features = dict(facts.feature_sets)
    running: dict[str, int] = {}
    for rsc in status.resources:
        for leaf in leaves(rsc):
            for name in leaf.running_on:
                running[name] = running.get(name, 0) + 1
    nodes = etree.SubElement(parent, "nodes")
    for node in sorted(status.nodes, key=lambda n: node_name_key(n.name)):
        # a node never seen has not had its standby/maintenance attributes applied
        applied = node.online or not node.unseen
        etree.SubElement(nodes, "node", {
            "name": node.name, "id": node.id, "online": _bool(node.online),
            "standby": _bool(node.standby and applied),
            "standby_onfail": _bool(node.standby_onfail),
            "maintenance": _bool(node.maintenance and applied), "pending": _bool(node.pending),
            "unclean": _bool(node.unclean), "health": (node.health or "green").lower(),
            **({"feature_set": features.get(node.name, "<3.15.1")} if node.online else {}),
            # a node asked to shut down is no longer expected up (Pacemaker's unpack)
            "shutdown": _bool(node.shutdown),
            "expected_up": _bool(node.name in facts.expected_up and not node.shutdown),
            "is_dc": _bool(node.is_dc or node.name == status.dc),
            "resources_running": str(running.get(node.name, 0)), "type": node.kind})
    return nodes


class ResourceWriter:
    """Writes <resource>, <group> and <clone> elements of one status."""

    def __init__(self, status: ClusterStatus, facts: StatusFacts) -> None:
        self.ids = {node.name: (node.id, node.online) for node in status.nodes}
        self.still_unique = facts.still_unique

    def resource(self, parent: etree._Element, rsc: ResourceStatus, anonymous: bool = False,
                 promotable: bool = False) -> None:
        """`rsc` and what it holds (`anonymous`: inside an anonymous clone, `promotable`:
        inside a promotable one)."""
        if rsc.kind == "primitive":
            self._primitive(parent, rsc, anonymous)
            return
        from pengine.status_text import is_disabled

        promotable = promotable or rsc.kind == "promotable"
        disabled = _bool(is_disabled(rsc, promotable))
        if rsc.kind == "group":
            element = etree.SubElement(parent, "group", id=rsc.id,
                                       number_resources=str(len(rsc.children)),
                                       managed=_bool(rsc.managed), disabled=disabled)
        else:
            element = etree.SubElement(parent, "clone", {
                "id": rsc.id, "multi_state": _bool(rsc.kind == "promotable"),
                "unique": _bool(rsc.unique), "managed": _bool(rsc.managed),
                # the clone's own flag, which its instances' failures do not set
                "disabled": disabled, "failed": "false",
                "failure_ignored": _bool(rsc.failure_ignored),
                # a clone without its own target-role shows its first instance's
                **_target_role(rsc if rsc.target_role_text or not rsc.children
                               else rsc.children[0])})
        for child in rsc.children:
            self.resource(element, child,
                          anonymous or (rsc.kind != "group" and not rsc.unique), promotable)

    def _primitive(self, parent: etree._Element, rsc: ResourceStatus, anonymous: bool) -> None:
        from pengine.status_text import _PENDING_STATE

        shown_id = rsc.id.split(":")[0] if anonymous and rsc.id not in self.still_unique \
            else rsc.id
        element = etree.SubElement(parent, "resource", {
            "id": shown_id, "resource_agent": rsc.agent,
            "role": _PENDING_STATE.get(rsc.pending_task or "")
            or (rsc.role.text if rsc.running_on else "Stopped"),
            **_target_role(rsc),
            "active": _bool(bool(rsc.running_on)), "orphaned": _bool(rsc.orphan),
            "blocked": _bool(rsc.blocked), "managed": _bool(rsc.managed),
            "failed": _bool(rsc.failed), "failure_ignored": _bool(rsc.failure_ignored),
            "nodes_running_on": str(len(rsc.running_on)),
            # a pending recurring monitor is the one pending task Pacemaker names here
            **({"pending": "Monitoring"} if rsc.pending_task == "monitor" else {}),
            **({"locked_to": rsc.locked_to} if rsc.locked_to else {})})
        for node in rsc.running_on:
            # cached: whether the node is online (its state is current), in Pacemaker's words
            node_id, online = self.ids.get(node, (node, False))
            etree.SubElement(element, "node", name=node, id=node_id, cached=_bool(online))


def resources_element(parent: etree._Element, status: ClusterStatus, facts: StatusFacts,
                      skip: Callable[[ResourceStatus], bool] = lambda _rsc: False) -> None:
    """<resources>: every listed top-level resource but those `skip` says, appended to
    `parent`. Pacemaker opens the section with its first resource: none, no element."""
    from pengine.status_text import is_listed

    writer = ResourceWriter(status, facts)
    section = etree.Element("resources")
    for rsc in status.resources:
        if is_listed(rsc) and not skip(rsc):
            writer.resource(section, rsc)
    if len(section):
        parent.append(section)


def _target_role(rsc: ResourceStatus) -> dict[str, str]:
    # Pacemaker copies the meta attribute as written ("started" stays lower case).
    text = rsc.target_role_text
    return {} if text is None else {"target_role": text}
