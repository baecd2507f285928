"""Unpack <constraints>: locations (with rules), colocations and orderings.

Invariants: constraints naming unknown resources are dropped (as Pacemaker does, with a
config warning); group references are kept at the group level here and mapped onto
members by the placement and ordering stages; the result is frozen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from messaging.types import Role
from pengine.rules import RuleContext, evaluate
from pengine.scores import INF, char2score
from pengine.state import Unpacked
from pengine.xmlin import Element, is_true


@dataclass(frozen=True, slots=True)
class Location:
    """rsc gets `score` added on each listed node."""

    id: str
    rsc: str
    scores: tuple[tuple[str, int], ...]
    discovery: str = "always"
    role: Role | None = None


@dataclass(frozen=True, slots=True)
class Colocation:
    """dependent is placed relative to primary."""

    id: str
    dependent: str
    primary: str
    score: int
    dependent_role: Role | None
    primary_role: Role | None
    node_attribute: str
    influence: bool


@dataclass(frozen=True, slots=True)
class Ordering:
    """then waits for first (in resource/task terms)."""

    id: str
    first: str
    first_task: str
    then: str
    then_task: str
    kind: str  # Mandatory / Optional / Serialize
    symmetrical: bool


@dataclass(frozen=True, slots=True)
class Constraints:
    locations: tuple[Location, ...]
    colocations: tuple[Colocation, ...]
    orderings: tuple[Ordering, ...]


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
            orders.extend(_ordering(el, known, tags))
    return Constraints(tuple(locs), tuple(colocs), tuple(orders))


def _expand(rid: str | None, known: set[str], tags: dict[str, list[str]]) -> list[str]:
    if not rid:
        return []
    if rid in known:
        return [rid]
    return [r for r in tags.get(rid, []) if r in known]


def _locations(el: Element, u: Unpacked, known: set[str], tops: list[str],
               tags: dict[str, list[str]]) -> list[Location]:
    cid = el.get("id") or ""
    targets = _expand(el.get("rsc"), known, tags)
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
        scores = _location_scores(el, u, found)
        out.append(Location(cid, rid, tuple(scores), discovery, role))
    return out


def _location_scores(
    el: Element, u: Unpacked, found: re.Match[str] | None
) -> list[tuple[str, int]]:
    node = el.get("node")
    if node is not None:
        if u.node(node) is None:
            return []
        return [(node, char2score(el.get("score")))]
    result: list[tuple[str, int]] = []
    for rule in el.findall("rule"):
        result.extend(_rule_scores(rule, u, found))
    return result


def _rule_scores(rule: Element, u: Unpacked, found: re.Match[str] | None) -> list[tuple[str, int]]:
    out = []
    score_attr = rule.get("score-attribute")
    if score_attr and found is not None:
        score_attr = re.sub(r"%(\d)", lambda m: found.group(int(m.group(1))) or "", score_attr)
    bool_or = (rule.get("boolean-op") or "and").lower() == "or"
    for node in u.nodes:
        ctx = RuleContext(now=u.now, node_attrs=node.attrs)
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


def _colocation(el: Element, u: Unpacked, known: set[str],
                tags: dict[str, list[str]]) -> list[Colocation]:
    score = char2score(el.get("score"))
    if score == 0:
        return []
    deps = _expand(el.get("rsc"), known, tags)
    prims = _expand(el.get("with-rsc"), known, tags)
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


def _ordering(el: Element, known: set[str], tags: dict[str, list[str]]) -> list[Ordering]:
    kind = el.get("kind")
    if kind is None:
        score = el.get("score")
        kind = "Optional" if score is not None and char2score(score) == 0 else "Mandatory"
    kind = kind.capitalize()
    symmetrical = is_true(el.get("symmetrical"), kind != "Serialize")
    first_task = (el.get("first-action") or "start").lower()
    then_task = (el.get("then-action") or first_task).lower()
    out = []
    for first in _expand(el.get("first"), known, tags):
        for then in _expand(el.get("then"), known, tags):
            out.append(Ordering(el.get("id") or "", first, first_task, then, then_task, kind,
                                symmetrical))
    return out
