"""crm_simulate's synthetic cluster events: write them into a copy of the CIB.

Pure: a CIB tree, the requested `Injections` and the time to stamp ("now", which the shell
reads from the clock as Pacemaker does) in; a new tree, the modifications to report and the
warnings out. The input tree is never modified.

The order and the records follow Pacemaker 2.1.5's crm_simulate: quorum, watchdog, nodes
up, down, failed, tickets granted, revoked, standby, activated, then injected operation
results. Quorum is applied only together with some other modification (so does Pacemaker).
A node brought down loses its resource history and transient attributes. An injected
result is recorded like the controller records an operation (`<rsc>_last_0`,
`<rsc>_last_failure_0`, `<rsc>_<task>_<interval>`), with a call id above the resource's
others on that node, and a failure (other than "not running" from a probe) adds
fail-count/last-failure transient attributes.

Invariants: a node named by -d/-f/-i must exist (in <nodes>, in the status, or brought up
by -u): otherwise `NotFoundError` is raised before anything is applied. A malformed
operation spec or an unknown resource is skipped with a warning, as Pacemaker does.
"""

from __future__ import annotations

import copy

from lxml import etree

from messaging.errors import NotFoundError
from messaging.record import Record
from pengine.opspec import OpSpec, parse_op_spec, parse_operation_key

FAKE_DC_UUID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
CRM_FEATURE_SET = "3.16.1"
INFINITY = 1000000


class Injections(Record):
    """The synthetic events of one crm_simulate run (each tuple in command-line order)."""

    __slots__ = ("node_down", "node_fail", "node_up", "op_inject", "quorum", "ticket_activate",
                 "ticket_grant", "ticket_revoke", "ticket_standby", "watchdog")

    def __init__(self, quorum: str | None = None, watchdog: str | None = None,
                 node_up: tuple[str, ...] = (), node_down: tuple[str, ...] = (),
                 node_fail: tuple[str, ...] = (), ticket_grant: tuple[str, ...] = (),
                 ticket_revoke: tuple[str, ...] = (), ticket_standby: tuple[str, ...] = (),
                 ticket_activate: tuple[str, ...] = (), op_inject: tuple[str, ...] = ()) -> None:
        self.quorum = quorum
        self.watchdog = watchdog
        self.node_up = node_up
        self.node_down = node_down
        self.node_fail = node_fail
        self.ticket_grant = ticket_grant
        self.ticket_revoke = ticket_revoke
        self.ticket_standby = ticket_standby
        self.ticket_activate = ticket_activate
        self.op_inject = op_inject

    @property
    def requested(self) -> bool:
        """True when the CIB is to be modified (quorum alone does not count, as in Pacemaker)."""
        return any((self.watchdog is not None, self.node_up, self.node_down, self.node_fail,
                    self.ticket_grant, self.ticket_revoke, self.ticket_standby,
                    self.ticket_activate, self.op_inject))


class Modification(Record):
    """One reported step: kind is quorum, watchdog, node, ticket, spec or attr."""

    __slots__ = ("fields", "kind")

    def __init__(self, kind: str, fields: tuple[tuple[str, str], ...]) -> None:
        self.kind = kind
        self.fields = fields

    def text(self) -> str:
        """The line Pacemaker's text output prints for this step (without the bullet)."""
        values = dict(self.fields)
        if self.kind in ("quorum", "watchdog"):
            return f"Setting {self.kind}: {values['value']}"
        if self.kind == "node":
            words = {"Online": "Bringing node {} online", "Offline": "Taking node {} offline",
                     "Failing": "Failing node {}"}
            return words[values["action"]].format(values["node"])
        if self.kind == "ticket":
            words = {"Granting": "Granting ticket {}", "Revoking": "Revoking ticket {}",
                     "Standby": "Making ticket {} standby",
                     "Activating": "Activating ticket {}"}
            return words[values["action"]].format(values["ticket"])
        if self.kind == "spec":
            return f"Injecting {values['spec']} into the configuration"
        return (f"Injecting attribute {values['name']}={values['value']} into "
                f"{values['node_path']} '{values['cib_node']}'")


class Injected:
    """The modified CIB, what was done (in order) and the specs that were skipped.

    Plain rather than a dataclass (crm_simulate's start-up cost); only read once made.
    """

    __slots__ = ("cib", "modifications", "warnings")

    def __init__(self, cib: etree._Element, modifications: tuple[Modification, ...],
                 warnings: tuple[str, ...]) -> None:
        self.cib, self.modifications, self.warnings = cib, modifications, warnings


def inject(cib: etree._Element, injections: Injections, now: int) -> Injected:
    """Apply `injections` to a copy of `cib`; `now` stamps results and last-failure.

    Without modifications the result holds `cib` itself (callers never modify it).
    """
    if not injections.requested:
        return Injected(cib, (), ())  # nothing to write: no copy (a large CIB costs ms)
    result = copy.deepcopy(cib)
    _check_nodes(result, injections)
    editor = _Editor(result, now)
    editor.apply(injections)
    return Injected(result, tuple(editor.done), tuple(editor.warnings))


def _known_nodes(cib: etree._Element) -> set[str]:
    names = {node.get("uname", "") for node in cib.iterfind("configuration/nodes/node")}
    return names | {state.get("uname", "") for state in cib.iterfind("status/node_state")}


def _check_nodes(cib: etree._Element, injections: Injections) -> None:
    """Every node named by -d, -f or -i must exist (Pacemaker aborts on an unknown one)."""
    known = _known_nodes(cib) | set(injections.node_up)
    named = [("-d/--node-down", node) for node in injections.node_down]
    named += [("-f/--node-fail", node) for node in injections.node_fail]
    for text in injections.op_inject:
        spec = parse_op_spec(text)
        if isinstance(spec, OpSpec):
            named.append((f"-i/--op-inject {text}", spec.node))
    for option, node in named:
        if node not in known:
            raise NotFoundError(f"{option}: no node named {node!r} in the CIB "
                                "(only -u/--node-up may add a node)")


class _Editor:
    """Applies the steps in Pacemaker's order and records what it did."""

    def __init__(self, cib: etree._Element, now: int) -> None:
        self.cib = cib
        self.now = now
        self.done: list[Modification] = []
        self.warnings: list[str] = []
        status = cib.find("status")
        self.status = status if status is not None else etree.SubElement(cib, "status")

    def note(self, kind: str, **fields: str) -> None:
        self.done.append(Modification(kind, tuple(fields.items())))

    def apply(self, injections: Injections) -> None:
        if injections.quorum is not None:
            self.cib.set("have-quorum", injections.quorum)
            self.note("quorum", value=injections.quorum)
        if injections.watchdog is not None:
            self._watchdog(injections.watchdog)
            self.note("watchdog", value=injections.watchdog)
        for action, nodes in (("Online", injections.node_up), ("Offline", injections.node_down),
                              ("Failing", injections.node_fail)):
            for node in nodes:
                self.note("node", action=action, node=node)
                self._node_state_change(node, action)
        for action, attribute, value, tickets in (
                ("Granting", "granted", "true", injections.ticket_grant),
                ("Revoking", "granted", "false", injections.ticket_revoke),
                ("Standby", "standby", "true", injections.ticket_standby),
                ("Activating", "standby", "false", injections.ticket_activate)):
            for ticket in tickets:
                self.note("ticket", action=action, ticket=ticket)
                self._ticket(ticket, attribute, value)
        for text in injections.op_inject:
            self._op_inject(text)

    def _watchdog(self, value: str) -> None:
        config = self.cib.find("configuration")
        if config is None:
            config = etree.SubElement(self.cib, "configuration")
        crm_config = config.find("crm_config")
        if crm_config is None:
            crm_config = etree.Element("crm_config")
            config.insert(0, crm_config)
        options = crm_config.find("cluster_property_set[@id='cib-bootstrap-options']")
        if options is None:
            options = etree.SubElement(crm_config, "cluster_property_set",
                                       id="cib-bootstrap-options")
        _set_nvpair(options, "cib-bootstrap-options-have-watchdog", "have-watchdog", value)

    def node_state(self, uname: str) -> etree._Element:
        """The node's <node_state>, created (id from <nodes>, else the name) when absent."""
        for state in self.status.iterfind("node_state"):
            if state.get("uname") == uname:
                return state
        node_id = None
        for node in self.cib.iterfind("configuration/nodes/node"):
            if node.get("uname") == uname:
                node_id = node.get("id", uname)
        if node_id is None:  # a new node: Pacemaker adds it to <nodes> too
            node_id = uname
            nodes = self.cib.find("configuration/nodes")
            if nodes is not None:
                etree.SubElement(nodes, "node", id=uname, uname=uname)
        # appended, as the CIB appends a created element (after <tickets> made earlier)
        return etree.SubElement(self.status, "node_state", id=node_id, uname=uname)

    def _node_state_change(self, uname: str, action: str) -> None:
        state = self.node_state(uname)
        up = action != "Offline"
        state.set("in_ccm", "true" if action == "Online" else "false")
        state.set("crmd", "online" if up else "offline")
        state.set("join", "member" if up else "down")
        state.set("expected", "member" if up else "down")
        state.set("crm-debug-origin", "crm_simulate")
        if action == "Offline":
            for child in list(state):
                if child.tag in ("lrm", "transient_attributes"):
                    state.remove(child)

    def _ticket(self, ticket: str, attribute: str, value: str) -> None:
        tickets = self.status.find("tickets")
        if tickets is None:
            tickets = etree.SubElement(self.status, "tickets")
        state = tickets.find(f"ticket_state[@id='{ticket}']") if "'" not in ticket else None
        if state is None:
            state = etree.SubElement(tickets, "ticket_state", id=ticket)
        state.set(attribute, value)

    def _op_inject(self, text: str) -> None:
        self.note("spec", spec=text)  # Pacemaker announces the spec before reading it
        spec = parse_op_spec(text)
        if not isinstance(spec, OpSpec):
            self.warnings.append(spec)
            return
        agent = _resource_agent(self.cib, spec.resource)
        if agent is None:
            self.warnings.append(f"Invalid resource name: {spec.resource} "
                                 f"(-i/--op-inject {text}: no such resource; ignored)")
            return
        state = self.node_state(spec.node)
        had_history = state.find("lrm") is not None
        history = lrm_resource(state, spec.resource, agent)
        record_result(history, spec.task, spec.interval_ms, spec.rc, target_rc=0, now=self.now,
                      exit_reason="Simulated action result")
        self.done += inject_failcount(state, spec.resource, spec.task, spec.interval_ms,
                                      spec.rc, self.now)
        lrm = state.find("lrm")
        if not had_history and lrm is not None:
            # Pacemaker commits the fail count before the new history: <lrm> comes after
            state.append(lrm)


def inject_failcount(state: etree._Element, resource: str, task: str, interval_ms: int,
                     rc: int, now: int) -> list[Modification]:
    """fail-count++ and last-failure for a failed result (a probe's 7 is no failure)."""
    if rc == 0 or (rc == 7 and interval_ms == 0):
        return []
    suffix = f"{resource}#{task}_{interval_ms}"
    done = []
    for name, value in ((f"fail-count-{suffix}", "value++"),
                        (f"last-failure-{suffix}", str(now))):
        done.append(Modification("attr", (("name", name), ("value", value),
                                          ("node_path", "/node_state"),
                                          ("cib_node", state.get("id", "")))))
        _set_transient(state, name, value)
    return done


def _set_nvpair(parent: etree._Element, pair_id: str, name: str, value: str) -> None:
    for pair in parent.iterfind("nvpair"):
        if pair.get("name") == name:
            pair.set("value", value)
            return
    etree.SubElement(parent, "nvpair", id=pair_id, name=name, value=value)


def _set_transient(state: etree._Element, name: str, value: str) -> None:
    """Set a transient node attribute; "value++" adds one to the current value."""
    node_id = state.get("id", "")
    transient = state.find("transient_attributes")
    if transient is None:
        transient = etree.SubElement(state, "transient_attributes", id=node_id)
    attributes = transient.find("instance_attributes")
    if attributes is None:
        attributes = etree.SubElement(transient, "instance_attributes", id=node_id)
    if value == "value++":
        old = next((p.get("value", "") for p in attributes.iterfind("nvpair")
                    if p.get("name") == name), "0")
        value = str(_plus_one(old))
    pair_id = f"{attributes.get('id', node_id)}-{name}".replace("#", ".")  # set id, as Pacemaker
    _set_nvpair(attributes, pair_id, name, value)


def _plus_one(old: str) -> str | int:
    if old.strip().upper() in ("INFINITY", "+INFINITY"):
        return "INFINITY"
    try:
        return min(int(old) + 1, INFINITY)
    except ValueError:
        return 1


def _resource_agent(cib: etree._Element, resource: str) -> tuple[str, str | None, str] | None:
    """(class, provider, type) of the primitive `resource` names, or None.

    As Pacemaker looks resources up (by id, or by the name an instance's history is kept
    under): a primitive outside any clone by its id; one inside a clone by an instance name
    `id:N` (N below clone-max, default the number of nodes) or by any name its history
    already uses, such as the bare id of an anonymous clone.
    """
    base, colon, instance = resource.partition(":")
    for primitive in cib.iterfind("configuration/resources//primitive"):
        if primitive.get("id") != base:
            continue
        clone = next((a for a in primitive.iterancestors() if a.tag in ("clone", "master")),
                     None)
        agent = (primitive.get("class", ""), primitive.get("provider"),
                 primitive.get("type", ""))
        if clone is None:
            return None if colon else agent
        if colon and instance.isdigit() and int(instance) < _clone_max(cib, clone):
            return agent
        histories = cib.iterfind("status/node_state/lrm/lrm_resources/lrm_resource")
        return agent if any(entry.get("id") == resource for entry in histories) else None
    return None


def _clone_max(cib: etree._Element, clone: etree._Element) -> int:
    for block in clone.iterfind("meta_attributes"):
        for pair in block.iterfind("nvpair"):
            if pair.get("name") == "clone-max" and pair.get("value", "").isdigit():
                return int(pair.get("value", "0"))
    return len(cib.findall("configuration/nodes/node"))


def lrm_resource(state: etree._Element, resource: str,
                 agent: tuple[str, str | None, str]) -> etree._Element:
    """The node's history entry for `resource`, created (with its agent) when absent."""
    lrm = state.find("lrm")
    if lrm is None:
        lrm = etree.SubElement(state, "lrm", id=state.get("id", ""))
    resources = lrm.find("lrm_resources")
    if resources is None:
        resources = etree.SubElement(lrm, "lrm_resources")
    for entry in resources.iterfind("lrm_resource"):
        if entry.get("id") == resource:
            return entry
    entry = etree.SubElement(resources, "lrm_resource", id=resource)
    entry.set("class", agent[0])
    if agent[1] is not None:
        entry.set("provider", agent[1])
    entry.set("type", agent[2])
    return entry


def record_result(history: etree._Element, task: str, interval_ms: int, rc: int, *,
                  target_rc: int, now: int, exit_reason: str,
                  digest: str | None = None, op_id: str | None = None,
                  rsc_id: str | None = None) -> None:
    """Record one operation result the way the controller does (see the module docstring).

    The call id is one above the highest of this resource's history on this node; `op_id`
    names the entry when the controller's rule is not the default one (notifications);
    `rsc_id` is the resource name the executor ran it under (default: the entry's id).
    """
    resource = rsc_id or history.get("id", "")
    call_id = 1 + max((int(op.get("call-id", "0")) for op in history
                       if op.get("call-id", "").lstrip("-").isdigit()), default=0)
    failed = rc != target_rc
    if failed:
        ids = [f"{resource}_last_failure_0"] + ([f"{resource}_last_0"] if not interval_ms
                                                 else [])
    elif task in ("migrate_to", "migrate_from") or interval_ms:
        ids = [f"{resource}_{task}_{interval_ms}"]
    else:
        ids = [f"{resource}_last_0"]
    if op_id is not None:
        ids = [op_id]
    key = f"{call_id}:-1:{target_rc}:{FAKE_DC_UUID}"
    values = {
        "operation_key": f"{resource}_{task}_{interval_ms}", "operation": task,
        "crm-debug-origin": "crm_simulate", "crm_feature_set": CRM_FEATURE_SET,
        "transition-key": key, "transition-magic": f"0:{rc};{key}",
        "exit-reason": exit_reason if failed else "", "call-id": str(call_id),
        "rc-code": str(rc), "op-status": "0", "interval": str(interval_ms),
        "last-rc-change": str(now), "exec-time": "0", "queue-time": "0",
    }
    if digest is not None:
        values["op-digest"] = digest
    existing = {op.get("id"): op for op in history}
    for op_id in ids:
        found = existing.get(op_id)
        if found is None:  # attributes in one call: simulated runs write tens of thousands
            etree.SubElement(history, "lrm_rsc_op", attrib={"id": op_id, **values})
        else:
            found.attrib.update(list(values.items()))


__all__ = ["Injected", "Injections", "Modification", "inject", "inject_failcount",
           "lrm_resource", "parse_operation_key", "record_result"]
