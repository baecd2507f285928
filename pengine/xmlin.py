"""XML input helpers: parse a CIB safely, read booleans, durations and name/value blocks.

Invariants: parse() never lets an lxml exception escape (it raises ValidationError with a
Location); nvpair evaluation follows Pacemaker's precedence (score order, later blocks of
equal score win, rules decide whether a block applies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import cast

from lxml import etree

from messaging.errors import Location, ValidationError

Element = etree._Element
RuleCheck = Callable[[Element], bool]

_TRUE = {"true", "on", "yes", "y", "1"}


def parse(cib: str | bytes | Element) -> Element:
    """Return the <cib> element of a CIB given as text, bytes or an element."""
    if isinstance(cib, etree._Element):
        root = cib
    else:
        data = cib.encode() if isinstance(cib, str) else cib
        try:
            parser = etree.XMLParser(remove_comments=True, resolve_entities=False, no_network=True)
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if isinstance(exc.lineno, int) else None
            raise ValidationError(
                f"CIB is not well-formed XML: {exc.msg}", location=Location("<cib>", line)
            ) from None
    if root.tag != "cib":
        raise ValidationError(
            f"expected a <cib> element, got <{root.tag}>", location=where(root)
        )
    if root.find("configuration") is None:
        raise ValidationError("CIB has no <configuration>", location=where(root))
    return root


def where(element: Element) -> Location:
    """A Location naming an element and its source line."""
    ident = element.get("id")
    label = f"<{element.tag} id={ident!r}>" if ident else f"<{element.tag}>"
    line = element.sourceline
    return Location("<cib>", line if isinstance(line, int) else None, label)


def is_true(text: str | None, default: bool = False) -> bool:
    """crm_is_true with a default for absent values."""
    if text is None:
        return default
    return text.strip().lower() in _TRUE


_UNITS = {"ms": 1, "msec": 1, "us": 0.001, "usec": 0.001, "s": 1000, "sec": 1000, "": 1000,
          "m": 60000, "min": 60000, "h": 3600000, "hr": 3600000}
_ISO = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def duration_ms(text: str | None, default: int = 0) -> int:
    """Milliseconds of a Pacemaker interval/timeout ("10s", "1min", "500ms", "P1D")."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    iso = _ISO.match(text.upper()) if text.upper().startswith("P") else None
    if iso:
        y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in iso.groups())
        days = y * 365 + mo * 30 + w * 7 + d
        return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000
    match = re.match(r"^([+-]?\d+)\s*([a-zA-Z]*)$", text)
    if not match or match.group(2).lower() not in _UNITS:
        return default
    return int(int(match.group(1)) * _UNITS[match.group(2).lower()])


def block_order(blocks: Iterable[Element]) -> list[Element]:
    """Blocks in application order: highest score first, equal scores in reverse order."""
    from pengine.scores import char2score

    indexed = list(enumerate(blocks))
    indexed.sort(key=lambda pair: (-char2score(pair[1].get("score")), -pair[0]))
    return [block for _, block in indexed]


def nvpairs(
    blocks: Iterable[Element],
    rule_ok: RuleCheck,
    into: dict[str, str] | None = None,
    *,
    overwrite: bool = False,
    first: Element | None = None,
) -> dict[str, str]:
    """Evaluate name/value blocks into a dict (first setter wins unless overwrite)."""
    result: dict[str, str] = {} if into is None else into
    ordered = block_order(blocks)
    if first is not None and first in ordered:
        ordered.remove(first)
        ordered.insert(0, first)
    for block in ordered:
        rules = block.findall("rule")
        if rules and not all(rule_ok(rule) for rule in rules):
            continue
        for pair in block.iter("nvpair"):
            name = pair.get("name")
            if name is None:
                continue
            value = pair.get("value")
            if value == "#default":
                result.pop(name, None)
                continue
            if value is None:
                continue
            if overwrite or name not in result:
                result[name] = value
    return result


def resolve_refs(root: Element) -> None:
    """Replace id-ref elements by copies of their targets (in place, on our own copy)."""
    # The referring elements, in document order, found by libxml2: a live cluster's status
    # section is tens of thousands of elements and almost never holds a reference.
    referring = cast("list[Element]", root.xpath("descendant-or-self::*[@id-ref]"))
    if not referring:
        return
    ids = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for el in referring:
        ref = el.get("id-ref")
        if ref and el.get("id") is None and ref in ids:
            target = ids[ref]
            clone = etree.fromstring(etree.tostring(target))
            parent = el.getparent()
            if parent is not None:
                clone.tail = el.tail
                parent.replace(el, clone)
