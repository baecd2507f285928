"""CIB XML in and out exactly as Pacemaker reads, prints and digests it.

Invariants: every tree this module returns has no text nodes (Pacemaker strips them on
input, so a CIB is elements and comments only); parsing uses libxml2's recovery mode like
Pacemaker's own parser, so a truncated fragment such as ``<bad`` yields the element libxml2
recovers and only input with no element at all is refused; printing follows Pacemaker's
writer (two-space indentation, ``/>`` for empty elements, attributes in document order,
values escaped with the same rules as the operation digest), and the digests are Pacemaker's
on-disk (v1: MD5 of " " + compact text + newline) and versioned (v2, from feature set 3.0.5
on: MD5 of the compact text without the bookkeeping attributes cib-last-written,
update-origin/-client/-user and crm-debug-origin) digests.
"""

from __future__ import annotations

import hashlib
import re

from lxml import etree

from messaging.digest import escape_value
from messaging.errors import Location, ValidationError

Element = etree._Element



def _parser() -> etree.XMLParser:
    return etree.XMLParser(recover=True, remove_blank_text=True, resolve_entities=False,
                           no_network=True, huge_tree=True)


def is_comment(node: Element) -> bool:
    """Whether a node is a comment (the only non-element node a CIB tree keeps)."""
    return isinstance(node, etree._Comment)


def attributes(node: Element) -> list[tuple[str, str]]:
    """A node's attributes as text pairs in document order."""
    return [(str(name), str(value)) for name, value in node.attrib.items()]


def parse(data: str | bytes, source: str = "<input>") -> Element:
    """Parse XML text the way Pacemaker does; no element at all raises ValidationError."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as error:
        raise ValidationError(f"Couldn't parse input from {source}: {error.msg}",
                              location=Location(source)) from None
    if root is None:
        raise ValidationError(f"Couldn't parse input from {source}: no XML element found",
                              location=Location(source))
    strip_text(root)
    return root


def strip_text(root: Element) -> None:
    """Drop every text node below `root` (Pacemaker's pcmk__strip_xml_text): every text and
    tail, a comment's content kept. The text nodes are found by XPath, in C: a walk of
    every node in Python cost 25 ms of a 2 MB CIB's 35 ms parse, whose tree (blank text
    already dropped by the parser) usually holds no text at all."""
    root.tail = None
    found = root.xpath(".//text()")
    for text in found if isinstance(found, list) else ():
        holder = text.getparent() if isinstance(text, etree._ElementUnicodeResult) else None
        if holder is None or not isinstance(text, etree._ElementUnicodeResult):
            continue
        if text.is_tail:
            holder.tail = None
        else:
            holder.text = None
    # a processing instruction's or an entity's content is its .text, not a text node
    for node in root.iter(etree.PI, etree.Entity):
        node.tail = None
        node.text = None


# Attributes the versioned digest leaves out: they change without the content changing.
_FILTERED = frozenset({"crm-debug-origin", "cib-last-written", "update-origin",
                       "update-client", "update-user"})


_FILTERED_PATTERN = re.compile(" (?:" + "|".join(sorted(_FILTERED)) + ')="[^"]*"')
_LIBXML_ENTITIES = ("&lt;", "&gt;", "&amp;", "&quot;")
_TEXT_AFTER_TAG = re.compile(">[^<]")  # values escape >, so a > ends a tag
_TEXT_AFTER_TAG_PRETTY = re.compile(">[^\n]")


def element_text(element: Element, pretty: bool = True, filtered: bool = False) -> str:
    """`element` printed as Pacemaker prints XML (pretty) or digests it (compact)."""
    fast = _libxml_text(element, pretty, filtered)
    if fast is not None:
        return fast
    out: list[str] = []
    _dump(element, 0, out, pretty, _FILTERED if filtered else frozenset())
    return "".join(out)


def _libxml_text(element: Element, pretty: bool, filtered: bool) -> str | None:
    """libxml2's own printing (tens of times faster than `_dump`) when it is provably the
    same text: its layout and its escapes of & < > " equal Pacemaker's, so the only
    differences are values holding ' (Pacemaker writes &apos;), a tab, newline or carriage
    return (character references in libxml2, \\n-style text in Pacemaker), DEL, entities,
    processing instructions and namespaces; any of those, seen in the text, means None
    (print with `_dump`). Filtering drops the bookkeeping attributes by pattern, which
    cannot match inside a value (its quotes are escaped) but could inside a comment."""
    if not isinstance(element.tag, str):
        return None
    text = etree.tostring(element, encoding="unicode", pretty_print=pretty, with_tail=False)
    if "'" in text or "\x7f" in text or "<?" in text or "xmlns" in text:
        return None
    if "&" in text and text.count("&") != sum(text.count(name) for name in _LIBXML_ENTITIES):
        return None  # a character reference (&#10;) or an unexpanded entity
    if (_TEXT_AFTER_TAG_PRETTY if pretty else _TEXT_AFTER_TAG).search(text):
        return None  # a text node (`_dump` prints none), or a > inside a comment
    if filtered:
        if "<!--" in text:
            return None
        text = _FILTERED_PATTERN.sub("", text)
    return text


def _dump(node: Element, depth: int, out: list[str], pretty: bool,
          skip: frozenset[str]) -> None:
    indent = "  " * depth if pretty else ""
    newline = "\n" if pretty else ""
    if is_comment(node):
        out.append(f"{indent}<!--{node.text or ''}-->{newline}")
        return
    if not isinstance(node.tag, str):  # processing instructions and entities are not kept
        return
    attrs = "".join(f' {name}="{escape_value(value)}"' for name, value in attributes(node)
                    if name not in skip)
    children = list(node)
    if not children:
        out.append(f"{indent}<{node.tag}{attrs}/>{newline}")
        return
    out.append(f"{indent}<{node.tag}{attrs}>{newline}")
    for child in children:
        _dump(child, depth + 1, out, pretty, skip)
    out.append(f"{indent}</{node.tag}>{newline}")


def on_disk_digest(root: Element) -> str:
    """Pacemaker's v1 digest (cibadmin -5, cib.xml.sig): MD5 of " " + compact text + "\\n"."""
    text = " " + element_text(root, pretty=False) + "\n"
    return hashlib.md5(text.encode()).hexdigest()


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def versioned_digest(root: Element, feature_set: str | None = None) -> str:
    """Pacemaker's digest for diffs and replicas (cibadmin -6): v2 from feature set 3.0.5.

    v2 is the MD5 of the compact text without the bookkeeping attributes in _FILTERED.

    Args:
        root: the element to digest.
        feature_set: the CIB's crm_feature_set; None (absent) selects the v1 digest, as
            Pacemaker does.
    """
    if feature_set is None or _version_tuple(feature_set) < (3, 0, 5):
        return on_disk_digest(root)
    return hashlib.md5(element_text(root, pretty=False, filtered=True).encode()).hexdigest()
