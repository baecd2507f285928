"""crmsh rule expressions <-> <rule> elements (location rules), both directions, pure.

`rule [$id=X] [$role=R] <score|attribute>: <expr> [and|or <expr>]...` where an expr is
`defined|not_defined ATTR`, `ATTR [type:]OP VALUE` (OP: lt gt lte gte eq ne) or
`date lt|gt WHEN`. Several `rule` blocks may follow each other. Rules this module cannot
write back exactly (nested rules, date specs, mixed and/or) make `render_rule` raise
Unrenderable, and the caller shows the whole object as XML instead, as crmsh does.
"""

from __future__ import annotations

from lxml import etree

from crmd.shell.syntax import fail, score
from messaging.errors import ValidationError

_OPERATORS = {"lt", "gt", "lte", "gte", "eq", "ne"}
_TYPES = {"string", "number", "version", "integer"}


class Unrenderable(Exception):
    """This element has no exact crmsh form here; show it as XML."""


def _split_rules(tokens: list[str]) -> list[list[str]]:
    rules: list[list[str]] = []
    for token in tokens:
        if token == "rule":
            rules.append([])
        elif not rules:
            raise fail("expected 'rule'", token)
        else:
            rules[-1].append(token)
    return rules


def parse_rules(parent: etree._Element, tokens: list[str]) -> None:
    base = f"{parent.get('id')}-rule"
    for index, words in enumerate(_split_rules(tokens)):
        rule_id = base if index == 0 else f"{base}-{index - 1}"
        _parse_rule(parent, words, rule_id)


def _parse_rule(parent: etree._Element, words: list[str], rule_id: str) -> None:
    words = list(words)
    attributes: dict[str, str] = {}
    while words and words[0].startswith("$"):
        key, _, value = words.pop(0)[1:].partition("=")
        attributes[key] = value
    if not words:
        raise fail("a rule needs an expression")
    rule = etree.SubElement(parent, "rule")
    if words[0].endswith(":"):  # no score at all is allowed (crmsh shows none then)
        head = words.pop(0)[:-1]
        try:
            rule.set("score", score(head))
        except ValidationError:  # not a number: a node attribute gives the score
            rule.set("score-attribute", head)
    for key, value in attributes.items():
        rule.set(key, value)
    rule.set("id", attributes.get("id", rule_id))
    joins = set()
    expressions: list[list[str]] = [[]]
    for word in words:
        if word in ("and", "or"):
            joins.add(word)
            expressions.append([])
        else:
            expressions[-1].append(word)
    if len(joins) > 1:
        raise fail("a rule mixes 'and' and 'or'; split it into several rules")
    if "or" in joins:
        rule.set("boolean-op", "or")
    for index, expression in enumerate(expressions):
        expr_id = f"{rule.get('id')}-expression" + ("" if index == 0 else f"-{index - 1}")
        _expression(rule, expression, expr_id)


def _expression(rule: etree._Element, words: list[str], expr_id: str) -> None:
    if len(words) == 2 and words[0] in ("defined", "not_defined"):
        etree.SubElement(rule, "expression", operation=words[0], attribute=words[1],
                         id=expr_id)
        return
    if len(words) == 3 and words[0] == "date" and words[1] in ("lt", "gt"):
        edge = "end" if words[1] == "lt" else "start"
        etree.SubElement(rule, "date_expression", {"operation": words[1], edge: words[2],
                                                   "id": expr_id})
        return
    if len(words) == 3:
        kind, _, operator = words[1].rpartition(":")
        if operator in _OPERATORS and (not kind or kind in _TYPES):
            element = etree.SubElement(rule, "expression", operation=operator,
                                       attribute=words[0], value=words[2], id=expr_id)
            if kind:
                element.set("type", kind)
            return
    raise fail("not a rule expression", " ".join(words) or None)


def _score_text(rule: etree._Element) -> list[str]:
    if rule.get("score-attribute"):
        return [f"{rule.get('score-attribute')}:"]
    value = rule.get("score")
    if value is None:
        return []
    return [f"{({'INFINITY': 'inf', '+INFINITY': 'inf', '-INFINITY': '-inf'}).get(value, value)}:"]


def render_rule(rule: etree._Element) -> str:
    """One rule in crmsh syntax (without the leading "rule ")."""
    known = {"id", "score", "score-attribute", "boolean-op", "role"}
    if set(rule.keys()) - known:
        raise Unrenderable
    head = []
    if rule.get("role"):
        head.append(f"$role={rule.get('role')}")
    parts = []
    for child in rule:
        parts.append(_render_expression(child))
    if not parts:
        raise Unrenderable
    joiner = f" {rule.get('boolean-op', 'and')} "
    return " ".join([*head, *_score_text(rule), joiner.join(parts)])


def _render_expression(child: etree._Element) -> str:
    if child.tag == "expression":
        if set(child.keys()) - {"id", "attribute", "operation", "value", "type"}:
            raise Unrenderable
        operation = child.get("operation", "")
        if operation in ("defined", "not_defined"):
            return f"{operation} {child.get('attribute')}"
        if operation not in _OPERATORS or child.get("value") is None:
            raise Unrenderable
        kind = f"{child.get('type')}:" if child.get("type") else ""
        return f"{child.get('attribute')} {kind}{operation} {child.get('value')}"
    if child.tag == "date_expression" and child.get("operation") in ("lt", "gt") \
            and len(child) == 0:
        edge = child.get("end") if child.get("operation") == "lt" else child.get("start")
        if edge is None or set(child.keys()) - {"id", "operation", "start", "end"}:
            raise Unrenderable
        return f"date {child.get('operation')} {edge}"
    raise Unrenderable
