"""CIB configuration -> crmsh `configure show` text, and the canonical form used to check it.

Pure. Objects come out in crmsh 4.4.1's order (nodes, primitives, groups, ms, clones, then
constraints, property, rsc_defaults, op_defaults; each kind sorted by id, constraints all
together) with its layout: a head line, continuation lines joined by " \\" + newline + tab.
Every object is checked by parsing its text back (crmd.shell.syntax): if that does not give
the same element, the object is shown as `xml <element .../>` instead, as crmsh does for
what its syntax cannot express, so `show` output always loads back to the same CIB.
"""

from __future__ import annotations

import re

from lxml import etree

from crmd.shell.rules import Unrenderable, render_rule
from crmd.shell.sets import render_sets

_NOQUOTES = re.compile(r"^[\w.-]+$")
_SET_WORDS = {"instance_attributes": "params", "meta_attributes": "meta",
              "utilization": "utilization"}
_ORDER = {"node": 0, "primitive": 2, "group": 4, "master": 5, "clone": 6,
          "rsc_location": 9, "rsc_colocation": 9, "rsc_order": 9,
          "cluster_property_set": 11, "rsc_defaults": 12, "op_defaults": 13}
_SCORES = {"INFINITY": "inf", "+INFINITY": "inf", "-INFINITY": "-inf"}


def quote(value: str) -> str:
    if _NOQUOTES.match(value):
        return value
    return '"' + value.replace('"', '\\"') + '"'


def _pairs(block: etree._Element) -> list[str]:
    return [f"{p.get('name')}={quote(p.get('value') or '')}" for p in block.iterfind("nvpair")]


def _join(head: str, lines: list[str]) -> str:
    return " \\\n\t".join([head, *lines])


def agent_text(element: etree._Element) -> str:
    if element.get("template"):
        return f"@{element.get('template')}"
    cls, provider, kind = element.get("class"), element.get("provider"), element.get("type")
    if cls == "ocf" and provider == "heartbeat":
        return str(kind)
    return ":".join(p for p in (cls, provider, kind) if p)


def _set_line(block: etree._Element) -> str:
    if block.find("rule") is not None or block.get("score") or len(block.attrib) != 1 \
            or any(c.tag != "nvpair" for c in block):
        raise Unrenderable
    return " ".join([_SET_WORDS[block.tag], *_pairs(block)])


def _op_lines(op: etree._Element) -> list[str]:
    attrs = [f"{k!s}={quote(str(v))}" for k, v in op.items() if k not in ("id", "name")]
    lines = [" ".join(["op", str(op.get("name")), *attrs])]
    for child in op:
        if child.tag == "instance_attributes":
            lines.append(" ".join(["op_params", *_pairs(child)]))
        elif child.tag == "meta_attributes":
            lines.append(" ".join(["op_meta", *_pairs(child)]))
        else:
            raise Unrenderable
    return lines


def _primitive(element: etree._Element) -> str:
    lines = []
    for child in element:
        if child.tag in _SET_WORDS:
            lines.append(_set_line(child))
        elif child.tag == "operations" and len(child.attrib) <= 1:
            for op in child:
                lines += _op_lines(op)
        else:
            raise Unrenderable
    if element.get("description"):
        lines.insert(0, f"description={quote(element.get('description') or '')}")
    return _join(f"primitive {element.get('id')} {agent_text(element)}", lines)


def _collective(element: etree._Element) -> tuple[str, list[etree._Element]]:
    word = {"group": "group", "clone": "clone", "master": "ms"}[element.tag]
    members = [c for c in element if c.tag in ("primitive", "group")]
    lines = [_set_line(c) for c in element if c.tag in _SET_WORDS]
    if len(lines) + len(members) != len(element):
        raise Unrenderable
    head = " ".join([word, str(element.get("id")), *(str(m.get("id")) for m in members)])
    return _join(head, lines), members


def _score(text: str | None) -> str:
    return _SCORES.get(text or "", text or "0")


def _location(element: etree._Element) -> str:
    extra = [f"{k!s}={v!s}" for k, v in element.items() if k in ("role", "resource-discovery")]
    if set(element.keys()) - {"id", "rsc", "score", "node", "role", "resource-discovery"}:
        raise Unrenderable
    head = " ".join(["location", str(element.get("id")), str(element.get("rsc")), *extra])
    if element.get("node") is not None and len(element) == 0:
        return f"{head} {_score(element.get('score'))}: {element.get('node')}"
    rules = [c for c in element]
    if element.get("score") or element.get("node") or not rules \
            or any(r.tag != "rule" for r in rules):
        raise Unrenderable
    return _join(head, [f"rule {render_rule(r)}" for r in rules])


def _with_role(rsc: str | None, role: str | None) -> str:
    return f"{rsc}:{role}" if role else str(rsc)


def _colocation(element: etree._Element) -> str:
    if len(element):
        if set(element.keys()) - {"id", "score"}:
            raise Unrenderable
        items = " ".join(render_sets(element, "role"))
        return f"colocation {element.get('id')} {_score(element.get('score'))}: {items}"
    if set(element.keys()) - {"id", "score", "rsc", "with-rsc", "rsc-role",
                              "with-rsc-role"}:
        raise Unrenderable
    return (f"colocation {element.get('id')} {_score(element.get('score'))}: "
            f"{_with_role(element.get('rsc'), element.get('rsc-role'))} "
            f"{_with_role(element.get('with-rsc'), element.get('with-rsc-role'))}")


def _order(element: etree._Element) -> str:
    kind = f" {element.get('kind')}:" if element.get("kind") else ""
    extra = f" symmetrical={element.get('symmetrical')}" if element.get("symmetrical") else ""
    if len(element):
        if set(element.keys()) - {"id", "kind", "symmetrical"}:
            raise Unrenderable
        return f"order {element.get('id')}{kind} {' '.join(render_sets(element, 'action'))}{extra}"
    if set(element.keys()) - {"id", "kind", "first", "then", "first-action", "then-action",
                              "symmetrical"}:
        raise Unrenderable
    return (f"order {element.get('id')}{kind} "
            f"{_with_role(element.get('first'), element.get('first-action'))} "
            f"{_with_role(element.get('then'), element.get('then-action'))}{extra}")


def _node(element: etree._Element) -> str:
    if set(element.keys()) - {"id", "uname", "type", "description"}:
        raise Unrenderable
    kind = element.get("type")
    if kind not in (None, "member", "normal", "ping", "remote") or element.get("description"):
        raise Unrenderable
    head = f"node {element.get('id')}: {element.get('uname')}" + (f":{kind}" if kind else "")
    lines = []
    for child in element:
        word = {"instance_attributes": "attributes", "utilization": "utilization"}.get(child.tag)
        if word is None or child.find("rule") is not None:
            raise Unrenderable
        lines.append(" ".join([word, *_pairs(child)]))
    return _join(head, lines)


def _defaults(word: str, block: etree._Element) -> str:
    if block.find("rule") is not None or set(block.keys()) - {"id"} or \
            any(c.tag != "nvpair" for c in block):
        raise Unrenderable
    return _join(f"{word} {block.get('id')}:", _pairs(block))


def objects(configuration: etree._Element) -> list[tuple[int, str, etree._Element, str]]:
    """(kind rank, id, element, crmsh word) of every showable object."""
    found = []
    for node in configuration.iterfind("nodes/node"):
        found.append((_ORDER["node"], node.get("id") or "", node, "node"))
    for element in configuration.iterfind("resources//*"):
        if element.tag in ("primitive", "group", "clone", "master"):
            found.append((_ORDER[element.tag], element.get("id") or "", element, element.tag))
    for element in configuration.iterfind("constraints/*"):
        found.append((_ORDER.get(element.tag, 10), element.get("id") or "", element,
                      element.tag))
    for tag, word in (("crm_config", "property"), ("rsc_defaults", "rsc_defaults"),
                      ("op_defaults", "op_defaults")):
        for block in configuration.iterfind(f"{tag}/*"):
            rank = _ORDER.get(block.tag if tag == "crm_config" else tag, 14)
            found.append((rank, block.get("id") or "", block, word))
    return sorted(found, key=lambda item: (item[0], item[1]))


def render_object(element: etree._Element, word: str) -> str:
    """One object in crmsh syntax, or `xml ...` when the syntax cannot carry it exactly."""
    try:
        text = _render(element, word)
    except Unrenderable:
        return xml_form(element)
    from crmd.shell.configure import reparse

    if reparse(text, element) is False:
        return xml_form(element)
    return text


def render_syntax(element: etree._Element) -> str:
    """A constraint in crmsh syntax without the round-trip check of render_object (a
    two-resource set then reads back as a plain constraint, which crmsh relies on when it
    simplifies sets). Raises Unrenderable when the syntax cannot carry it."""
    return _render(element, element.tag)


def _render(element: etree._Element, word: str) -> str:
    if word == "node":
        return _node(element)
    if word == "primitive":
        return _primitive(element)
    if word in ("group", "clone", "master"):
        return _collective(element)[0]
    renderers = {"rsc_location": _location, "rsc_colocation": _colocation,
                 "rsc_order": _order}
    if word in renderers:
        return renderers[word](element)
    if word in ("property", "rsc_defaults", "op_defaults"):
        return _defaults(word, element)
    raise Unrenderable


def xml_form(element: etree._Element) -> str:
    copy = etree.fromstring(etree.tostring(element))
    for comment in list(copy.iter(etree.Comment)):
        parent = comment.getparent()
        if parent is not None:
            parent.remove(comment)
    parent = element.getparent()
    if parent is not None and parent.tag in ("crm_config", "rsc_defaults", "op_defaults"):
        wrapper = etree.Element(parent.tag)  # the section says which defaults these are
        wrapper.append(copy)
        copy = wrapper
    return "xml " + etree.tostring(copy, encoding="unicode").strip()


def show(configuration: etree._Element, only: set[str] | None = None) -> str:
    """The whole configuration (or the objects named in `only`) in crmsh syntax."""
    configuration = etree.fromstring(etree.tostring(configuration))
    for comment in list(configuration.iter(etree.Comment)):  # crmsh syntax has no place
        parent = comment.getparent()                            # for XML comments
        if parent is not None:
            parent.remove(comment)
    listed = objects(configuration)
    texts = {id(e): render_object(e, word) for _, _, e, word in listed
             if word in ("group", "clone", "master")}
    covered = set()  # members of a collective shown as XML travel inside it
    for _, _, element, _word in listed:
        if texts.get(id(element), "").startswith("xml "):
            covered |= {id(d) for d in element.iterdescendants()}
    out = []
    for _, ident, element, word in listed:
        if id(element) in covered or (only is not None and ident not in only):
            continue
        out.append(texts.get(id(element)) or render_object(element, word))
    return "\n".join(out)


_GENERATED_IDS = {"nvpair", "instance_attributes", "meta_attributes", "utilization", "op",
                  "rule", "expression", "date_expression", "operations"}


def canonical(element: etree._Element) -> tuple[object, ...]:
    """What "the same element" means: attributes in any order, children in order, and the
    ids crmsh's syntax never shows (nvpairs, attribute sets, ops, rules) left out."""
    children = [canonical(c) for c in element if isinstance(c.tag, str)]
    if element.tag in ("primitive", "group", "clone", "master", "node"):
        # Where a set sits among a resource's children means nothing to Pacemaker;
        # the order of a group's members does.
        members = [canonical(c) for c in element if c.tag in _MEMBERS]
        others = sorted(repr(c) for c in children if c[0] not in _MEMBERS)
        children = [tuple(others), *members]
    items = tuple(sorted((str(k), str(v)) for k, v in element.items()
                         if not (k == "id" and element.tag in _GENERATED_IDS)
                         and not (k == "boolean-op" and v == "and")))  # and: the default
    return (element.tag, items, tuple(children))


_MEMBERS = {"primitive", "group", "clone", "master", "bundle"}
