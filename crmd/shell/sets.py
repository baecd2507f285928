"""Resource sets in colocation and order constraints, in crmsh 4.4.1's syntax (pure).

`colocation ID SCORE: ITEM...` and `order ID [KIND:] ITEM...` take sets when they name
other than exactly two plain resources or use brackets. What crmsh writes (checked with
crmsh 4.4.1 on CIB files):

- consecutive plain items with the same role (colocation) or action (order), `rsc[:x]`,
  share one <resource_set> carrying that role/action; a change of role starts a new set;
- `( a b )` is a set with sequential="false"; `[ a b ]` adds require-all="false";
  a role on the members of a bracket is the set's role (all members must agree);
- sets are numbered in order: id="<constraint id>-<n>", n from 0.

Rendering is the inverse; a set with anything else (score, kind, ordering, an explicit
sequential="true", ...) cannot be written in this syntax (Unrenderable, so `show` falls
back to the xml form).
"""

from __future__ import annotations

from lxml import etree

from messaging.errors import ValidationError

_CLOSING = {"(": ")", "[": "]"}


def uses_sets(items: list[str]) -> bool:
    """Whether these items (after SCORE:/KIND:) make a set constraint."""
    return len(items) != 2 or any(item in ("(", ")", "[", "]") for item in items)


def _split(item: str) -> tuple[str, str | None]:
    rsc, _, role = item.partition(":")
    return rsc, role or None


def _new_set(element: etree._Element, role_attr: str, role: str | None,
             bracket: str | None) -> etree._Element:
    block = etree.SubElement(element, "resource_set")
    if role:
        block.set(role_attr, role)
    if bracket == "[":
        block.set("require-all", "false")
    if bracket is not None:
        block.set("sequential", "false")
    block.set("id", f"{element.get('id')}-{len(element) - 1}")
    return block


def _bracketed(items: list[str], start: int) -> tuple[list[str], int]:
    """The members inside the bracket opening at items[start], and the index after it."""
    closing = _CLOSING[items[start]]
    end = start + 1
    while end < len(items) and items[end] != closing:
        if items[end] in _CLOSING or items[end] in (")", "]"):
            raise ValidationError(f"unbalanced bracket at '{items[end]}'")
        end += 1
    if end >= len(items) or end == start + 1:
        raise ValidationError(f"'{items[start]}' without members or without '{closing}'")
    return items[start + 1:end], end + 1


def add_sets(element: etree._Element, items: list[str], role_attr: str) -> None:
    """Append the <resource_set>s `items` describe to `element`."""
    current: etree._Element | None = None
    current_role: str | None = None
    index = 0
    while index < len(items):
        item = items[index]
        if item in _CLOSING:
            members, index = _bracketed(items, index)
            roles = {_split(member)[1] for member in members}
            if len(roles) != 1:
                raise ValidationError(f"members of '{item} ... ' need one role: {members}")
            block = _new_set(element, role_attr, roles.pop(), item)
            for member in members:
                etree.SubElement(block, "resource_ref", id=_split(member)[0])
            current = None
            continue
        if item in (")", "]"):
            raise ValidationError(f"unbalanced bracket at '{item}'")
        rsc, role = _split(item)
        if current is None or role != current_role:
            current, current_role = _new_set(element, role_attr, role, None), role
        etree.SubElement(current, "resource_ref", id=rsc)
        index += 1


def render_sets(element: etree._Element, role_attr: str) -> list[str]:
    """The items (`a`, `b:Promoted`, `( c d )`, `[ e f ]`) that rebuild the sets."""
    from crmd.shell.rules import Unrenderable  # rules parses with syntax, which uses us

    items: list[str] = []
    for block in element:
        if block.tag != "resource_set":
            raise Unrenderable
        extra = set(block.keys()) - {"id", role_attr, "sequential", "require-all"}
        refs = [ref.get("id") or "" for ref in block]
        if extra or not refs or any(ref.tag != "resource_ref" for ref in block):
            raise Unrenderable
        suffix = f":{block.get(role_attr)}" if block.get(role_attr) else ""
        names = [f"{ref}{suffix}" for ref in refs]
        shape = (block.get("sequential"), block.get("require-all"))
        if shape == (None, None):
            items.extend(names)
        elif shape == ("false", None):
            items.extend(["(", *names, ")"])
        elif shape == ("false", "false"):
            items.extend(["[", *names, "]"])
        else:
            raise Unrenderable
    return items


def referenced(element: etree._Element) -> list[str]:
    """The resource ids a set constraint names."""
    return [ref.get("id") or "" for ref in element.iter("resource_ref")]
