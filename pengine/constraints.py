"""Unpack <constraints>: locations (with rules), colocations and orderings.

Invariants: constraints naming unknown resources are dropped (as Pacemaker does, with a
config warning); group references are kept at the group level here and mapped onto
members by the placement and ordering stages; the result is frozen.
"""

from __future__ import annotations

import itertools
import re

from messaging.record import Record
from messaging.types import Role
from pengine.constraint_refs import Refs, attribute_refs, complete, prefix, set_refs
from pengine.rules import RuleContext, evaluate
from pengine.scores import INF, char2score
from pengine.state import Unpacked
from pengine.unpack_resources import params_on_node
from pengine.xmlin import Element, is_true


class Location(Record):
    """rsc gets `score` added on each listed node."""

    __slots__ = ("discovery", "id", "role", "rsc", "rule_id", "scores")

    def __init__(self, id: str, rsc: str, scores: tuple[tuple[str, int], ...],
                 discovery: str = "always", role: Role | None = None,
                 rule_id: str | None = None) -> None:
        self.id = id
        self.rsc = rsc
        self.scores = scores
        self.discovery = discovery
        self.role = role
        self.rule_id = rule_id  # the rule a rule-based location comes from


class Colocation(Record):
    """dependent is placed relative to primary."""

    __slots__ = ("dependent", "dependent_role", "id", "influence", "node_attribute", "primary",
                 "primary_role", "score")

    def __init__(self, id: str, dependent: str, primary: str, score: int,
                 dependent_role: Role | None, primary_role: Role | None, node_attribute: str,
                 influence: bool) -> None:
        self.id = id
        self.dependent = dependent
        self.primary = primary
        self.score = score
        self.dependent_role = dependent_role
        self.primary_role = primary_role
        self.node_attribute = node_attribute
        self.influence = influence


class Ordering(Record):
    """then waits for first (in resource/task terms)."""

    __slots__ = ("first", "first_task", "id", "kind", "symmetrical", "then", "then_task", "via",
                 "via_min")

    def __init__(self, id: str, first: str, first_task: str, then: str, then_task: str, kind: str,
                 symmetrical: bool, via: str | None = None, via_min: int = 1) -> None:
        self.id = id
        self.first = first
        self.first_task = first_task
        self.then = then
        self.then_task = then_task
        self.kind = kind  # Mandatory / Optional / Serialize
        self.symmetrical = symmetrical
        self.via = via  # a "one-or-more" pseudo action between first and then
        self.via_min = via_min


INVERSE_TASK = {"start": "stop", "stop": "start", "promote": "demote", "demote": "promote",
                "running": "stopped", "stopped": "running", "promoted": "demoted",
                "demoted": "promoted"}


def inverse_key(o: Ordering) -> tuple[str, str, str, str]:
    """The actions a symmetrical ordering's inverse orders: then's inverse task first."""
    return (o.then, INVERSE_TASK.get(o.then_task, o.then_task), o.first,
            INVERSE_TASK.get(o.first_task, o.first_task))


def first_created(orderings: tuple[Ordering, ...]) -> list[Ordering]:
    """The plain orderings whose forward ordering Pacemaker keeps: order_actions drops an
    ordering between two actions already ordered (every user ordering shares the optional
    bit), by an earlier constraint or by an earlier constraint's inverse."""
    seen: set[tuple[str, str, str, str]] = set()
    kept = []
    for o in orderings:
        forward = (o.first, o.first_task, o.then, o.then_task)
        if o.via is None and forward not in seen:
            seen.add(forward)
            kept.append(o)
        if o.symmetrical and o.kind != "Serialize":
            seen.add(inverse_key(o))
    return kept


class Constraints:
    """Every location, colocation and ordering constraint of one CIB, unpacked.

    Plain rather than a dataclass (start-up cost); only read after construction.
    """

    __slots__ = ("colocations", "locations", "orderings")

    def __init__(self, locations: tuple[Location, ...], colocations: tuple[Colocation, ...],
                 orderings: tuple[Ordering, ...]) -> None:
        self.locations = locations
        self.colocations = colocations
        self.orderings = orderings


def _role(text: str | None) -> Role | None:
    if not text:
        return None
    try:
        role = Role.parse(text)
    except ValueError:
        return None
    return None if role in (Role.STARTED, Role.UNKNOWN) else role


def _lifetime_ok(el: Element, ctx: RuleContext) -> bool:
    for lifetime in el.findall("lifetime"):
        rules = lifetime.findall("rule")
        if rules and not any(evaluate(r, ctx) for r in rules):
            return False
    return True


def _tags(root: Element) -> dict[str, list[str]]:
    return {t.get("id") or "": [r.get("id") or "" for r in t.findall("obj_ref")]
            for t in root.iterfind("configuration/tags/tag")}


def unpack_constraints(u: Unpacked) -> Constraints:
    """All constraints in document order (per kind)."""
    known = {r.id for r in u.resources}
    tops = [r.id for r in u.resources if r.parent is None]
    tags = _tags(u.root)
    ctx = RuleContext(now=u.now)
    locs: list[Location] = []
    colocs: list[Colocation] = []
    orders: list[Ordering] = []
    section = u.root.find("configuration/constraints")
    for el in ([] if section is None else section):
        if not isinstance(el.tag, str) or not _lifetime_ok(el, ctx):
            continue
        if el.tag == "rsc_location":
            locs.extend(_locations(el, u, known, tops, tags))
        elif el.tag == "rsc_colocation":
            colocs.extend(_colocation(el, u, known, tags))
        elif el.tag == "rsc_order":
            orders.extend(_ordering(el, u, known, tags))
    return Constraints(tuple(locs), tuple(colocs), tuple(orders))


def _expand(rid: str | None, known: set[str], tags: dict[str, list[str]]) -> list[str]:
    """The resources a plain attribute names, up to a tag's first unknown reference."""
    return prefix(attribute_refs(rid, known, tags)[0])


def _locations(el: Element, u: Unpacked, known: set[str], tops: list[str],
               tags: dict[str, list[str]]) -> list[Location]:
    cid = el.get("id") or ""
    targets = _expand(el.get("rsc"), known, tags)
    for refs in set_refs(el, known, tags):
        targets.extend(prefix(refs))
        if not complete(refs):
            break  # an unknown reference ends the constraint's sets
    pattern = el.get("rsc-pattern")
    matches: list[tuple[str, re.Match[str] | None]] = [(t, None) for t in targets]
    if pattern:
        invert = pattern.startswith("!")
        regex = re.compile(pattern[1:] if invert else pattern)
        for rid in tops:
            found = regex.search(rid)
            if bool(found) != invert:
                matches.append((rid, None if invert else found))
    discovery = (el.get("resource-discovery") or "always").lower()
    role = _role(el.get("role"))
    out = []
    for rid, found in matches:
        if el.get("node") is not None or not el.findall("rule"):
            scores = _location_scores(el, u, found, rid)
            out.append(Location(cid, rid, tuple(scores), discovery, role))
            continue
        for rule in el.findall("rule"):
            # Pacemaker 2.1.5 filters a rule's constraint by the rule's own (deprecated)
            # role only: the rsc_location's role applies to node/score constraints.
            rule_role = _role(rule.get("role"))
            scores = _rule_scores(rule, u, found, rid)
            out.append(Location(cid, rid, tuple(scores), discovery, rule_role,
                                rule.get("id")))
    return out


def _location_scores(
    el: Element, u: Unpacked, found: re.Match[str] | None, rid: str
) -> list[tuple[str, int]]:
    node = el.get("node")
    if node is not None:
        if u.node(node) is None:
            return []
        return [(node, char2score(el.get("score")))]
    result: list[tuple[str, int]] = []
    for rule in el.findall("rule"):
        result.extend(_rule_scores(rule, u, found, rid))
    return result


def _rule_scores(rule: Element, u: Unpacked, found: re.Match[str] | None,
                 rid: str) -> list[tuple[str, int]]:
    rsc = u.rsc(rid)
    out = []
    score_attr = rule.get("score-attribute")
    if score_attr and found is not None:
        score_attr = re.sub(r"%(\d)", lambda m: found.group(int(m.group(1))) or "", score_attr)
    bool_or = (rule.get("boolean-op") or "and").lower() == "or"
    for node in u.nodes:
        params = params_on_node(rsc, node.attrs, u.now)
        ctx = RuleContext(now=u.now, node_attrs=node.attrs, params=params, meta=rsc.meta)
        if not evaluate(rule, ctx):
            continue
        if score_attr:
            raw = node.attrs.get(score_attr)
            score = -INF if raw is None else char2score(raw)
        else:
            score = char2score(rule.get("score"))
        if bool_or:
            from pengine.scores import add
            score = add(node.weight, score)
        out.append((node.name, score))
    return out


# A colocation a set constraint states: dependent, primary, score, their roles.
_SetPair = tuple[str, str, int, str | None, str | None]


def _colocation_sets(el: Element, u: Unpacked, known: set[str],
                     tags: dict[str, list[str]], score: int) -> list[Colocation]:
    """A set colocation's colocations: those within each set, then those between sets."""
    sets = el.findall("resource_set")
    cid = el.get("id") or ""
    attr = el.get("node-attribute") or "#uname"
    refs = set_refs(el, known, tags)
    pairs = _within_set_pairs(sets, refs, score) + _between_set_pairs(sets, refs, score)
    return [Colocation(cid, dep, prim, value, _role(drole), _role(prole), attr,
                       is_true(el.get("influence"), u.rsc(dep).critical))
            for dep, prim, value, drole, prole in pairs if dep != prim]


def _within_set_pairs(sets: list[Element], refs: list[Refs], score: int) -> list[_SetPair]:
    """Colocations among the members of each sequential set with a non-zero score (up to
    the set's first unknown reference)."""
    out: list[_SetPair] = []
    for rset, set_members in zip(sets, refs, strict=True):
        members = prefix(set_members)
        value = char2score(rset.get("score")) if rset.get("score") else score
        role = rset.get("role")
        if not is_true(rset.get("sequential"), True) or value == 0:
            continue
        # ordering="group" (the default) colocates each member with the one before it;
        # any other value ("listed") each member with the one after it
        # (ordered-set-natural).
        listed = (rset.get("ordering") or "group").lower() != "group"
        for i in range(1, len(members)):
            if value > 0 and listed:
                out.append((members[i - 1], members[i], value, role, role))
            elif value > 0:
                out.append((members[i], members[i - 1], value, role, role))
            else:
                out.extend((members[i], members[j], value, role, role) for j in range(i))
    return out


def _between_set_pairs(sets: list[Element], refs: list[Refs], score: int) -> list[_SetPair]:
    """Colocations of each set with the next one (colocate_rsc_sets): a sequential set
    takes part through its first member as dependent and its last member as primary; an
    unknown reference ends the loop that reads it."""
    out: list[_SetPair] = []
    for (first, deps), (second, prims) in itertools.pairwise(zip(sets, refs, strict=True)):
        roles = (first.get("role"), second.get("role"))
        out.extend((dep, prim, score, *roles) for dep, prim in _set_to_set(
            deps if is_true(first.get("sequential"), True) else None,
            prims if is_true(second.get("sequential"), True) else None, deps, prims))
    return out


def _set_to_set(seq_deps: Refs | None, seq_prims: Refs | None, deps: Refs,
                prims: Refs) -> list[tuple[str, str]]:
    dep = prim = None
    if seq_deps:
        if seq_deps[0] is None:
            return []
        dep = seq_deps[0]
    if seq_prims is not None:
        if not seq_prims or seq_prims[-1] is None:
            return []
        prim = seq_prims[-1]
    if dep is not None and prim is not None:
        return [(dep, prim)]
    if dep is not None:
        return [(dep, p) for p in prefix(prims)]
    if prim is not None:
        return [(d, prim) for d in prefix(deps)]
    pairs: list[tuple[str, str]] = []
    for d in prefix(deps):
        pairs.extend((d, p) for p in prefix(prims))
        if not complete(prims):
            break  # the inner loop's failed lookup ends the whole function
    return pairs


def _colocation(el: Element, u: Unpacked, known: set[str],
                tags: dict[str, list[str]]) -> list[Colocation]:
    score = char2score(el.get("score"))
    if el.find("resource_set") is not None:
        return _colocation_sets(el, u, known, tags, score)
    if score == 0:
        return []
    dep_refs, dep_tag = attribute_refs(el.get("rsc"), known, tags)
    prim_refs, prim_tag = attribute_refs(el.get("with-rsc"), known, tags)
    if dep_tag and prim_tag:
        return []  # "two templates or tags cannot be colocated"
    deps, prims = prefix(dep_refs), prefix(prim_refs)
    out = []
    for dep in deps:
        for prim in prims:
            if dep == prim:
                continue
            influence = is_true(el.get("influence"), u.rsc(dep).critical)
            out.append(Colocation(
                el.get("id") or "", dep, prim, score, _role(el.get("rsc-role")),
                _role(el.get("with-rsc-role")), el.get("node-attribute") or "#uname", influence,
            ))
    return out


def _ordering(el: Element, u: Unpacked, known: set[str],
              tags: dict[str, list[str]]) -> list[Ordering]:
    kind = el.get("kind")
    if kind is None:
        score = el.get("score")
        kind = "Optional" if score is not None and char2score(score) == 0 else "Mandatory"
    kind = kind.capitalize()
    symmetrical = is_true(el.get("symmetrical"), kind != "Serialize")
    first_task = (el.get("first-action") or "start").lower()
    then_task = (el.get("then-action") or first_task).lower()
    if el.find("resource_set") is not None:
        return _ordering_sets(el, known, tags, kind, symmetrical)
    firsts = attribute_refs(el.get("first"), known, tags)[0]
    thens = attribute_refs(el.get("then"), known, tags)[0]
    if not (complete(firsts) and complete(thens)):
        return []  # unpack_order_set stops the constraint at a set with an unknown member
    out = []
    for first in prefix(firsts):
        for then in prefix(thens):
            via, minimum = _clone_min(el, u, first)
            out.append(Ordering(el.get("id") or "", first, first_task, then, then_task, kind,
                                symmetrical, via, minimum))
    return out


def _clone_min(el: Element, u: Unpacked, first: str) -> tuple[str | None, int]:
    rsc = u.rsc(first)
    if rsc.kind != "clone":
        return None, 1
    minimum = 1 if not is_true(el.get("require-all"), True) else 0
    value = rsc.meta.get("clone-min")
    if value is not None and value.isdigit() and int(value) > 0:
        minimum = int(value)
    if minimum <= 0:
        return None, 1
    return f"clone-one-or-more:{el.get('id') or ''}", minimum


def _ordering_sets(el: Element, known: set[str], tags: dict[str, list[str]], kind: str,
                   symmetrical: bool) -> list[Ordering]:
    """Chains inside sequential sets, then set-to-set links (ends of sequential sets)."""
    oid = el.get("id") or ""
    out: list[Ordering] = []
    sets = el.findall("resource_set")
    refs = set_refs(el, known, tags)
    # unpack_order_set fails on a set with an unknown member, which ends the constraint:
    # that set and the later ones make no ordering (the earlier ones' stay)
    usable = next((i for i, r in enumerate(refs) if not complete(r)), len(refs))
    members_of = {id(rset): prefix(r) for rset, r in zip(sets, refs, strict=True)}
    sets = sets[:usable]
    for rset in sets:
        members = members_of[id(rset)]
        task = (rset.get("action") or "start").lower()
        if is_true(rset.get("sequential"), True):
            for a, b in itertools.pairwise(members):
                out.append(Ordering(oid, a, task, b, task, kind, symmetrical))
    for first, second in itertools.pairwise(sets):
        firsts, thens = members_of[id(first)], members_of[id(second)]
        via = None
        # Between sets, order_rsc_sets narrows a set to one end only when it says
        # sequential="true" explicitly (pcmk__xe_attr_is_true): an unset "sequential",
        # true inside the set, counts as false here and every member is ordered. A
        # require-all="false" set is never narrowed going forward, but its inverse (a plain
        # ordering, require-all being read from the other set) is.
        inverted = firsts[-1:] if is_true(first.get("sequential")) else firsts
        if not is_true(first.get("require-all"), True):
            via = f"one-or-more:{first.get('id') or ''}"
        else:
            firsts = inverted
        if is_true(second.get("sequential")):
            thens = thens[:1]
        f_task = (first.get("action") or "start").lower()
        t_task = (second.get("action") or "start").lower()
        for a in firsts:
            for b in thens:
                out.append(Ordering(oid, a, f_task, b, t_task, kind, symmetrical and a in inverted,
                                    via))
    return out
