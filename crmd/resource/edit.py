"""crm_resource's changes to the CIB: --move/--ban/--clear, parameters, --cleanup/--refresh.

Pure edits of an lxml tree (crmd.cibedit underneath); each returns the messages Pacemaker's
crm_resource prints. Constraint ids and shapes are Pacemaker's: `cli-prefer-<rsc>` (score
INFINITY) and `cli-ban-<rsc>-on-<node>` (score -INFINITY), role Started; with a lifetime
the node test becomes a rule `#uname eq <node>` joined with a date_expression `lt` end.
Every lookup happens before the first change, so an error leaves the tree untouched.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lxml import etree

from crmd import cibedit
from messaging.errors import ExitCode, HAError, UsageError
from messaging.types import Role
from pengine.api import ClusterStatus, ResourceStatus, duration_ms


@dataclass(frozen=True, slots=True)
class Outcome:
    """Messages of one edit (stdout, stderr) and whether the CIB changed."""

    out: tuple[str, ...] = ()
    err: tuple[str, ...] = ()
    changed: bool = True


def _lifetime_end(lifetime: str, now: datetime.datetime) -> str:
    text = lifetime.strip()
    millis = duration_ms(text, -1)
    if millis <= 0:
        raise UsageError(f"Invalid duration specified: {lifetime}")
    end = now + datetime.timedelta(milliseconds=millis)
    return end.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _location(root: etree._Element, ident: str, rsc: str, node: str, score: str,
              end: str | None, rule_ids: tuple[str, str, str]) -> etree._Element:
    constraints = cibedit.section(root, "constraints")
    old = cibedit.find_by_id(root, ident)
    if old is not None:
        cibedit.remove(old)
    if end is None:
        return etree.SubElement(constraints, "rsc_location", id=ident, rsc=rsc, role="Started",
                                node=node, score=score)
    location = etree.SubElement(constraints, "rsc_location", id=ident, rsc=rsc, role="Started")
    rule = etree.SubElement(location, "rule", id=rule_ids[0], score=score)
    rule.set("boolean-op", "and")
    etree.SubElement(rule, "expression", id=rule_ids[1], attribute="#uname", operation="eq",
                     value=node, type="string")
    etree.SubElement(rule, "date_expression", id=rule_ids[2], operation="lt", end=end)
    return location


def active_nodes(status: ClusterStatus, rsc_id: str) -> list[str]:
    """The nodes Pacemaker's crm_resource counts `rsc_id` active on (--ban/--move without a
    node need exactly one), repeats included (node_list)."""
    from crmd.resource.query import find_status

    return node_list(find_status(status, rsc_id))


def node_list(target: ResourceStatus) -> list[str]:
    """A resource's node list as Pacemaker 2.1.5 builds it while unpacking its primitives:
    a managed one adds its node to each ancestor up to the first that has it already, an
    unmanaged (or blocked) one appends it to every ancestor unchecked, so a group whose
    second member is blocked on node2 counts node2 twice (seed 1114: "not moved: active in
    2 locations", exit 64; --locate lists node2 twice)."""
    lists: dict[int, list[str]] = {}

    def walk(rsc: ResourceStatus, ancestors: tuple[ResourceStatus, ...]) -> None:
        if rsc.kind != "primitive":
            lists[id(rsc)] = []
            for child in rsc.children:
                walk(child, (rsc, *ancestors))
            return
        for node in rsc.running_on:
            for ancestor in ancestors:
                held = lists[id(ancestor)]
                if rsc.managed and node in held:
                    break
                held.append(node)

    walk(target, ())
    return list(target.running_on) if target.kind == "primitive" else lists[id(target)]


class AlreadyThere(HAError):
    """--move to the one node the resource already runs on: Pacemaker's crm_resource
    refuses with CRM_EX_EXISTS (108) and changes nothing."""

    exit_code = ExitCode.EXISTS


class CloneInstance(HAError):
    """--move/--ban/--clear named a clone instance ("rsc:N"): Pacemaker's crm_resource
    refuses with CRM_EX_INVALID_PARAM (2), since its constraints name whole resources."""

    exit_code = ExitCode.INVALID_PARAM


def check_target(status: ClusterStatus, rsc_id: str, action: str) -> None:
    """Resolve `rsc_id` as Pacemaker's crm_resource does for --move/--ban/--clear/
    --constraints: an anonymous clone's child by its configured id, a globally-unique
    clone's child only by an instance id (NotFoundError, 105, otherwise); an instance id
    is refused (CloneInstance) by all but --constraints."""
    from crmd.resource.query import find_status

    find_status(status, rsc_id)
    if ":" in rsc_id and action != "constraints":
        raise CloneInstance(f"Cannot operate on clone resource instance '{rsc_id}'")


def move(root: etree._Element, status: ClusterStatus, rsc_id: str, node: str | None,
         lifetime: str | None, now: datetime.datetime) -> Outcome:
    """--move: prefer `node` (INFINITY). Without a node Pacemaker moves the resource away
    from where it runs: a ban on its one active node (as --ban without a node)."""
    if node is None:
        return ban(root, status, rsc_id, None, lifetime, now)
    cibedit.find_resource(root, rsc_id)
    cibedit.find_node(root, node)
    if active_nodes(status, rsc_id) == [node]:
        raise AlreadyThere(f"Resource '{rsc_id}' is already active on {node}")
    end = _lifetime_end(lifetime, now) if lifetime else None
    _location(root, f"cli-prefer-{rsc_id}", rsc_id, node, "INFINITY", end,
              (f"cli-prefer-rule-{rsc_id}", f"cli-prefer-expr-{rsc_id}",
               f"cli-prefer-lifetime-end-{rsc_id}"))
    note = (f"Migration will take effect until: {end}",) if end else ()
    return Outcome(out=note)


def ban(root: etree._Element, status: ClusterStatus, rsc_id: str, node: str | None,
        lifetime: str | None, now: datetime.datetime) -> Outcome:
    """--ban: keep the resource off `node` (default: the one node it is active on)."""
    cibedit.find_resource(root, rsc_id)
    if node is None:
        node = _only_node(status, rsc_id)
    cibedit.find_node(root, node)
    end = _lifetime_end(lifetime, now) if lifetime else None
    ident = f"cli-ban-{rsc_id}-on-{node}"
    _location(root, ident, rsc_id, node, "-INFINITY", end,
              (f"{ident}-rule", f"{ident}-expr", f"{ident}-lifetime"))
    warning = (
        f"WARNING: Creating rsc_location constraint '{ident}' with a score of -INFINITY for "
        f"resource {rsc_id} on {node}.",
        f"\tThis will prevent {rsc_id} from running on {node} until the constraint is "
        "removed using the clear option or by editing the CIB with an appropriate tool",
        f"\tThis will be the case even if {node} is the last node in the cluster")
    until = (f"Migration will take effect until: {end}",) if end else ()
    return Outcome(out=until + warning)


def _only_node(status: ClusterStatus, rsc_id: str) -> str:
    """The node --ban/--move without -N acts on: the one node the resource is active on;
    for a promotable clone active on several, the node of its one promoted instance
    (Pacemaker 2.1.5's ban_or_move); else a usage error (64)."""
    from crmd.resource.query import find_status

    active = active_nodes(status, rsc_id)
    if len(active) == 1:
        return active[0]
    rsc = find_status(status, rsc_id)
    promoted = [child for child in rsc.children if child.role == Role.PROMOTED]
    if rsc.kind == "promotable" and len(promoted) == 1 and promoted[0].running_on:
        return promoted[0].running_on[0]
    where = f" (promoted in {len(promoted)})" if rsc.kind == "promotable" else ""
    raise UsageError(f"Resource '{rsc_id}' not moved: active in {len(active)} locations"
                     f"{where}.\nTo prevent '{rsc_id}' from running on a specific location, "
                     "specify a node.")


def clear(root: etree._Element, rsc_id: str, node: str | None) -> Outcome:
    """--clear: remove cli-prefer-<rsc> and cli-ban-<rsc>-on-* (only `node`'s if given; an
    unknown node is NotFoundError, 105, as in Pacemaker)."""
    cibedit.find_resource(root, rsc_id)
    if node is not None:
        cibedit.find_node(root, node)
    removed = []
    for location in list(root.iterfind("configuration/constraints/rsc_location")):
        ident = location.get("id") or ""
        prefer = ident == f"cli-prefer-{rsc_id}"
        banned = ident.startswith(f"cli-ban-{rsc_id}-on-")
        if node is not None:
            prefer = prefer and _constraint_node(location) == node
            banned = ident == f"cli-ban-{rsc_id}-on-{node}"
        if prefer or banned:
            cibedit.remove(location)
            removed.append(f"Removing constraint: {ident}")
    return Outcome(out=tuple(removed), changed=bool(removed))


def _constraint_node(location: etree._Element) -> str | None:
    if location.get("node"):
        return location.get("node")
    expr = location.find("rule/expression")
    return expr.get("value") if expr is not None else None


_CLONE_TAGS = ("clone", "master")


class MetaAttributeExists(HAError):
    """An instance attribute whose name the resource's top-level parent has as a meta
    attribute: Pacemaker's crm_resource refuses without --force (CRM_EX_MULTIPLE, 109)."""

    exit_code = ExitCode.MULTIPLE


def _refuse_shadowed(element: etree._Element, name: str) -> None:
    top = element
    while (parent := top.getparent()) is not None and parent.tag != "resources":
        top = parent
    for pair in top.iterfind(f"meta_attributes/nvpair[@name='{name}']"):
        raise MetaAttributeExists(
            f"There is already a meta attribute for '{top.get('id')}' called '{name}' "
            f"(id={pair.get('id')}): delete it first or use --force")


def set_parameter(root: etree._Element, rsc_id: str, name: str, value: str,
                  meta: bool, utilization: bool = False, force: bool = False) -> Outcome:
    """-p on the resource itself (parameter_owners says which resources Pacemaker picks)."""
    from crmd.resource.attributes import set_tag

    element = cibedit.find_resource(root, rsc_id)
    if not (meta or utilization or force) and "'" not in name:
        _refuse_shadowed(element, name)
    pair, created = cibedit.set_nvpair(root, element, set_tag(meta, utilization), name, value)
    # Pacemaker names the set whenever the nvpair is new
    block = pair.getparent()
    where = f" set={block.get('id')}" if created and block is not None else ""
    return Outcome(out=(f"Set '{element.get('id')}' option: id={pair.get('id')}{where} "
                        f"name={name} value={value}",))


def parameter_owners(root: etree._Element, rsc_id: str, name: str, meta: bool,
                     utilization: bool, force: bool, delete: bool) -> tuple[list[str], Outcome]:
    """The resources -p (update) or -d (delete) of `name` acts on, one CIB write each as in
    Pacemaker, and the lines Pacemaker prints before the first write. Instance attributes,
    utilization deletions and --force act on the resource itself."""
    from crmd.resource.attributes import set_tag

    element = cibedit.find_resource(root, rsc_id)
    if force or not (meta or utilization) or (delete and utilization):
        return [element.get("id") or rsc_id], Outcome(changed=False)
    owners, notes = _attribute_owners(element, rsc_id, set_tag(meta, utilization), name,
                                      "delete" if delete else "update")
    return [owner.get("id") or "" for owner in owners], Outcome(out=notes, changed=False)


def _attribute_owners(element: etree._Element, rsc_id: str, tag: str, name: str,
                      command: str) -> tuple[list[etree._Element], tuple[str, ...]]:
    """Which resources a meta (or, on update, utilization) attribute goes to, as Pacemaker
    2.1.5's crm_resource picks them without --force: a clone's child that does not have the
    attribute itself hands it to the clone; a top-level clone whose child primitive has it
    hands it to that child; a group takes its members that have it, then itself; anything
    else keeps it. The note is Pacemaker's line saying so."""
    parent = element.getparent()
    if parent is not None and parent.tag in _CLONE_TAGS:
        if cibedit.get_nvpair(element, tag, name) is not None:
            return [element], ()
        return [parent], (f"Performing {command} of '{name}' on '{parent.get('id')}', the "
                          f"parent of '{rsc_id}'",)
    if element.tag in _CLONE_TAGS and parent is not None and parent.tag == "resources":
        child = next((c for c in element if c.tag in cibedit.RESOURCE_TAGS), None)
        if child is not None and child.tag == "primitive" \
                and cibedit.get_nvpair(child, tag, name) is not None:
            return [child], (f"A value for '{name}' already exists in child "
                             f"'{child.get('id')}', performing {command} on that instead of "
                             f"'{rsc_id}'",)
        return [element], ()
    members = [c for c in element if c.tag == "primitive" and element.tag == "group"
               and cibedit.get_nvpair(c, tag, name) is not None]
    return [*members, element], ()


def delete_parameter(root: etree._Element, rsc_id: str, name: str, meta: bool,
                     utilization: bool = False) -> Outcome:
    """-d on the resource itself (parameter_owners says which resources Pacemaker picks)."""
    from crmd.resource.attributes import set_tag

    element = cibedit.find_resource(root, rsc_id)
    pair = cibedit.delete_nvpair(element, set_tag(meta, utilization), name)
    if pair is None:
        return Outcome(changed=False)
    return Outcome(out=(f"Deleted '{element.get('id')}' option: id={pair.get('id')} "
                        f"name={name}",))


def cleanup(root: etree._Element, rsc_id: str | None, node: str | None,
            refresh: bool) -> Outcome:
    """Forget failures (--cleanup) or the whole history (--refresh) of a resource.

    Removes the failed operation records (or every lrm_resource entry on --refresh) and the
    fail-count/last-failure attributes, so the scheduler re-probes and may start it again.
    """
    if rsc_id is not None:
        cibedit.find_resource(root, rsc_id)
    if node is not None:
        cibedit.find_node(root, node)
    base = rsc_id.split(":")[0] if rsc_id else None
    touched = set()
    for node_state in root.iterfind("status/node_state"):
        uname = node_state.get("uname") or ""
        if node is not None and uname != node:
            continue
        for lrm_rsc in list(node_state.iterfind("lrm/lrm_resources/lrm_resource")):
            rid = (lrm_rsc.get("id") or "").split(":")[0]
            if base is not None and rid != base:
                continue
            if refresh:
                cibedit.remove(lrm_rsc)
                touched.add((rid, uname))
            elif _forget_failures(lrm_rsc):
                touched.add((rid, uname))
        touched |= _forget_fail_counts(node_state, base, uname)
    lines = [f"Cleaned up {rid} on {uname}" for rid, uname in sorted(touched)]
    return Outcome(out=tuple(lines), changed=bool(touched))


def _forget_failures(lrm_rsc: etree._Element) -> bool:
    found = False
    for op in list(lrm_rsc.iterfind("lrm_rsc_op")):
        if (op.get("id") or "").endswith("_last_failure_0"):
            cibedit.remove(op)
            found = True
    return found


def _forget_fail_counts(node_state: etree._Element, base: str | None,
                        uname: str) -> set[tuple[str, str]]:
    touched = set()
    for pair in list(node_state.iterfind("transient_attributes/instance_attributes/nvpair")):
        name = pair.get("name") or ""
        for prefix in ("fail-count-", "last-failure-"):
            if name.startswith(prefix):
                rid = name[len(prefix):].split("#")[0].split(":")[0]
                if base is None or rid == base:
                    cibedit.remove(pair)
                    touched.add((rid, uname))
    return touched


__all__ = ["Outcome", "active_nodes", "ban", "cleanup", "clear", "delete_parameter", "move",
           "parameter_owners", "set_parameter"]
