"""crm_simulate --output-as=xml: Pacemaker 2.1.5's <pacemaker-result> for a simulation run.

Pure: the values a run produced in, text out. The document has, in this order,
<cluster_status> (nodes, resources: pengine.status_xml, crm_mon's writer too),
<modifications> when events were injected, <actions> (the Transition Summary, one
<rsc_action>/<node_action> per line), with -S <transition> (the executed actions, as
simulate.fired_item names them for the text lines too) and <revised_cluster_status>, then
<status>. Summary lines are read back from the engine's text (summary.py is their one
producer), their attributes in the order of the words they stand for: two nodes are
source/dest, a lone one `dest` of a change from Stopped, `node` of a start, stop or
recovery in one role, else `source`; roles are role/next-role, "due to X" a reason,
"(blocked)" blocked="true" (as Pacemaker's rsc-action-item writes them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lxml import etree

from messaging.types import Role
from pengine.model import ClusterStatus
from pengine.status_xml import nodes_element, resources_element, status_facts

if TYPE_CHECKING:
    from pengine.api import Transition
    from pengine.inject import Injected
    from pengine.model import Action
    from pengine.simulate import Simulation

API_VERSION = "2.25"
_SUMMARY = re.compile(r"^\s*\* (\w+)\s+(\S+)\s+\(\s*(.*?)\s*\)(.*)$")
_FENCE = re.compile(r"^\s*\* Fence \((\w+)\) (\S+) '(.*)'$")
_ROLES = {role.text for role in Role if role is not Role.UNKNOWN}

Pairs = Iterable[tuple[str, str | None]]


def _add(parent: etree._Element, tag: str, pairs: Pairs) -> etree._Element:
    """A child element with the attributes that have a value, in their order."""
    return etree.SubElement(parent, tag, {name: value for name, value in pairs
                                          if value is not None})


class XmlReport:
    """Builds the document; `request` is the command line Pacemaker echoes back."""

    def __init__(self, request: str) -> None:
        self.request = request

    def _root(self) -> etree._Element:
        return etree.Element("pacemaker-result", {"api-version": API_VERSION,
                                                  "request": self.request})

    @staticmethod
    def _finish(root: etree._Element, errors: tuple[str, ...] = ()) -> str:
        """The document with its <status>: `errors` (what Pacemaker would print on stderr
        in text mode) make the code 1, "Error occurred", listing them."""
        if not errors:
            etree.SubElement(root, "status", code="0", message="OK")
        else:
            listed = etree.SubElement(etree.SubElement(root, "status", code="1",
                                                       message="Error occurred"), "errors")
            for text in errors:
                etree.SubElement(listed, "error").text = text
        return etree.tostring(root, pretty_print=True, encoding="unicode").rstrip("\n")

    def render(self, current: ClusterStatus, injected: Injected, transition: Transition,
               result: Simulation | None, revised: ClusterStatus | None,
               cibs: tuple[etree._Element, etree._Element],
               errors: tuple[str, ...] = ()) -> str:
        """The whole document of a -R or -S run (`cibs`: the input and the resulting CIB)."""
        root = self._root()
        _cluster_status(root, "cluster_status", current, cibs[0])
        _modifications(root, injected)
        actions = etree.SubElement(root, "actions")
        for text in transition.summary:
            summary_item(actions, text)
        if result is not None:
            fired = etree.SubElement(root, "transition")
            for action in result.fired:
                _executed(fired, action)
        if revised is not None:
            _cluster_status(root, "revised_cluster_status", revised, cibs[1])
        return self._finish(root, errors)

    def timings(self, timings: list[tuple[str, float]]) -> list[str]:
        """-P --output-as=xml: one <timing> per file."""
        root = self._root()
        if timings:
            section = etree.SubElement(root, "timings")
            for name, spent in timings:
                etree.SubElement(section, "timing", file=name, duration=f"{spent:.6f}")
        return self._finish(root).splitlines()


def _cluster_status(root: etree._Element, tag: str, status: ClusterStatus,
                    cib: etree._Element) -> None:
    """The nodes and resources, as crm_mon --output-as=xml writes them."""
    section = etree.SubElement(root, tag)
    facts = status_facts(cib, status)
    nodes_element(section, status, facts)
    resources_element(section, status, facts)


def _modifications(root: etree._Element, injected: Injected) -> None:
    if not injected.modifications:
        return
    section = etree.SubElement(root, "modifications")
    for step in injected.modifications:
        values = dict(step.fields)
        if step.kind in ("quorum", "watchdog"):
            section.set(step.kind, values["value"])
        elif step.kind == "node":
            _add(section, "modify_node", [("action", values["action"]),
                                          ("node", values["node"])])
        elif step.kind == "ticket":
            _add(section, "modify_ticket", [("action", values["action"]),
                                            ("ticket", values["ticket"])])
        elif step.kind == "spec":
            _add(section, "inject_spec", [("spec", values["spec"])])
        else:
            _add(section, "inject_attr", list(values.items()))


def summary_element(line: str) -> str | None:
    """One Transition Summary line as Pacemaker's XML element (None: not an action line)."""
    holder = etree.Element("actions")
    summary_item(holder, line)
    return etree.tostring(holder[0], encoding="unicode") if len(holder) else None


def summary_item(parent: etree._Element, line: str) -> None:
    """Appends one Transition Summary line as Pacemaker's XML element (nothing when it is
    not an action line)."""
    fence = _FENCE.match(line)
    if fence is not None:
        _add(parent, "node_action", [("task", f"Fence ({fence.group(1)})"),
                                     ("node", fence.group(2)), ("reason", fence.group(3))])
        return
    match = _SUMMARY.match(line)
    if match is None:
        words = line.split()
        if len(words) == 3 and words[1] == "Shutdown":
            _add(parent, "node_action", [("task", "Shutdown"), ("node", words[2])])
        return
    action, resource, inner, rest = match.groups()
    pairs: list[tuple[str, str | None]] = [("action", action.lower()), ("resource", resource)]
    words = [word for word in inner.split() if word != "->"]
    roles = [word for word in words if word in _ROLES]
    hosts = [word for word in words if word not in _ROLES]
    # the attributes come in the order of the words they stand for ("( node1 -> node3
    # Unpromoted )": source, dest, role), as in Pacemaker's output
    role_names = iter(("role", "next-role"))
    host_names = iter(_host_names(action, len(hosts), roles))
    pairs += [(next(role_names) if word in _ROLES else next(host_names), word)
              for word in words]
    reason = re.search(r"due to (.*?)(?: \(blocked\))?$", rest.strip())
    if reason is not None:
        pairs.append(("reason", reason.group(1)))
    if rest.strip().endswith(("(blocked)", "blocked")):  # after a reason, else bare
        pairs.append(("blocked", "true"))
    _add(parent, "rsc_action", pairs)


def _host_names(action: str, hosts: int, roles: list[str]) -> tuple[str, ...]:
    """What the nodes of a summary line are called: two are source and dest; a lone one is
    `dest` of a change from Stopped, `node` of a start, stop or recovery in one role
    (Pacemaker passes it no destination), else `source`."""
    if hosts >= 2:
        return ("source", "dest")
    if len(roles) == 2:
        return ("dest",) if roles[0] == "Stopped" else ("source",)
    if action in ("Start", "Stop", "Recover"):
        return ("node",)
    return ("source",)


def _executed(parent: etree._Element, action: Action) -> None:
    """One fired action as an element of <transition> (nothing: not shown)."""
    from pengine.simulate import fired_item

    item = fired_item(action)
    if item is not None:
        _add(parent, *item)
