"""crmsh configure syntax -> CIB XML elements (pure: tokens in, lxml elements out).

Covers primitive (class:provider:type, params, meta, utilization, op with op_params and
op_meta), group, clone, ms (promotable), location (score node, or rules), colocation,
order, property, rsc_defaults, op_defaults and `xml <element/>`. The ids of generated
elements are the ones crmsh 4.4.1 writes: "<rsc>-instance_attributes", "<set>-<name>",
"<rsc>-<op>-<interval>", "<constraint>-rule", "<rule>-expression[-N]".

Errors raise ValidationError naming the offending token; nothing is half-built because
nothing here touches a CIB (crmd.shell.configure inserts the finished element).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from crmd.shell.sets import add_sets, uses_sets
from messaging.errors import ValidationError

OP_ATTRIBUTES = {"id", "name", "description", "interval", "timeout", "start-delay",
                 "interval-origin", "enabled", "record-pending", "role", "requires",
                 "on-fail"}
SET_KEYWORDS = {"params": "instance_attributes", "meta": "meta_attributes",
                "utilization": "utilization"}
_OPERATORS = {"lt", "gt", "lte", "gte", "eq", "ne"}
_KINDS = {"mandatory": "Mandatory", "optional": "Optional", "serialize": "Serialize"}


def fail(message: str, token: str | None = None) -> ValidationError:
    where = f" (at {token!r})" if token is not None else ""
    return ValidationError(f"{message}{where}")


def score(text: str) -> str:
    """crmsh score words: inf/+inf/-inf/INFINITY or an integer."""
    lowered = text.lower()
    if lowered in ("inf", "+inf", "infinity", "+infinity"):
        return "INFINITY"
    if lowered in ("-inf", "-infinity"):
        return "-INFINITY"
    try:
        int(text)
    except ValueError:
        raise fail("not a score", text) from None
    return text


def _is_score(text: str) -> bool:
    try:
        score(text)
    except ValidationError:
        return False
    return True


def split_assignment(token: str) -> tuple[str, str]:
    name, sep, value = token.partition("=")
    if not sep or not name:
        raise fail("expected name=value", token)
    return name, value


@dataclass
class _Tokens:
    items: list[str]
    position: int = 0

    def peek(self) -> str | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise fail("unexpected end of command")
        self.position += 1
        return token

    def assignments(self) -> list[tuple[str, str]]:
        pairs = []
        while (token := self.peek()) is not None and "=" in token \
                and token not in SET_KEYWORDS:
            pairs.append(split_assignment(self.take()))
        return pairs


def nvpair_set(tag: str, set_id: str, pairs: list[tuple[str, str]]) -> etree._Element:
    block = etree.Element(tag, id=set_id)
    for name, value in pairs:
        etree.SubElement(block, "nvpair", name=name, value=value, id=f"{set_id}-{name}")
    return block


def agent_attributes(spec: str) -> dict[str, str]:
    """`ocf:heartbeat:IPaddr2`, `stonith:fence_x`, `lsb:foo` or bare `Dummy` (ocf:heartbeat)."""
    if spec.startswith("@"):
        return {"template": spec[1:]}
    parts = spec.split(":")
    if len(parts) == 3 and all(parts):
        return {"class": parts[0], "provider": parts[1], "type": parts[2]}
    if len(parts) == 2 and all(parts):
        if parts[0] == "ocf":
            raise fail("an ocf agent needs a provider (ocf:provider:type)", spec)
        return {"class": parts[0], "type": parts[1]}
    if len(parts) == 1 and parts[0]:
        return {"class": "ocf", "provider": "heartbeat", "type": parts[0]}
    raise fail("not a resource agent (class:provider:type)", spec)


def _sets(element: etree._Element, tokens: _Tokens, owner: str) -> None:
    """params/meta/utilization blocks in the order given (crmsh keeps that order)."""
    keyword = tokens.take()
    tag = SET_KEYWORDS[keyword]
    set_id = f"{owner}-{tag}"
    existing = element.find(tag)
    pairs = tokens.assignments()
    if existing is not None:
        for name, value in pairs:
            etree.SubElement(existing, "nvpair", name=name, value=value, id=f"{set_id}-{name}")
        return
    element.append(nvpair_set(tag, set_id, pairs))


def _op(operations: etree._Element, tokens: _Tokens, owner: str) -> None:
    tokens.take()  # "op"
    name = tokens.take()
    if "=" in name:
        raise fail("op needs an operation name first", name)
    op = etree.SubElement(operations, "op", name=name)
    extra: list[tuple[str, str]] = []
    for key, value in tokens.assignments():
        if key in OP_ATTRIBUTES:
            op.set(key, value)
        else:
            extra.append((key, value))
    if op.get("interval") is None:
        op.set("interval", "0")
    op_id = op.get("id") or f"{owner}-{name}-{op.get('interval')}"
    op.set("id", op_id)
    while tokens.peek() in ("op_params", "op_meta"):
        keyword = tokens.take()
        pairs = tokens.assignments()
        if keyword == "op_params":
            extra += pairs
        else:
            op.append(nvpair_set("meta_attributes", f"{op_id}-meta_attributes", pairs))
    if extra:
        op.append(nvpair_set("instance_attributes", f"{op_id}-instance_attributes", extra))


def primitive(args: list[str]) -> etree._Element:
    tokens = _Tokens(args)
    rsc_id = tokens.take()
    element = etree.Element("primitive", {"id": rsc_id, **agent_attributes(tokens.take())})
    operations = None
    while (token := tokens.peek()) is not None:
        if token in SET_KEYWORDS:
            _sets(element, tokens, rsc_id)
        elif token == "op":
            if operations is None:
                operations = etree.SubElement(element, "operations")
            _op(operations, tokens, rsc_id)
        elif token.startswith("description="):
            element.set("description", split_assignment(tokens.take())[1])
        else:
            raise fail("unexpected token in primitive", token)
    return element


def collective(kind: str, args: list[str]) -> tuple[etree._Element, list[str]]:
    """group/clone/ms: the new (childless) element and the ids of its members."""
    tokens = _Tokens(args)
    rsc_id = tokens.take()
    tag = {"group": "group", "clone": "clone", "ms": "master", "master": "master"}[kind]
    element = etree.Element(tag, id=rsc_id)
    members = []
    while (token := tokens.peek()) is not None and token not in SET_KEYWORDS:
        if token.startswith("description="):
            element.set("description", split_assignment(tokens.take())[1])
            continue
        members.append(tokens.take())
    while tokens.peek() is not None:
        if tokens.peek() not in SET_KEYWORDS:
            raise fail(f"unexpected token in {kind}", tokens.peek())
        _sets(element, tokens, rsc_id)
    if not members:
        raise fail(f"{kind} {rsc_id} needs at least one resource")
    if tag != "group" and len(members) != 1:
        raise fail(f"{kind} {rsc_id} takes exactly one resource", members[1])
    return element, members


def _rsc_role(text: str) -> tuple[str, str | None]:
    rsc, _, role = text.partition(":")
    return rsc, role or None


def location(args: list[str]) -> etree._Element:
    tokens = _Tokens(args)
    element = etree.Element("rsc_location", id=tokens.take(), rsc=tokens.take())
    while (token := tokens.peek()) is not None and "=" in token and not token.endswith(":"):
        key, value = split_assignment(tokens.take())
        element.set(key, value)
    if tokens.peek() == "rule":
        from crmd.shell.rules import parse_rules

        parse_rules(element, tokens.items[tokens.position:])
        return element
    head = tokens.take()
    if not head.endswith(":"):
        raise fail("expected '<score>: <node>' or 'rule'", head)
    element.set("score", score(head[:-1]))
    element.set("node", tokens.take())
    if tokens.peek() is not None:
        raise fail("unexpected token after the node", tokens.peek())
    return element


def colocation(args: list[str]) -> etree._Element:
    tokens = _Tokens(args)
    ident = tokens.take()
    head = tokens.take()
    if not head.endswith(":"):
        raise fail("expected '<score>:'", head)
    rest = tokens.items[tokens.position:]
    element = etree.Element("rsc_colocation", id=ident, score=score(head[:-1]))
    if uses_sets(rest):
        add_sets(element, rest, "role")
        return element
    (rsc, role), (with_rsc, with_role) = _rsc_role(rest[0]), _rsc_role(rest[1])
    element.set("rsc", rsc)
    if role:
        element.set("rsc-role", role)
    element.set("with-rsc", with_rsc)
    if with_role:
        element.set("with-rsc-role", with_role)
    return element


def order(args: list[str]) -> etree._Element:
    tokens = _Tokens(args)
    element = etree.Element("rsc_order", id=tokens.take())
    head = tokens.peek() or ""
    if head.endswith(":"):
        tokens.take()
        word = head[:-1]
        if word.lower() in _KINDS:
            element.set("kind", _KINDS[word.lower()])
        elif _is_score(word) and score(word) in ("0", "INFINITY"):
            # crmsh maps the score form: inf is Mandatory, 0 Optional
            element.set("kind", "Optional" if score(word) == "0" else "Mandatory")
        else:
            raise fail("order kind must be Mandatory, Optional or Serialize", head)
    rest = [word for word in tokens.items[tokens.position:] if "=" not in word]
    options = [split_assignment(w) for w in tokens.items[tokens.position:] if "=" in w]
    if uses_sets(rest):
        for key, value in options:
            element.set(key, value)
        add_sets(element, rest, "action")
        return element
    (first, first_action), (then, then_action) = _rsc_role(rest[0]), _rsc_role(rest[1])
    element.set("first", first)
    if first_action:
        element.set("first-action", first_action)
    element.set("then", then)
    if then_action:
        element.set("then-action", then_action)
    for key, value in options:
        element.set(key, value)
    return element


def defaults_pairs(args: list[str]) -> tuple[str | None, list[tuple[str, str]]]:
    """property/rsc_defaults/op_defaults: optional "$id=X" or "X:" set name, then pairs."""
    set_id = None
    rest = list(args)
    if rest and rest[0].startswith("$id="):
        set_id = rest.pop(0)[4:]
    elif rest and rest[0].endswith(":") and "=" not in rest[0]:
        set_id = rest.pop(0)[:-1]
    return set_id, [split_assignment(token) for token in rest]


def xml_element(args: list[str]) -> etree._Element:
    text = " ".join(args)
    try:
        return etree.fromstring(text, etree.XMLParser(remove_blank_text=True))
    except etree.XMLSyntaxError as error:
        raise fail(f"not well-formed XML: {error.msg}") from None
