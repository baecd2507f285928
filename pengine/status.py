"""Build the public ClusterStatus from the unpack stage's result.

Invariant: pure translation; display order equals Pacemaker's resource order.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from lxml import etree

from messaging.errors import HAError, ValidationError
from messaging.types import Role
from pengine.model import (
    ClusterStatus,
    FailedOperation,
    LocationBan,
    NodeStatus,
    ResourceStatus,
)
from pengine.state import RscState, Unpacked
from pengine.unpack import unpack
from pengine.unpack_history import CLONE_BAN_TAGS, _int
from pengine.unpack_resources import RscConfig, template_members
from pengine.xmlin import is_true, parse


def _shown_lock(st: RscState) -> str | None:
    """The lock the status shows: crm_simulate's status is unpacked only, so it is the lock
    the history records, even one the scheduler then cancels because the resource is active;
    "(LOCKED)" follows the node printed, so it shows for a resource stopped or active on its
    lock node only (made-up CIBs: active on another node, no "(LOCKED)")."""
    lock = st.lock_recorded
    return lock if not st.running_on or st.running_on[0] == lock else None


def _resource(u: Unpacked, rid: str) -> ResourceStatus:
    rsc = u.rsc(rid)
    if rsc.kind == "primitive":
        st = u.states[rid]
        role = st.role if st.running_on else Role.STOPPED
        return ResourceStatus(
            id=rid, kind="primitive", agent=rsc.agent, children=(), role=role,
            running_on=tuple(st.running_on), managed=st.managed,
            failed=st.failed, orphan=rsc.orphan, target_role=rsc.target_role,
            target_role_text=rsc.meta.get("target-role"),
            pending_task=st.pending_task, pending_node=st.pending_node, blocked=st.blocked,
            failure_ignored=st.failure_ignored,
            # the primitive's description attribute (a "description" meta attribute is not it)
            description=rsc.element.get("description") if rsc.element is not None else None,
            not_installed_on=_not_installed_on(u, rsc),
            locked_to=_shown_lock(st),
            probe_failure_rc=_probe_failure_rc(u, rsc), clone_name=st.clone_name,
        )
    children = tuple(_resource(u, c) for c in rsc.children)
    kind = "promotable" if rsc.promotable else rsc.kind
    running = tuple(dict.fromkeys(n for c in children for n in _passed_up(u, c)))
    managed = _managed(u, rsc.meta)
    return ResourceStatus(
        id=rid, kind=kind, agent="", children=children,
        role=max((c.role for c in children), default=Role.STOPPED), running_on=running,
        managed=managed, failed=any(c.failed for c in children),
        orphan=False, target_role=rsc.target_role, description=rsc.meta.get("description"),
        target_role_text=rsc.meta.get("target-role"),
        unique=rsc.kind == "clone" and rsc.unique,
        blocked=any(c.blocked for c in children),
        allowed_on=_allowed_on(u, rsc) if rsc.kind == "clone" else None,
    )


def _allowed_on(u: Unpacked, rsc: RscConfig) -> tuple[str, ...] | None:
    """Where crm_mon may list a clone Stopped: in a symmetric cluster every node (None);
    else, since crm_mon reads no constraints, only nodes where an instance has history
    (seed 1119: Pacemaker 2.1.5 lists "Stopped: [ node4 ]", where the one probe ran). Its
    orphan instances count: process_rsc_state marks their nodes known to the clone too.
    But once unpacking has put a node in the clone's own allowed nodes (an anonymous
    instance's hard error, fatal error or on-fail=stop bans the clone), crm_mon lists those
    nodes instead (crm_simulate: a probe rc 5 on node2 and rc 7 on node1 list only node2)."""
    if u.options.symmetric:
        return None
    prims = u.instance_primitives(rsc.id)
    banned = {node for rid in prims for node, _, tag in u.states[rid].locations
              if tag in CLONE_BAN_TAGS} if not rsc.unique else set()
    if banned:
        return tuple(n.name for n in u.nodes if None in banned or n.name in banned)
    known = {n for rid in prims for n in u.states[rid].known_on}
    return tuple(node.name for node in u.nodes if node.name in known)


def _probe_failure_rc(u: Unpacked, rsc: RscConfig) -> int | None:
    """The exit code of the first recorded failed probe of a primitive outside clones.

    Pacemaker looks the probe up among the failures it recorded (online nodes only) and
    matches only entries that carry an on_node attribute, which old CIBs lack.
    """
    if _in_clone(u, rsc):
        return None
    online = {n.name for n in u.nodes if n.online}
    for op in u.failed_ops:
        node_state = next(op.iterancestors("node_state"), None)
        if node_state is None or node_state.get("uname") not in online:
            continue
        key = op.get("operation_key") or op.get("id") or ""
        if _masked_probe(op) and op.get("on_node") and key.rsplit("_", 2)[0] == rsc.id:
            return _int(op.get("rc-code"))
    return None


def _not_installed_on(u: Unpacked, rsc: RscConfig) -> tuple[str, ...]:
    """The nodes where a failed probe found the agent missing, as a clone lists them.

    A clone's "Stopped (not installed)" list takes a node only when the failed probe's
    operation key names the configured primitive (or the clone) itself: pe__failed_probe_for_rsc
    compares the key's resource with the XML id, so a `d:5_monitor_0` leaves the node in the
    plain Stopped list (seed 33).
    """
    nodes = [n for n, score, tag in u.states[rsc.id].locations
             if tag == "masked-probe-failure" and n is not None]
    # an orphan instance (one more than clone-max) is the clone's child all the same
    template = _template(u, rsc.id) if rsc.orphan else None
    if not nodes or not (_in_clone(u, rsc) or template is not None):
        return tuple(nodes)
    top = template or rsc
    while top.parent is not None:
        top = u.rsc(top.parent)
    names = {rsc.id.split(":", 1)[0], top.id}
    # only failures on online nodes are recorded (record_failed_op): an offline node's
    # failed probe leaves it in the plain Stopped list
    online = {n.name for n in u.nodes if n.online}
    keyed = set()
    for op in u.failed_ops:
        key = op.get("operation_key") or op.get("id") or ""
        if _masked_probe(op) and key.rsplit("_", 2)[0] in names:
            keyed.add(op.get("on_node"))
    return tuple(n for n in nodes if n in keyed and n in online)


def _in_clone(u: Unpacked, rsc: RscConfig) -> bool:
    parent = rsc.parent
    while parent is not None:
        config = u.rsc(parent)
        if config.kind == "clone":
            return True
        parent = config.parent
    return False


def _passed_up(u: Unpacked, child: ResourceStatus) -> tuple[str, ...]:
    """The nodes a member counts as running on for its group or clone.

    Pacemaker adds an unmanaged resource's node to its parents' only while that node is
    online (native_add_running): a blocked instance left on an offline node is active
    but its clone is not, so crm_mon does not list the clone at all.
    """
    if child.kind != "primitive" or child.managed:
        return child.running_on
    return tuple(n for n in child.running_on if (node := u.node(n)) is not None and node.online)


def _orphan_instances(u: Unpacked) -> dict[str, tuple[ResourceStatus, ...]]:
    """Orphans of anonymous clones, as the extra instances Pacemaker shows them in.

    Pacemaker builds such an orphan as one more instance of the clone from its template, so
    crm_mon lists it inside the clone ("ORPHANED Started"; the XML lists stopped ones too);
    an orphaned group instance carries every member of the template, those without
    history as stopped orphans.
    """
    found: dict[str, tuple[ResourceStatus, ...]] = {}
    for clone in u.resources:
        if clone.kind != "clone" or clone.unique or clone.element is None:
            continue
        members = template_members(clone)
        group = next((c.get("id") or "" for c in clone.element if c.tag == "group"), None)
        numbers = list(dict.fromkeys(
            r.id.split(":", 1)[1] for r in u.resources
            if r.orphan and r.parent is None and ":" in r.id
            and r.id.split(":", 1)[0] in members))
        instances = []
        for number in numbers:
            # built from the clone's template, an orphan carries the template's target-role
            # (its member's own, else its group's or clone's)
            parts = tuple(
                part.replace(target_role_text=part.target_role_text
                             or _template_meta(u, clone, part.id).get("target-role"))
                for part in (_orphan_member(u, f"{m}:{number}") for m in members))
            if group is None:
                instances.append(parts[0])
                continue
            # the group instance is managed as its template is (whatever its members say)
            instances.append(parts[0].replace(
                id=f"{group}:{number}", kind="group", agent="", children=parts,
                managed=_managed(u, _template_meta(u, clone, f"{group}:{number}")),
                maintenance=False,
                running_on=tuple(dict.fromkeys(n for p in parts for n in p.running_on)),
                failed=any(p.failed for p in parts), pending_task=None, not_installed_on=(),
                clone_name=None))
        if instances:
            found[clone.id] = tuple(instances)
    return found


def _orphan_member(u: Unpacked, rid: str) -> ResourceStatus:
    if rid in u.states:
        return _resource(u, rid)
    template = _template(u, rid)
    # a member never found in the history is still built from the clone's template, so it
    # inherits the template's is-managed and maintenance (seed 15: an unmanaged clone) and
    # its target-role (a disabled clone's: "ORPHANED Stopped (disabled)", seed 6116)
    meta = template.meta if template is not None else {}
    managed = _managed(u, meta)
    return ResourceStatus(id=rid, kind="primitive",
                          agent=template.agent if template is not None else "", children=(),
                          role=Role.STOPPED, running_on=(), managed=managed, failed=False,
                          orphan=True,
                          target_role=template.target_role if template is not None else None)


def _managed(u: Unpacked, meta: Mapping[str, str]) -> bool:
    """Pacemaker's pe_rsc_managed from a resource's meta attributes."""
    return is_true(meta.get("is-managed"), True) and not u.options.maintenance_mode \
        and not is_true(meta.get("maintenance"), False)


def _template(u: Unpacked, rid: str) -> RscConfig | None:
    """The configured clone member an orphaned instance `rid` was built from."""
    return next((r for r in u.resources if r.parent is not None
                 and r.id.split(":", 1)[0] == rid.split(":", 1)[0]), None)


def _template_meta(u: Unpacked, clone: RscConfig, rid: str) -> Mapping[str, str]:
    """The meta attributes of the member an orphaned instance was built from (the clone's
    own when clone-max=0 left it without instances)."""
    template = _template(u, rid)
    return clone.meta if template is None else template.meta


def _health(attrs: dict[str, str]) -> str | None:
    colours = {v.lower() for k, v in attrs.items() if k.startswith("#health")}
    if "red" in colours:
        return "RED"
    if "yellow" in colours:
        return "YELLOW"
    return None


def _with_orphans(u: Unpacked, rsc: ResourceStatus,
                  orphans: dict[str, tuple[ResourceStatus, ...]]) -> ResourceStatus:
    if rsc.id not in orphans:
        return rsc
    children = rsc.children + orphans[rsc.id]
    return rsc.replace(
        children=children,
        running_on=tuple(dict.fromkeys(n for c in children for n in _passed_up(u, c))),
        failed=rsc.failed or any(c.failed for c in orphans[rsc.id]))


def _masked_probe(op: etree._Element) -> bool:
    """A probe that found the agent missing (rc 5 or status "not installed")."""
    if op.get("operation") != "monitor" or _int(op.get("interval")) != 0:
        return False
    return _int(op.get("rc-code")) == 5 or _int(op.get("op-status")) == 7


def location_bans(u: Unpacked) -> tuple[LocationBan, ...]:
    """Every negative node score of the location constraints, newest constraint first."""
    return tuple(entry for entry in location_scores(u) if entry.weight < 0)


def location_scores(u: Unpacked) -> tuple[LocationBan, ...]:
    """Every node score of the location constraints, newest constraint first.

    Pacemaker keeps its unpacked locations newest first. Walking its name-sorted node list,
    an "and" rule starts from a reversed copy of that list and an "or" rule appends the
    nodes that match, so the nodes of the former come in reverse order, the latter's not.
    """
    from pengine.constraints import unpack_constraints

    or_rules = {rule.get("id") for rule in u.root.iterfind(".//rsc_location/rule")
                if (rule.get("boolean-op") or "and").lower() == "or"}
    bans = []
    for location in reversed(unpack_constraints(u).locations):
        scores = location.scores if location.rule_id in or_rules else \
            tuple(reversed(location.scores))
        bans += [LocationBan(location.rule_id or location.id, location.rsc, node, score,
                             location.role == Role.PROMOTED)
                 for node, score in scores]
    return tuple(bans)


def build_status(u: Unpacked, *, with_bans: bool = False) -> ClusterStatus:
    # Pacemaker shows a node's health colour only when a node-health-strategy is in force.
    strategy = (dict(u.options.raw).get("node-health-strategy") or "none").lower()
    shows_health = strategy != "none"
    nodes = tuple(
        NodeStatus(
            name=n.name, id=n.id, online=n.online, unclean=n.unclean and not n.fenced_later,
            standby=n.standby,
            maintenance=n.maintenance, pending=n.pending, shutdown=n.shutdown, kind=n.kind,
            attributes=tuple(sorted((k, v) for k, v in n.attrs.items() if not k.startswith("#"))),
            unseen=n.unseen, standby_onfail=n.standby_onfail,
            health=_health(n.attrs) if shows_health else None,
            is_dc=n.id == u.options.dc_uuid,
        )
        for n in u.nodes
    )
    orphans = _orphan_instances(u)
    shown_inside = {m.id for instances in orphans.values() for i in instances
                    for m in (i, *i.children)}
    resources = tuple(_with_orphans(u, _resource(u, r.id), orphans) for r in u.resources
                      if r.parent is None and r.id not in shown_inside
                      and not (r.orphan and not u.states[r.id].running_on))
    failed = _failed_operations(u)
    dc = next((n.name for n in u.nodes if n.id == u.options.dc_uuid), None)
    execution = u.root.get("execution-date")
    return ClusterStatus(
        nodes=nodes, resources=resources, failed_operations=tuple(failed),
        have_quorum=u.options.have_quorum, dc=dc, stonith_enabled=u.options.stonith_enabled,
        options=u.options.raw, execution_date=_int(execution) if execution else None,
        bans=location_bans(u) if with_bans else (),
    )


CibInput = str | bytes | etree._Element

def _failed_operations(u: Unpacked) -> list[FailedOperation]:
    """The failed actions crm_mon lists, one per (operation_key, node) of online nodes."""
    failed = []
    online = {n.name for n in u.nodes if n.online}
    recorded: set[tuple[str | None, str]] = set()
    for op in u.failed_ops:
        lrm_rsc = op.getparent()
        node_state = next((a for a in op.iterancestors("node_state")), None)
        uname = (node_state.get("uname") if node_state is not None else "") or ""
        if node_state is not None and uname not in online:
            continue  # Pacemaker records failed actions of online nodes only
        if _masked_probe(op):
            continue  # the node just cannot run it: "Stopped (not installed)", not a failure
        # Pacemaker records one failure per (operation_key, node), comparing the keys
        # case-insensitively; old CIBs have no operation_key, so their node's first failure
        # stands for all of them.
        key = op.get("operation_key")
        if (key and key.lower(), uname.lower()) in recorded:
            continue
        recorded.add((key and key.lower(), uname.lower()))
        failed.append(FailedOperation(
            op_id=op.get("id") or "", resource=(lrm_rsc.get("id") if lrm_rsc is not None
                                                else "") or "",
            node=uname,
            task=op.get("operation") or "", interval_ms=_int(op.get("interval")),
            rc=_int(op.get("rc-code")), status=_int(op.get("op-status")),
            call_id=_int(op.get("call-id")), exit_reason=op.get("exit-reason"),
            last_rc_change=_int(op.get("last-rc-change")) if op.get("last-rc-change") else None,
            exec_time_ms=_int(op.get("exec-time")) if op.get("exec-time") else None,
            queue_time_ms=_int(op.get("queue-time")) if op.get("queue-time") else None,
            op_key=op.get("operation_key") or "",
        ))
    return failed



def effective_now(root: etree._Element, now: datetime.datetime | None,
                  default_now: datetime.datetime) -> datetime.datetime:
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=datetime.UTC)
    execution = root.get("execution-date")
    if execution and execution.strip().lstrip("-").isdigit():
        return datetime.datetime.fromtimestamp(int(execution), tz=datetime.UTC)
    return default_now


def unpack_cib(cib: CibInput, now: datetime.datetime | None,
               default_now: datetime.datetime) -> Unpacked:
    """Parse and unpack a CIB (the first scheduler stage; status tools stop here, so this
    module does not import the later stages and crm_mon starts fast)."""
    root = parse(cib)
    try:  # a tree parsed here from text is nobody else's: no need to copy it
        return unpack(root, effective_now(root, now, default_now),
                      owned=isinstance(cib, (str, bytes)))
    except HAError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"unusable CIB: {exc}") from None


def status_only(cib: CibInput, now: datetime.datetime | None,
                default_now: datetime.datetime, *, with_bans: bool = False) -> ClusterStatus:
    return build_status(unpack_cib(cib, now, default_now), with_bans=with_bans)
