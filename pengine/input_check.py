"""Up-front checks of a CIB file given to crm_simulate, with file:line locations.

Pure apart from reading Pacemaker's schema files: bytes or a parsed tree in, a parsed tree
out or `ValidationError` raised. In order: size limits on the raw bytes (before the parser
sees them), well-formed XML with a <cib> root, limits on the tree, Pacemaker's own RelaxNG
schema chosen by `validate-with` (messaging.schema, when pacemaker-common is installed; the
same rejections as Pacemaker, exit 78), then the checks the engine would otherwise only
see deep inside scheduling (a constraint naming a resource that does not exist, ...).
Every error names the file, the line and the element, and carries all findings as reports.

Limits bound the work on pathological input (both libxml2's duplicate-attribute check and
RelaxNG validation grow faster than linearly): no start tag over `MAX_TAG_BYTES`, at most
`MAX_ELEMENTS` elements and `MAX_ATTRIBUTES` attributes on one element. Pacemaker's
scheduler corpus stays far below them (at most ~3,300 elements).
"""

from __future__ import annotations

import re

from lxml import etree

from messaging import schema
from messaging.errors import Location, Report, ValidationError

_SCHEMA = re.compile(r"^pacemaker-(\d+)\.(\d+)$")
# The schema versions Pacemaker 2.1.5 ships (xml/*.rng): 1.0-1.2, 2.0-2.10, 3.0-3.9.
_KNOWN_MINOR = {1: range(0, 3), 2: range(0, 11), 3: range(0, 10)}
_OTHER_SCHEMAS = frozenset({"none", "pacemaker-next", "pacemaker-0.6", "pacemaker-0.7",
                            "transitional-0.6"})
_REFERENCES = {
    "rsc_location": ("rsc",),
    "rsc_colocation": ("rsc", "with-rsc"),
    "rsc_order": ("first", "then"),
    "rsc_ticket": ("rsc",),
}
_RESOURCE_TAGS = ("primitive", "group", "clone", "master", "bundle", "template")


MAX_INPUT_BYTES = 64 << 20
MAX_TAG_BYTES = 256 << 10
MAX_ELEMENTS = 100_000
MAX_ATTRIBUTES = 256
_LONG_TAG = re.compile(rb"<[^<>]{%d}" % MAX_TAG_BYTES)


def check_raw_limits(data: bytes, source: str) -> None:
    """Refuse input whose parsing alone would be too costly (before any parser runs)."""
    if len(data) > MAX_INPUT_BYTES:
        raise ValidationError(f"input of {len(data)} bytes exceeds the limit of "
                              f"{MAX_INPUT_BYTES} bytes", location=Location(source))
    if data.count(b"<") > 2 * MAX_ELEMENTS + 1000:
        raise ValidationError(f"more than {MAX_ELEMENTS} elements (the limit)",
                              location=Location(source))
    long_tag = _LONG_TAG.search(data)
    if long_tag is not None:
        line = data.count(b"\n", 0, long_tag.start()) + 1
        raise ValidationError(f"a tag longer than {MAX_TAG_BYTES} bytes (the limit)",
                              location=Location(source, line))


def _tree_limit_reports(root: etree._Element, source: str) -> list[Report]:
    for count, element in enumerate(root.iter(), start=1):
        if count > MAX_ELEMENTS:
            return [Report("limit", f"more than {MAX_ELEMENTS} elements (the limit)",
                           location=_where(element, source))]
        if len(element.attrib) > MAX_ATTRIBUTES:
            return [Report("limit", f"{len(element.attrib)} attributes on one element "
                           f"(the limit is {MAX_ATTRIBUTES})", location=_where(element, source))]
    return []


def parse_cib(data: bytes, source: str) -> etree._Element:
    """Parse CIB text and validate it (limits, <cib> root, schema, references).

    Raises:
        ValidationError: with every finding as a report (exit 78).
    """
    check_raw_limits(data, source)
    parser = etree.XMLParser(remove_comments=True, resolve_entities=False, no_network=True,
                             huge_tree=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.lineno if isinstance(error.lineno, int) else None
        raise ValidationError(f"not well-formed XML: {error.msg}",
                              location=Location(source, line)) from None
    if root.tag != "cib":
        raise ValidationError(f"not a CIB: the root element is <{root.tag}>, expected <cib>",
                              location=Location(source, _line(root), f"<{root.tag}>"))
    check_cib(root, source)
    return root


def _line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def _where(element: etree._Element, source: str) -> Location:
    ident = element.get("id")
    label = f"<{element.tag} id={ident!r}>" if ident else f"<{element.tag}>"
    return Location(source, _line(element), label)


def check_cib(root: etree._Element, source: str) -> None:
    """Raise ValidationError listing every problem found (the first one is the message).

    Limits and Pacemaker's schema come first: a CIB that fails them is not looked into.
    """
    reports = _tree_limit_reports(root, source)
    validated = not reports and schema.available() and root.get("validate-with", "none") \
        .casefold() != schema.NONE
    if validated:
        reports = schema.validate(root, source=source)
    if validated and not reports:
        return
    if not reports or validated:
        # Duplicate ids: the schema checks those Pacemaker declares xsd:ID (node ids are
        # not: Pacemaker accepts two <node id="1">), so a CIB the schema accepted is not
        # checked again. After a schema failure our own findings, when any, are the
        # clearer message; they never decide acceptance on their own when the schema ran.
        own = (_schema_reports(root, source) + _primitive_reports(root, source)
               + _duplicate_reports(root, source) + _reference_reports(root, source))
        reports = own + reports
    if reports:
        first = reports[0]
        more = f" (and {len(reports) - 1} more)" if len(reports) > 1 else ""
        raise ValidationError(first.message + more, tuple(reports), location=first.location)


def known_schema(name: str) -> bool:
    """True for a validate-with value Pacemaker 2.1.5 accepts."""
    if name in _OTHER_SCHEMAS:
        return True
    match = _SCHEMA.match(name)
    if match is None:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    return minor in _KNOWN_MINOR.get(major, range(0))


def _schema_reports(root: etree._Element, source: str) -> list[Report]:
    name = root.get("validate-with")
    if name is None or known_schema(name):
        return []
    return [Report("unknown-schema",
                   f"validate-with={name!r} is not a known schema "
                   "(expected pacemaker-1.0 .. pacemaker-3.9, pacemaker-next or none)",
                   location=_where(root, source))]


def _primitive_reports(root: etree._Element, source: str) -> list[Report]:
    """A primitive needs class and type (ocf also provider) unless it uses a template."""
    reports = []
    for primitive in root.iterfind("configuration/resources//primitive"):
        if primitive.get("template"):
            continue
        needed = ["class", "type"]
        if primitive.get("class") == "ocf":
            needed.append("provider")
        missing = [name for name in needed if not primitive.get(name)]
        if missing:
            reports.append(Report("missing-attribute",
                                  f"primitive lacks required attribute(s) {', '.join(missing)}",
                                  location=_where(primitive, source)))
    return reports


_REFERENCE_TAGS = frozenset({"resource_ref", "obj_ref"})


def _duplicate_reports(root: etree._Element, source: str) -> list[Report]:
    """XML ids in the configuration must be unique (the schema declares them xsd:ID)."""
    configuration = root.find("configuration")
    seen: dict[str, etree._Element] = {}
    reports = []
    for element in configuration.iter() if configuration is not None else ():
        ident = element.get("id") if isinstance(element.tag, str) else None
        if ident is None or element.tag in _REFERENCE_TAGS:
            continue
        first = seen.setdefault(ident, element)
        if first is not element:
            reports.append(Report("duplicate-id",
                                  f"id {ident!r} is already used by <{first.tag}> at line "
                                  f"{_line(first)}", location=_where(element, source)))
    return reports


def _reference_reports(root: etree._Element, source: str) -> list[Report]:
    resources = {e.get("id") for tag in _RESOURCE_TAGS for e in root.iter(tag)}
    resources |= {e.get("id") for e in root.iter("tag")}
    reports: list[Report] = []
    constraints = root.find("configuration/constraints")
    if constraints is None:
        return reports
    for element in constraints.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in _REFERENCES.get(element.tag, ()):
            value = element.get(attribute)
            if value is not None and value not in resources:
                reports.append(_dangling(element, attribute, value, source))
        if element.tag == "resource_ref" and element.get("id") not in resources:
            reports.append(_dangling(element, "id", element.get("id", ""), source))
    return reports


def _dangling(element: etree._Element, attribute: str, value: str, source: str) -> Report:
    owner = element if element.tag != "resource_ref" else _constraint_of(element)
    return Report("dangling-reference",
                  f"{attribute}={value!r} names no resource in <resources>",
                  location=Location(source, _line(element), _where(owner, source).element))


def _constraint_of(element: etree._Element) -> etree._Element:
    node = element
    while node.getparent() is not None and node.tag not in _REFERENCES:
        parent = node.getparent()
        assert parent is not None
        node = parent
    return node

