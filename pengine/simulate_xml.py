"""crm_simulate --output-as=xml: Pacemaker 2.1.5's <pacemaker-result> for a simulation run.

Pure: the values a run produced in, text out. The document has, in this order,
<cluster_status> (nodes, resources), <modifications> when events were injected,
<actions> (the Transition Summary, one <rsc_action>/<node_action> per line), with -S
<transition> (the executed actions) and <revised_cluster_status>, then <status>.
Summary lines are read back from the engine's text (summary.py is their one producer):
"( a -> b )" gives source/dest, a single node is `node` for start/stop and `source`
otherwise, "( Role -> Role node )" adds role/next-role, "due to X" a reason, "(blocked)"
blocked="true" (as Pacemaker's rsc-action-item writes them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lxml import etree

from messaging.types import Role
from pengine.glib_order import node_name_key
from pengine.model import ClusterStatus, NodeStatus, ResourceStatus
from pengine.status_text import is_disabled

if TYPE_CHECKING:
    from pengine.api import Transition
    from pengine.inject import Injected
    from pengine.model import Action
    from pengine.simulate import Simulation

API_VERSION = "2.25"
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "\n": "&#10;", "\t": "&#9;", "\r": "&#13;"})
_SUMMARY = re.compile(r"^\s*\* (\w+)\s+(\S+)\s+\(\s*(.*?)\s*\)(.*)$")
_FENCE = re.compile(r"^\s*\* Fence \((\w+)\) (\S+) '(.*)'$")
_ROLES = {role.text for role in Role if role is not Role.UNKNOWN}


def _element(tag: str, pairs: Iterable[tuple[str, str | None]], indent: int,
             close: bool = True) -> str:
    attrs = "".join(f' {name}="{value.translate(_ESCAPES)}"' for name, value in pairs
                    if value is not None)
    return f"{'  ' * indent}<{tag}{attrs}{'/' if close else ''}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


class XmlReport:
    """Builds the document; `request` is the command line Pacemaker echoes back."""

    def __init__(self, request: str) -> None:
        self.request = request

    def _wrap(self, body: list[str], errors: tuple[str, ...] = ()) -> str:
        """The document around `body`; `errors` (what Pacemaker would print on stderr in
        text mode) make the status code 1, "Error occurred", listing them."""
        head = _element("pacemaker-result", [("api-version", API_VERSION),
                                             ("request", self.request)], 0, close=False)
        if not errors:
            return "\n".join([head, *body, '  <status code="0" message="OK"/>',
                              "</pacemaker-result>"])
        listed = [f"      <error>{text.translate(_ESCAPES)}</error>" for text in errors]
        return "\n".join([head, *body, '  <status code="1" message="Error occurred">',
                          "    <errors>", *listed, "    </errors>", "  </status>",
                          "</pacemaker-result>"])

    def render(self, current: ClusterStatus, injected: Injected, transition: Transition,
               result: Simulation | None, revised: ClusterStatus | None,
               cibs: tuple[etree._Element, etree._Element],
               errors: tuple[str, ...] = ()) -> str:
        """The whole document of a -R or -S run (`cibs`: the input and the resulting CIB)."""
        body = _cluster_status("cluster_status", current, _RawFacts(cibs[0]))
        body += _modifications(injected)
        body += _block("actions", [line for text in transition.summary
                                   if (line := summary_element(text)) is not None])
        if result is not None:
            body += _block("transition", [_executed(action) for action in result.fired
                                          if _executed(action)])
        if revised is not None:
            body += _cluster_status("revised_cluster_status", revised, _RawFacts(cibs[1]))
        return self._wrap(body, errors)

    def timings(self, timings: list[tuple[str, float]]) -> list[str]:
        """-P --output-as=xml: one <timing> per file."""
        rows = [_element("timing", [("file", name), ("duration", f"{spent:.6f}")], 2)
                for name, spent in timings]
        return self._wrap(_block("timings", rows, indent=1) if rows else []).splitlines()


def _block(tag: str, rows: list[str], indent: int = 1) -> list[str]:
    pad = "  " * indent
    if not rows:
        return [f"{pad}<{tag}/>"]
    return [f"{pad}<{tag}>", *rows, f"{pad}</{tag}>"]


class _RawFacts:
    """What Pacemaker prints as written in the CIB: target-role text, expected state."""

    def __init__(self, cib: etree._Element) -> None:
        self.target_roles: dict[str, str] = {}
        self.parents: dict[str, str] = {}
        for element in cib.iterfind("configuration/resources//meta_attributes/nvpair"):
            block = element.getparent()
            owner = block.getparent() if block is not None else None
            if element.get("name") == "target-role" and owner is not None:
                self.target_roles.setdefault(owner.get("id", ""), element.get("value", ""))
        for tag in ("primitive", "group", "clone", "master"):
            for element in cib.iterfind(f"configuration/resources//{tag}"):
                parent = element.getparent()
                if parent is not None and parent.tag != "resources":
                    self.parents[element.get("id", "")] = parent.get("id", "")
        self.expected: dict[str, bool] = {}
        self.feature_sets: dict[str, str] = {}
        for state in cib.iterfind("status/node_state"):
            uname = state.get("uname", "")
            self.expected[uname] = state.get("expected") == "member"
            for pair in state.iterfind("transient_attributes/instance_attributes/nvpair"):
                if pair.get("name") == "#feature-set":
                    self.feature_sets[uname] = pair.get("value", "")

    def target_role(self, rsc_id: str) -> str | None:
        """The target-role text in force: the resource's own, else its nearest parent's."""
        current: str | None = rsc_id.split(":", 1)[0]
        while current is not None:
            if current in self.target_roles:
                return self.target_roles[current]
            current = self.parents.get(current)
        return None


def _cluster_status(tag: str, status: ClusterStatus, raw: _RawFacts) -> list[str]:
    # the node list's own order (pe__cmp_node_name: digit runs compare as numbers)
    nodes = [_node(node, status, raw)
             for node in sorted(status.nodes, key=lambda n: node_name_key(n.name))]
    resources: list[str] = []
    for rsc in status.resources:
        resources += _resource(rsc, status, 3, raw, inside_anonymous=False)
    return ["  <" + tag + ">", *_block("nodes", nodes, 2), *_block("resources", resources, 2),
            "  </" + tag + ">"]


def _node(node: NodeStatus, status: ClusterStatus, raw: _RawFacts) -> str:
    running = sum(node.name in primitive.running_on for primitive in _primitives(status))
    health = {"RED": "red", "YELLOW": "yellow"}.get(node.health or "", "green")
    feature = raw.feature_sets.get(node.name, "<3.15.1") if node.online else None
    return _element("node", [
        ("name", node.name), ("id", node.id), ("online", _bool(node.online)),
        ("standby", _bool(node.standby)), ("standby_onfail", _bool(node.standby_onfail)),
        ("maintenance", _bool(node.maintenance)), ("pending", _bool(node.pending)),
        ("unclean", _bool(node.unclean)), ("health", health), ("feature_set", feature),
        ("shutdown", _bool(node.shutdown)),
        ("expected_up", _bool(raw.expected.get(node.name, False))),
        ("is_dc", _bool(node.is_dc or status.dc == node.name)),
        ("resources_running", str(running)), ("type", node.kind)], 3)


def _primitives(status: ClusterStatus) -> Iterable[ResourceStatus]:
    pending = list(status.resources)
    while pending:
        rsc = pending.pop()
        if rsc.kind == "primitive":
            yield rsc
        pending += rsc.children


def _resource(rsc: ResourceStatus, status: ClusterStatus, indent: int, raw: _RawFacts,
              inside_anonymous: bool, promotable: bool = False) -> list[str]:
    promotable = promotable or rsc.kind == "promotable"
    disabled = _bool(is_disabled(rsc, promotable))
    # a clone without a target-role of its own shows its first instance's, as crm_mon does
    shown = rsc.children[0] if rsc.kind in ("clone", "promotable") and rsc.children \
        and rsc.target_role is None else rsc
    target = None
    if shown.target_role is not None:
        target = raw.target_role(shown.id) or shown.target_role.text
    if rsc.kind == "group":
        head = _element("group", [("id", rsc.id), ("number_resources", str(len(rsc.children))),
                                  ("managed", _bool(rsc.managed)), ("disabled", disabled)],
                        indent, close=False)
    elif rsc.kind in ("clone", "promotable"):
        head = _element("clone", [
            ("id", rsc.id), ("multi_state", _bool(rsc.kind == "promotable")),
            ("unique", _bool(rsc.unique)), ("managed", _bool(rsc.managed)),
            # the clone's own flag, which its instances' failures do not set
            ("disabled", disabled), ("failed", "false"),
            ("failure_ignored", _bool(rsc.failure_ignored)), ("target_role", target)],
            indent, close=False)
    else:
        return _primitive(rsc, status, indent, inside_anonymous, target)
    tag = "group" if rsc.kind == "group" else "clone"
    anonymous = inside_anonymous or (tag == "clone" and not rsc.unique)
    body: list[str] = []
    for child in rsc.children:
        body += _resource(child, status, indent + 1, raw, anonymous, promotable)
    return [head, *body, f"{'  ' * indent}</{tag}>"]


def _primitive(rsc: ResourceStatus, status: ClusterStatus, indent: int,
               inside_anonymous: bool, target: str | None) -> list[str]:
    node_ids = {node.name: node.id for node in status.nodes}
    online = {node.name for node in status.nodes if node.online}
    shown = rsc.id.split(":", 1)[0] if inside_anonymous else rsc.id
    head = _element("resource", [
        ("id", shown), ("resource_agent", rsc.agent), ("role", rsc.role.text),
        ("target_role", target), ("active", _bool(bool(rsc.running_on))),
        ("orphaned", _bool(rsc.orphan)), ("blocked", _bool(rsc.blocked)),
        ("managed", _bool(rsc.managed)), ("failed", _bool(rsc.failed)),
        ("failure_ignored", _bool(rsc.failure_ignored)),
        ("nodes_running_on", str(len(rsc.running_on)))], indent, close=not rsc.running_on)
    if not rsc.running_on:
        return [head]
    nodes = [_element("node", [("name", name), ("id", node_ids.get(name, name)),
                               ("cached", _bool(name in online))], indent + 1)
             for name in rsc.running_on]
    return [head, *nodes, f"{'  ' * indent}</resource>"]


def _modifications(injected: Injected) -> list[str]:
    if not injected.modifications:
        return []
    pairs: list[tuple[str, str | None]] = []
    rows = []
    for step in injected.modifications:
        values = dict(step.fields)
        if step.kind in ("quorum", "watchdog"):
            pairs.append((step.kind, values["value"]))
        elif step.kind == "node":
            rows.append(_element("modify_node", [("action", values["action"]),
                                                 ("node", values["node"])], 2))
        elif step.kind == "ticket":
            rows.append(_element("modify_ticket", [("action", values["action"]),
                                                   ("ticket", values["ticket"])], 2))
        elif step.kind == "spec":
            rows.append(_element("inject_spec", [("spec", values["spec"])], 2))
        else:
            rows.append(_element("inject_attr", list(values.items()), 2))
    head = _element("modifications", pairs, 1, close=not rows)
    return [head, *rows, "  </modifications>"] if rows else [head]


def summary_element(line: str) -> str | None:
    """One Transition Summary line as Pacemaker's XML element (None: not an action line)."""
    fence = _FENCE.match(line)
    if fence is not None:
        return _element("node_action", [("task", f"Fence ({fence.group(1)})"),
                                        ("node", fence.group(2)), ("reason", fence.group(3))], 2)
    match = _SUMMARY.match(line)
    if match is None:
        words = line.split()
        if len(words) == 3 and words[1] == "Shutdown":
            return _element("node_action", [("task", "Shutdown"), ("node", words[2])], 2)
        return None
    action, resource, inner, rest = match.groups()
    pairs: list[tuple[str, str | None]] = [("action", action.lower()), ("resource", resource)]
    words = inner.split()
    roles = [word for word in words if word in _ROLES]
    hosts = [word for word in words if word not in _ROLES and word != "->"]
    if len(roles) == 2:
        pairs += [("role", roles[0]), ("next-role", roles[1])]
    elif len(roles) == 1:
        pairs.append(("role", roles[0]))
    pairs += _hosts(action, hosts, roles)
    reason = re.search(r"due to (.*?)(?: \(blocked\))?$", rest.strip())
    if reason is not None:
        pairs.append(("reason", reason.group(1)))
    if rest.strip().endswith(("(blocked)", "blocked")):  # after a reason, else bare
        pairs.append(("blocked", "true"))
    return _element("rsc_action", pairs, 2)


def _hosts(action: str, hosts: list[str], roles: list[str]) -> list[tuple[str, str | None]]:
    if len(hosts) >= 2:
        return [("source", hosts[0]), ("dest", hosts[1])]
    if not hosts:
        return []
    if len(roles) == 2:
        return [("dest" if roles[0] == "Stopped" else "source", hosts[0])]
    if action in ("Start", "Stop") or len(roles) == 1:
        return [("node", hosts[0])]
    return [("source", hosts[0])]


def _executed(action: Action) -> str:
    """One fired action as an element of <transition> (empty: not shown)."""
    from pengine.graph_xml import graph_name
    from pengine.simulate import fence_kind

    if action.task == "probe_again":
        return ""
    if action.pseudo:
        return _element("pseudo_action", [("task", action.key)], 2)
    if action.task == "stonith":
        return _element("fencing_action", [("target", action.node),
                                           ("op", fence_kind(action))], 2)
    if action.resource is None or action.task in ("do_shutdown", "clear_failcount",
                                                  "lrm_refresh", "lrm_delete",
                                                  "maintenance_nodes"):
        return _element("cluster_action", [("task", action.task), ("node", action.node),
                                           ("id", action.resource)], 2)
    interval = str(action.interval_ms) if action.interval_ms else None
    return _element("rsc_action", [("resource", graph_name(action)),
                                   ("op", action.task), ("node", action.node),
                                   ("interval", interval)], 2)
