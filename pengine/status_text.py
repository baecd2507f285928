"""Render an unpacked ClusterStatus as crm_mon / crm_simulate text.

Pure: ClusterStatus in, lines out (no trailing newlines). The layout follows Pacemaker
2.1.5's text output as stored in the conformance summaries: a "Node List" with one line per
node in a special state followed by the "Online:" and "OFFLINE:" bracket lists, and a "Full
List of Resources" with one tab-separated line per primitive (`id<TAB>(agent):<TAB> state`),
groups as headers with their members indented one level deeper, and clones either per
instance (unique) or as "Started: [ ... ]" bracket lists (anonymous).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from messaging.types import Role
from pengine.glib_order import node_name_key
from pengine.model import ClusterStatus, FailedOperation, NodeStatus, ResourceStatus
from pengine.xmlin import is_true

_PENDING_STATE = {
    "start": "Starting",
    "stop": "Stopping",
    "migrate_to": "Migrating",
    "migrate_from": "Migrating",
    "promote": "Promoting",
    "demote": "Demoting",
}
_COLLECTIVE = ("clone", "promotable")


def render_status(status: ClusterStatus, *, failed_actions: bool = False) -> list[str]:
    """Node List and Full List of Resources (and optionally Failed Resource Actions)."""
    lines = ["  * Node List:"]
    lines += [f"    * {text}" for text in node_lines(status)]
    lines += ["", "  * Full List of Resources:"]
    resource_text = resource_lines(status)
    if resource_text:
        lines += [f"    * {text}" if not text.startswith(" ") else f"    {text}"
                  for text in resource_text]
    else:
        lines.append("    * No resources")
    if failed_actions and status.failed_operations:
        lines += ["", "  * Failed Resource Actions:"]
        lines += [f"    * {failed_action_line(op)}" for op in status.failed_operations]
    return lines


def _node_state(node: NodeStatus, active: bool) -> str | None:
    """The individual state text of a node, or None when it goes into a bracket list."""
    if node.unclean:
        # online first: a pending node (join=pending) is online, and crm_simulate shows
        # it UNCLEAN (online) (a failed stop there, made-up CIB)
        if node.online:
            return "UNCLEAN (online)"
        return "UNCLEAN (pending)" if node.pending else "UNCLEAN (offline)"
    if node.pending:
        return "pending"
    if node.standby_onfail and node.online:
        return "standby (on-fail)"
    if node.unseen and not node.online:
        return None  # never seen: its standby/maintenance attributes were not applied
    if node.standby:
        if not node.online:
            return "OFFLINE (standby)"
        return "standby (with active resources)" if active else "standby"
    if node.maintenance:
        return "maintenance" if node.online else "OFFLINE (maintenance)"
    if node.online and node.health in ("YELLOW", "RED"):
        return f"online (health is {node.health})"
    return None


def node_lines(status: ClusterStatus) -> list[str]:
    """One line per special node, then the Online / OFFLINE lists (remote nodes separately)."""
    busy = _active_nodes(status.resources)
    special: list[str] = []
    lists: dict[str, list[str]] = {}
    for node in status.nodes:
        state = _node_state(node, node.name in busy)
        if state is not None:
            special.append(f"Node {node.name}: {state}")
            continue
        prefix = {"remote": "Remote", "guest": "Guest"}.get(node.kind, "")
        label = f"{prefix}Online" if node.online else f"{prefix}OFFLINE"
        lists.setdefault(label, []).append(node.name)
    order = ("Online", "OFFLINE", "RemoteOnline", "RemoteOFFLINE", "GuestOnline", "GuestOFFLINE")
    for label in order:
        if label in lists:
            special.append(f"{label}: [ {' '.join(lists[label])} ]")
    return special


def _active_nodes(resources: Iterable[ResourceStatus]) -> set[str]:
    found: set[str] = set()
    for rsc in resources:
        found.update(rsc.running_on)
        found |= _active_nodes(rsc.children)
    return found


@dataclass(frozen=True, slots=True)
class _Context:
    unclean: frozenset[str]
    all_nodes: tuple[str, ...]
    inactive: bool = True  # crm_mon without -r hides what is not active anywhere
    promotable: bool = False  # the top-level resource is a promotable clone
    offline: frozenset[str] = frozenset()  # nodes cleanly offline (neither online nor unclean)


def resource_lines(status: ClusterStatus, *, inactive: bool = True,
                   inactive_section: bool = False) -> list[str]:
    """Resource lines; nested lines are returned with two extra leading spaces per level.

    inactive=False leaves out resources active nowhere (crm_mon's "Active Resources").
    inactive_section: crm_mon -n's "Inactive Resources", which lists a partly active
    resource even where it has no node of its own (see is_listed).
    """
    ctx = _Context(frozenset(n.name for n in status.nodes if n.unclean and not n.online),
                   tuple(node.name for node in status.nodes), inactive,
                   offline=frozenset(n.name for n in status.nodes
                                     if not n.online and not n.unclean))
    out: list[str] = []
    for rsc in status.resources:
        if is_listed(rsc) or (inactive_section and not rsc.orphan):
            out += _resource(rsc, replace(ctx, promotable=rsc.kind == "promotable"), depth=0)
    return out


def is_listed(rsc: ResourceStatus) -> bool:
    """Whether a top-level resource appears in the resource list at all.

    A stopped orphan is history only. A group or clone active only through a blocked
    member on an offline node has no node of its own (the member's node is not passed up
    while offline), and Pacemaker skips a partly active resource running nowhere.
    """
    if rsc.running_on:
        return True
    return not rsc.orphan and not is_active(rsc)


def is_active(rsc: ResourceStatus) -> bool:
    """Active on some node (itself or any member or instance)."""
    return bool(rsc.running_on) or any(is_active(child) for child in rsc.children)


def _resource(rsc: ResourceStatus, ctx: _Context, depth: int) -> list[str]:
    pad = "  " * depth
    bullet = "" if depth == 0 else "* "
    if not ctx.inactive and not is_active(rsc):
        return []
    if rsc.kind == "group":
        members = rsc.children if ctx.inactive else tuple(filter(is_active, rsc.children))
        hidden = len(rsc.children) - len(members)
        note = (f"{hidden} member{'' if hidden == 1 else 's'} inactive",) if hidden else ()
        head = f"{pad}{bullet}Resource Group: {rsc.id}{_collective_flags(rsc, note, ctx)}:"
        lines = [head]
        for child in members:
            lines += _resource(child, ctx, depth + 1)
        return lines
    if rsc.kind in _COLLECTIVE:
        return _clone(rsc, ctx, depth)
    return [f"{pad}{bullet}{primitive_line(rsc, ctx.unclean, ctx.promotable)}"]


def is_disabled(rsc: ResourceStatus, promotable: bool) -> bool:
    """Pacemaker's pe__resource_is_disabled: target-role Stopped, or Unpromoted inside a
    promotable clone (`promotable`: the resource's top-level parent is one)."""
    return rsc.target_role == Role.STOPPED or (promotable and rsc.target_role == Role.UNPROMOTED)


def _collective_flags(rsc: ResourceStatus, extra: tuple[str, ...], ctx: _Context) -> str:
    flags = list(extra)
    if not rsc.managed:
        flags.append("unmanaged")
    if is_disabled(rsc, ctx.promotable):
        flags.append("disabled")
    return f" ({', '.join(flags)})" if flags else ""


def primitive_line(rsc: ResourceStatus, unclean: frozenset[str] | set[str] = frozenset(),
                   promotable: bool = False) -> str:
    """`id<TAB>(agent):<TAB> state`, e.g. "rsc1\t(ocf:heartbeat:Dummy):\t Started node1";
    `promotable`: its top-level parent is a promotable clone."""
    text = "ORPHANED " if rsc.orphan else ""
    if rsc.failed:
        text += "FAILED" + (f" {rsc.role.text}" if rsc.role > Role.UNPROMOTED else "")
    elif rsc.pending_task in _PENDING_STATE:
        text += _PENDING_STATE[rsc.pending_task]
    else:
        role = rsc.role
        if role == Role.UNKNOWN and rsc.running_on:
            role = Role.STARTED  # Pacemaker prints a role found Stopped as is (migrate-fail-7)
        text += role.text if role > Role.UNKNOWN else "Stopped"
    locked_to = getattr(rsc, "locked_to", None)
    if len(rsc.running_on) == 1:
        text += f" {rsc.running_on[0]}"
    elif rsc.pending_node and not rsc.running_on:
        text += f" {rsc.pending_node}"  # running nowhere yet: where its action is pending
    elif locked_to and not rsc.running_on:
        text += f" {locked_to}"
    if rsc.probe_failure_rc is not None and not rsc.running_on:
        text += f" ({_rc_text(rsc.probe_failure_rc)}) "  # Pacemaker's trailing space
    flags = _primitive_flags(rsc, unclean, promotable)
    if flags:
        text += f" ({', '.join(flags)})"
    if len(rsc.running_on) > 1 and rsc.description:
        text += f" {rsc.description}"  # Pacemaker adds it for multiply active ones
    if len(rsc.running_on) > 1:
        text += f" [ {' '.join(rsc.running_on)} ]"
    return f"{rsc.id}\t({rsc.agent}):\t {text}"


def _primitive_flags(rsc: ResourceStatus, unclean: frozenset[str] | set[str],
                     promotable: bool) -> list[str]:
    flags: list[str] = []
    if len(rsc.running_on) == 1 and rsc.running_on[0] in unclean:
        flags.append("UNCLEAN")
    if getattr(rsc, "locked_to", None):
        flags.append("LOCKED")
    if rsc.pending_task == "monitor":
        flags.append("Monitoring")
    if rsc.target_role == Role.STOPPED:
        flags.append("disabled")
    elif promotable and rsc.target_role == Role.UNPROMOTED:
        # Pacemaker shows a target role only where it limits the resource
        flags.append(f"target-role:{rsc.target_role_text}")
    if rsc.blocked:
        flags.append("blocked")
    elif rsc.maintenance:
        flags.append("maintenance")
    elif not rsc.managed:
        flags.append("unmanaged")
    if rsc.failure_ignored:
        flags.append("failure ignored")
    return flags


def _clone(rsc: ResourceStatus, ctx: _Context, depth: int) -> list[str]:
    """Clone Set header, then instances (unique or non-trivial) or role bracket lists."""
    pad = "  " * depth
    bullet = "" if depth == 0 else "* "
    extra: tuple[str, ...] = ("promotable",) if rsc.kind == "promotable" else ()
    unique = rsc.unique
    if unique:
        extra += ("unique",)
    head = f"Clone Set: {rsc.id} [{_template_name(rsc)}]{_collective_flags(rsc, extra, ctx)}:"
    lines = [f"{pad}{bullet}{head}"]
    inner = "  " * (depth + 1) + "* "
    simple: dict[str, list[str]] = {}
    for child in rsc.children:
        if unique:  # every primitive instance of an active unique clone is listed
            shown_ctx = replace(ctx, inactive=True) if child.kind == "primitive" else ctx
            lines += _resource(child, shown_ctx, depth + 1)
        elif not child.running_on or not _active(child, ctx.offline):
            continue
        elif _plain_instance(child, ctx.unclean):
            nodes = child.children[0].running_on if child.kind == "group" else child.running_on
            simple.setdefault(_role_label(rsc, child), []).extend(nodes)
        else:
            lines += _resource(_anonymous(child), ctx, depth + 1)
    for label in ("Promoted", "Unpromoted", "Started"):
        if label in simple:
            # pe__clone_default sorts the node names with pe__cmp_node_name (digit runs as
            # numbers): node8 before node15
            names = sorted(simple[label], key=node_name_key)
            if label == "Unpromoted" and _configured_role(rsc) == Role.UNPROMOTED:
                label += " (target-role)"
            lines.append(f"{inner}{label}: [ {' '.join(names)} ]")
    if not unique and ctx.inactive:
        lines += _stopped_lists(rsc, ctx, inner, sum(len(v) for v in simple.values()))
    return lines


def _active(rsc: ResourceStatus, offline: frozenset[str]) -> bool:
    """native_active: a managed resource active only on cleanly offline nodes (whose
    history shutdown-lock has unpacked) is not active, so a clone lists that instance
    nowhere, neither Started nor (its node) Stopped (made-up CIB, shutdown-lock=true: an
    instance on an offline node is neither). A group is active when a member is."""
    if rsc.kind == "group":
        return any(_active(member, offline) for member in rsc.children)
    return not rsc.managed or any(node not in offline for node in rsc.running_on)


def _stopped_lists(rsc: ResourceStatus, ctx: _Context, inner: str,
                   listed: int) -> list[str]:
    """Nodes without an active instance: plain, then those where the agent is missing.

    Pacemaker lists them only while its role lists (`listed` instances; those shown on a
    line of their own do not count) hold fewer instances than the clone may run.
    """
    if listed >= sum(1 for child in rsc.children if not child.orphan):
        return []
    # the clone's own nodes: a blocked instance's offline node is not one of them
    used = set(rsc.running_on)
    missing = set(rsc.not_installed_on)
    for child in rsc.children:
        missing.update(child.not_installed_on)
    allowed = ctx.all_nodes if rsc.allowed_on is None else rsc.allowed_on
    stopped = [n for n in allowed if n not in used and n not in missing]
    absent = [n for n in allowed if n not in used and n in missing]
    lines = []
    if stopped:
        label = "Stopped (disabled)" if _configured_role(rsc) == Role.STOPPED else "Stopped"
        lines.append(f"{inner}{label}: [ {' '.join(stopped)} ]")
    if absent:
        lines.append(f"{inner}Stopped (not installed): [ {' '.join(absent)} ]")
    return lines


def _configured_role(clone: ResourceStatus) -> Role | None:
    """The target-role a clone's lists go by: its own, else its first instance's (a
    primitive's or a group's own, not a group member's)."""
    if clone.target_role is None and clone.children:
        return clone.children[0].target_role
    return clone.target_role


def _plain_instance(child: ResourceStatus, unclean: frozenset[str] = frozenset(),
                    member: bool = False) -> bool:
    """An anonymous instance that fits into a "Started: [ ... ]" list.

    A group instance fits when every member is plainly active on the same node, whatever
    their roles (pe__clone_default lists it by the group's highest role); one on an unclean
    node does not (it is listed on its own, flagged UNCLEAN). Only an instance's own
    pending action lists it on its own: a group instance has none, so its members' pending
    starts leave it in the list (seeds 2094 2475 2489).
    """
    if child.kind == "group":
        return bool(child.children) and all(
            _plain_instance(m, unclean, member=True)
            and m.running_on == child.children[0].running_on for m in child.children)
    return (child.kind == "primitive" and not child.failed and child.managed
            and not child.orphan and not child.blocked and len(child.running_on) == 1
            and (member or child.pending_task is None) and child.running_on[0] not in unclean)


def _role_label(clone: ResourceStatus, child: ResourceStatus) -> str:
    if child.kind == "group" and child.children:  # group_resource_state: the highest role
        child = max(child.children, key=lambda member: member.role)
    if clone.kind == "promotable" and child.role <= Role.STARTED:
        return "Unpromoted"
    return child.role.text if child.role > Role.STOPPED else "Started"


def _anonymous(child: ResourceStatus) -> ResourceStatus:
    """Anonymous instances are shown under their configured name (no ":N")."""
    if child.kind == "group":
        return child.replace(children=tuple(_anonymous(m) for m in child.children))
    if child.kind != "primitive":
        return child
    return child.replace(id=child.id.split(":")[0])


def _template_name(rsc: ResourceStatus) -> str:
    if not rsc.children:
        return rsc.id
    return rsc.children[0].id.split(":")[0]


def readable_interval(ms: int) -> str:
    """Pacemaker's short duration text: 10ms, 10s, 30.160s, 1m30s, 2h, 1d2h.

    Pacemaker moves up to a larger unit only when the value exceeds it (its comparisons
    are strict), so exactly one second reads "1000ms", one minute "60s", one hour "60m".
    """
    if ms == 0:
        return "0s"
    text = ""
    for unit_ms, unit in ((86_400_000, "d"), (3_600_000, "h"), (60_000, "m")):
        if ms > unit_ms:
            text += f"{ms // unit_ms}{unit}"
            ms %= unit_ms
    if ms > 1000:
        seconds, millis = divmod(ms, 1000)
        text += f"{seconds}.{millis:03d}s" if millis else f"{seconds}s"
    elif ms:
        text += f"{ms}ms"
    return text


def _op_description(op: FailedOperation) -> str:
    if op.task == "monitor" and op.interval_ms == 0:
        return "probe"
    if op.interval_ms:
        return f"{readable_interval(op.interval_ms)}-interval {op.task}"
    return op.task


def _op_resource(op: FailedOperation) -> str:
    """Pacemaker names the resource after the op key; old CIBs only have it in the id."""
    key = op.op_key or op.op_id
    if key.endswith(("_last_failure_0", "_last_0")) or not key:
        return op.resource
    from pengine.graph_xml import key_resource  # lazily: it pulls in the later stages

    return key_resource(key) or op.resource


def failed_action_line(op: FailedOperation) -> str:
    """One "Failed Resource Actions" entry in crm_mon's default (short) form."""
    text = f"{_op_resource(op)} {_op_description(op)} on {op.node}"
    if op.status == 0:
        text += f" returned '{_rc_text(op.rc)}'"
        if op.exit_reason:
            text += f" ({op.exit_reason})"
    else:
        text += f" could not be executed ({_status_text(op.status)})"
        if op.exit_reason:
            text += f" because '{op.exit_reason}'"
    if op.last_rc_change:
        when = datetime.fromtimestamp(op.last_rc_change, UTC).strftime("%a %b %e %H:%M:%S %Y")
        text += f" at {when}"
        if op.exec_time_ms:
            text += f" after {readable_interval(op.exec_time_ms)}"
    return text


_RC_TEXT = {
    0: "ok", 1: "error", 2: "invalid parameter", 3: "unimplemented feature",
    4: "insufficient privileges", 5: "not installed", 6: "not configured",
    7: "not running", 8: "promoted", 9: "promoted (failed)",
    # Pacemaker 2.1.5's own words for the degraded codes (ocf_degraded-remap-ocf_ok)
    190: "OCF_DEGRADED", 191: "promoted (degraded)",
}
_STATUS_TEXT = {
    -1: "pending", 0: "complete", 1: "Cancelled", 2: "Timed Out", 3: "NOT SUPPORTED",
    4: "Error", 5: "Hard error", 6: "Fatal", 7: "Not installed", 8: "Not connected",
    9: "Invalid", 10: "No fence device", 11: "No secrets",
}


def _rc_text(rc: int) -> str:
    return _RC_TEXT.get(rc, "unknown")


def _status_text(status: int) -> str:
    return _STATUS_TEXT.get(status, "unknown")


def _primitives(resources: Iterable[ResourceStatus]) -> Iterable[ResourceStatus]:
    for rsc in resources:
        if rsc.kind == "primitive":
            yield rsc
        else:
            yield from _primitives(rsc.children)


def without_pending(status: ClusterStatus) -> ClusterStatus:
    """The status as printed without pending actions: a pending start shows as Started."""
    def strip(rsc: ResourceStatus) -> ResourceStatus:
        return rsc.replace(pending_task=None, pending_node=None,
                           children=tuple(strip(child) for child in rsc.children))
    return status.replace(resources=tuple(strip(rsc) for rsc in status.resources))


def maintenance_banner(status: ClusterStatus) -> list[str]:
    """The notice crm_simulate prints above the status while maintenance-mode is on (not for
    stop-all-resources: Debian's 2.1.5 prints none then), blank lines around it."""
    if not is_true(dict(status.options).get("maintenance-mode")):
        return []
    return ["", " " * 14 + "*** Resource management is DISABLED ***",
            "  The cluster will not attempt to start, stop or recover services", ""]


def counts_line(status: ClusterStatus) -> str | None:
    """Pacemaker's note on disabled and blocked resources, printed above the status.

    Counts primitive instances (group members and clone instances included, stopped
    orphans excluded); None when nothing is disabled or blocked.
    """
    total, disabled, blocked = resource_counts(status)
    if not disabled and not blocked:
        return None
    return (f"{disabled} of {total} resource instances DISABLED and {blocked} "
            "BLOCKED from further action due to failure")


def resource_counts(status: ClusterStatus) -> tuple[int, int, int]:
    """Primitive instances configured, how many are disabled and how many blocked."""
    instances = [(r, top.kind == "promotable") for top in status.resources
                 for r in _primitives((top,)) if r.running_on or not r.orphan]
    disabled = sum(1 for r, promotable in instances if is_disabled(r, promotable))
    blocked = sum(1 for r, _ in instances if r.blocked)
    return len(instances), disabled, blocked
