"""crm_resource's read-only answers: --list, --locate, --why, --constraints, --get-parameter.

Pure: the CIB element and its unpacked ClusterStatus in, lines (stdout) and notes (stderr)
out. Wording follows Pacemaker 2.1.5's crm_resource.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from lxml import etree

from crmd import cibedit
from messaging.errors import NotFoundError
from messaging.types import Role
from pengine.api import (
    ClusterStatus,
    LocationBan,
    ResourceStatus,
    location_scores,
    resource_lines,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a query prints: stdout lines and stderr lines."""

    out: tuple[str, ...] = ()
    err: tuple[str, ...] = ()


def _strip_node(line: str, nodes: tuple[str, ...]) -> str:
    head, sep, state = line.partition("):\t ")
    if not sep:
        return line
    rest, bracket, listed = state.rpartition(" [ ")
    if bracket and listed.endswith(" ]") and set(listed[:-2].split()) <= set(nodes):
        return head + sep + rest  # active on several: "Started [ node13 node10 ]" (seed 1417)
    for node in nodes:
        if state.split(" (")[0].endswith(f" {node}"):
            state = _drop_unclean(state.replace(f" {node}", "", 1))
    return head + sep + state


def _drop_unclean(state: str) -> str:
    """Pacemaker flags UNCLEAN beside the node it prints; --list prints none, so a resource
    on an unclean offline node reads "Started (unmanaged)" there (seed 1196), where
    crm_mon -r says "Started node2 (UNCLEAN, unmanaged)"."""
    state = state.replace(" (UNCLEAN)", "", 1)
    return state.replace(" (UNCLEAN, ", " (", 1)


def list_resources(status: ClusterStatus) -> Answer:
    """--list: every resource, inactive ones included, without node names on primitives."""
    nodes = tuple(node.name for node in status.nodes)
    lines = [_strip_node(line, nodes) for line in resource_lines(status)]
    if not lines:
        return Answer(("NO resources configured",))
    shown = [f"  {line}" if line.startswith(" ") else f"  * {line}" for line in lines]
    return Answer(("Full List of Resources:", *shown))


def list_raw(status: ClusterStatus) -> Answer:
    """--list-raw: every primitive instance id (clone instances with ":N"), in the
    scheduler's resource order (priority first), as Pacemaker's crm_resource lists them."""
    return Answer(tuple(leaf.id for rsc in status.resources for leaf in _leaves(rsc)))


def find_status(status: ClusterStatus, rsc_id: str, any_clone: bool = False
                ) -> ResourceStatus:
    """The resource `rsc_id` as Pacemaker's crm_resource finds it: the first, depth-first,
    whose id is `rsc_id`, or whose history id is (an instance unpacked from "d6:1" may be
    instance d6:0: seed 1190), or, for an anonymous clone's child named by its configured
    id (no ":N"), whose id without the instance number is (a globally-unique clone's child
    is found only by its instance id, unless `any_clone`: -g/-p/-d find it too)."""
    return _find_with_clone(status, rsc_id, any_clone)[0]


def _find_with_clone(status: ClusterStatus, rsc_id: str, any_clone: bool = False
                     ) -> tuple[ResourceStatus, ResourceStatus | None]:
    """(the resource, its top-level clone when `rsc_id` is the history id it was renamed
    from: Pacemaker's --locate then stands it for all the clone's instances)."""
    def matches(rsc: ResourceStatus, unique: bool) -> bool:
        return rsc_id in (rsc.id, rsc.clone_name) or (
            (any_clone or not unique) and ":" not in rsc_id and rsc.id.split(":")[0] == rsc_id)

    def walk(items: tuple[ResourceStatus, ...], clone: ResourceStatus | None,
             unique: bool) -> tuple[ResourceStatus, ResourceStatus | None] | None:
        for rsc in items:
            if matches(rsc, unique):
                renamed = rsc.clone_name == rsc_id != rsc.id and not unique
                return rsc, clone if renamed else None
            top = clone or (rsc if rsc.kind in ("clone", "promotable") else None)
            found = walk(rsc.children, top, unique or rsc.unique)
            if found is not None:
                return found
        return None

    found = walk(status.resources, None, False)
    if found is None:
        raise NotFoundError(f"Resource '{rsc_id}' not found")
    return found


def _leaves(rsc: ResourceStatus) -> list[ResourceStatus]:
    if rsc.kind == "primitive":
        return [rsc]
    return [leaf for child in rsc.children for leaf in _leaves(child)]


def locate(status: ClusterStatus, rsc_id: str) -> Answer:
    """--locate: one line per node the resource (or any instance) is active on."""
    rsc, clone = _find_with_clone(status, rsc_id)
    rsc = clone or rsc  # a clone's child stands for all of the clone's instances
    # Pacemaker joins the node lists of a clone's instances (a group instance's nodes once,
    # not once per member: seed 1190; again per unmanaged member: seed 1114), or takes the
    # resource's own, and prints the result last first (seed 1037: m7 on node1 and node3)
    from crmd.resource.edit import node_list

    shown = rsc.children if rsc.kind in ("clone", "promotable") else (rsc,)
    lines = []
    for item in shown:
        suffix = " Promoted" if item.role == Role.PROMOTED else ""
        lines += [f"resource {rsc_id} is running on: {node}{suffix}" for node in node_list(item)]
    if not lines:
        return Answer(err=(f"resource {rsc_id} is NOT running",))
    return Answer(tuple(lines[::-1]))


def why(root: etree._Element, status: ClusterStatus, rsc_id: str | None,
        node: str | None = None) -> Answer:
    """--why: whether a resource (or each one) is running; with -N, on that host; then what
    in its top-level resource's configuration keeps the cluster from acting on it."""
    if node is not None and rsc_id:
        if node not in {n.name for n in status.nodes}:
            raise NotFoundError(f"Node '{node}' not found")
        rsc = find_status(status, rsc_id)
        active = any(node in leaf.running_on for leaf in _leaves(rsc))
        return Answer((f"Resource {rsc.id} is {'' if active else 'not '}running on host "
                       f"{node}", *_checks(root, rsc_id)))
    targets = [find_status(status, rsc_id)] if rsc_id else list(status.resources)
    lines = []
    for rsc in targets:
        active = any(leaf.running_on for leaf in _leaves(rsc))
        lines.append(f"Resource {rsc.id} is {'running' if active else 'not running'}")
        lines += _checks(root, rsc_id or rsc.id)
    return Answer(tuple(lines))


def _checks(root: etree._Element, rsc_id: str) -> list[str]:
    """What Pacemaker 2.1.5's cli_resource_check reports, from the top-level resource's own
    attribute sets (other members' or children's do not count): target-role Stopped (or
    Unpromoted in a promotable clone), and unmanaged for is-managed false there or on the
    named resource itself (or maintenance true, when a clone's child was named)."""
    try:
        named = top = cibedit.find_resource(root, rsc_id)
    except NotFoundError:
        return []
    while (parent := top.getparent()) is not None and parent.tag != "resources":
        top = parent
    own: dict[str, str] = {}
    for pair in top.iterfind("*/nvpair"):
        own.setdefault(pair.get("name") or "", pair.get("value") or "")
    lines: list[str] = []
    role, name = own.get("target-role", "").lower(), top.get("id")
    if role == "stopped":
        lines.append(f"Configuration specifies '{name}' should remain stopped")
    elif role in ("unpromoted", "slave") and _promotable(top):
        lines.append(f"Configuration specifies '{name}' should not be promoted")
    # maintenance counts only for a clone's child named (seed 1216: "--why -r d6" reports
    # clone c5's maintenance; a plain "--why" listing c5 does not, nor "-r m7" its group's:
    # seed 1101; observed on Debian's 2.1.5, the source was not at hand)
    below = top.tag in ("clone", "master") and top.get("id") != rsc_id.split(":")[0]
    # the named resource's own is-managed counts too, still reported for the top-level one
    # (seed 1003: "-r m7" says unmanaged 'g6', "-r g6" says nothing; 1012's clone child d12)
    named_managed = cibedit.get_nvpair(named, "meta_attributes", "is-managed")
    if not _true(own.get("is-managed", "true")) or (
            below and _true(own.get("maintenance", "false"))) or (
            named_managed is not None and not _true(named_managed.get("value") or "")):
        lines.append(f"Configuration prevents cluster from stopping or starting unmanaged "
                     f"'{name}'")
    return lines


def _promotable(top: etree._Element) -> bool:
    return top.tag == "master" or (top.tag == "clone" and any(
        pair.get("name") == "promotable" and _true(pair.get("value") or "")
        for pair in top.iterfind("meta_attributes/nvpair")))


def _score(text: str | None) -> str:
    value = (text or "0").strip()
    upper = value.upper()
    if upper in ("INFINITY", "+INFINITY", "INF", "+INF"):
        return "INFINITY"
    if upper in ("-INFINITY", "-INF"):
        return "-INFINITY"
    return value


def _locations(scores: tuple[LocationBan, ...], rsc_id: str) -> list[str]:
    """The resource's location entries as Pacemaker lists them: each node the constraint
    (or its rule, evaluated on the nodes' attributes) scores, newest constraint first."""
    return [f"Node {entry.node} (score={_readable(entry.weight)}, id={entry.id}, rsc={rsc_id})"
            for entry in scores if entry.resource == rsc_id]


def _readable(score: int) -> str:
    if abs(score) >= 1_000_000:  # Pacemaker's INFINITY
        return "INFINITY" if score > 0 else "-INFINITY"
    return str(score)


def constraints(root: etree._Element, rsc_id: str) -> Answer:
    """--constraints: location constraints, then colocations in either direction, of the
    resource's top-level ancestor (a group member or clone child answers for its group or
    clone, as Pacemaker's crm_resource does)."""
    element = cibedit.find_resource(root, rsc_id)
    parent = element.getparent()
    while parent is not None and parent.tag in ("group", "clone", "master", "bundle"):
        element, parent = parent, parent.getparent()
    rsc_id = element.get("id") or rsc_id
    scores = location_scores(root)
    out: list[str] = []
    locations = _locations(scores, rsc_id)
    if locations:
        out += ["Locations:", *(f"  * {line}" for line in locations)]
    pairs = colocation_pairs(root)
    dependents = [(dep, ident, score, role) for dep, primary, ident, score, role in pairs
                  if primary == rsc_id]
    if dependents:
        out.append(f"Resources colocated with {rsc_id}:")
        out += _colocated(root, scores, dependents, "needs")
    mine = [(primary, ident, score, role) for dep, primary, ident, score, role in pairs
            if dep == rsc_id]
    if mine:
        out.append(f"Resources {rsc_id} is colocated with:")
        out += _colocated(root, scores, mine, "with")
    return Answer(tuple(out))


def colocation_pairs(root: etree._Element) -> list[tuple[str, str, str, str, str | None]]:
    """(dependent, primary, id, score, primary's role) of every colocation, sets expanded as
    Pacemaker 2.1.5 does: in a sequential set (the default) each member is colocated with the
    one before it; between two sets, the first member of the earlier set (each member when it
    is not sequential) with the last member of the later set (each member when not
    sequential); a pair inside one set is known by the set's id. The role is the primary's
    when it is above Started (Unpromoted, Promoted), else None."""
    pairs = []
    for colocation in root.iterfind("configuration/constraints/rsc_colocation"):
        ident, score = colocation.get("id") or "", _score(colocation.get("score"))
        if colocation.get("rsc"):
            pairs.append((colocation.get("rsc") or "", colocation.get("with-rsc") or "",
                          ident, score, _role_shown(colocation.get("with-rsc-role"))))
        blocks = list(colocation.iterfind("resource_set"))
        for index, block in enumerate(blocks):
            members = [ref.get("id") or "" for ref in block.iterfind("resource_ref")]
            role = _role_shown(block.get("role"))
            if _true(block.get("sequential", "true")):
                pairs += [(later, earlier, block.get("id") or "", score, role)
                          for earlier, later in itertools.pairwise(members)]
            if index == 0:
                continue
            before = [ref.get("id") or "" for ref in blocks[index - 1].iterfind("resource_ref")]
            dependents = before[:1] if _true(blocks[index - 1].get("sequential", "true")) else (
                before)
            primaries = members[-1:] if _true(block.get("sequential", "true")) else members
            pairs += [(dependent, primary, ident, score, role) for dependent in dependents
                      for primary in primaries]
    return pairs


def _role_shown(role: str | None) -> str | None:
    """Pacemaker's name of a colocation role it shows (only those above Started)."""
    return {"promoted": "Promoted", "master": "Promoted", "unpromoted": "Unpromoted",
            "slave": "Unpromoted"}.get((role or "").lower())


def _true(text: str) -> bool:
    return text.lower() in ("true", "yes", "1", "on", "y")


def _rank(root: etree._Element, rsc_id: str) -> tuple[int, int, str]:
    """Pacemaker's order of a resource's colocations: the other resource's priority (high
    first; its effective one, so a group member has its group's: seed 1343), then variant
    (bundle, clone, group, primitive), then id."""
    from crmd.resource.attributes import effective_attributes

    element = cibedit.find_by_id(root, rsc_id)
    tag = element.tag if element is not None else "primitive"
    variant = {"bundle": 3, "clone": 2, "master": 2, "group": 1}.get(str(tag), 0)
    try:
        meta = effective_attributes(root, rsc_id, None, "meta_attributes", 0)
        value = int(meta.get("priority", "0"))
    except (NotFoundError, ValueError):
        value = 0
    return -value, -variant, rsc_id


def _colocated(root: etree._Element, scores: tuple[LocationBan, ...],
               items: list[tuple[str, str, str, str | None]], verb: str) -> list[str]:
    """The colocated resources with their locations; a primary's role above Started is
    shown as "<verb> role=..." ("needs" among the dependents, "with" among the primaries)."""
    lines = []
    # each is inserted before its equals (g_list_insert_sorted): ties come last-first
    for other, ident, score, role in sorted(items[::-1],
                                            key=lambda item: _rank(root, item[0])):
        shown = f", {verb} role={role}" if role else ""
        lines.append(f"  * {other} (score={score}{shown}, id={ident})")
        others = _locations(scores, other)
        if others:
            lines += ["    * Locations:", *(f"      * {line}" for line in others)]
    return lines
