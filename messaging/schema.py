"""RelaxNG validation of a CIB against Pacemaker's own schemas (Debian's pacemaker-common).

The schema is chosen by the CIB's `validate-with`, resolved as Pacemaker 2.1.5 does (checked
against /usr/sbin/crm_simulate): the name is matched case-insensitively against the
installed `pacemaker-X.Y.rng` files, `pacemaker-next` and `none`; a missing attribute or
`none` disables validation; an unknown name is an error. A CIB claiming a schema older than
the current major version (3.x) is accepted when it validates with its own schema or any
later one, because Pacemaker upgrades such a CIB before using it; a 3.x or `pacemaker-next`
CIB must validate with exactly its schema. The names `pacemaker-0.6`, `transitional-0.6`
and `pacemaker-0.7` were DTD-era aliases; Pacemaker starts their upgrade at 1.0.

Invariants: each schema file is compiled at most once per process (cached); validation
never modifies the tree; every problem names the element's path and source line and
carries libxml2's message. Only reading files happens here; no other I/O.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lxml import etree

from messaging.errors import ExitCode, HAError, Location, Report, ValidationError

SCHEMA_DIR = Path("/usr/share/pacemaker")
NEXT = "pacemaker-next"
NONE = "none"
_VERSIONED = re.compile(r"^pacemaker-(\d+)\.(\d+)\.rng$")
# Pre-RelaxNG names Pacemaker still knows; their upgrade starts at the first RelaxNG schema.
_ALIASES_OF_FIRST = frozenset({"pacemaker-0.6", "transitional-0.6", "pacemaker-0.7"})

__all__ = ["NEXT", "NONE", "SCHEMA_DIR", "SchemaUnavailable", "available", "check",
           "known_versions", "preload", "validate"]


class SchemaUnavailable(HAError):
    """Pacemaker's schema files are not installed (Debian package pacemaker-common)."""

    exit_code = ExitCode.NOT_INSTALLED


@functools.cache
def known_versions(directory: Path = SCHEMA_DIR) -> tuple[str, ...]:
    """The installed `pacemaker-X.Y` schema names, oldest first (pacemaker-next excluded)."""
    found: list[tuple[int, int]] = []
    for path in directory.glob("pacemaker-*.rng"):
        match = _VERSIONED.match(path.name)
        if match is not None:
            found.append((int(match.group(1)), int(match.group(2))))
    return tuple(f"pacemaker-{major}.{minor}" for major, minor in sorted(found))


def available(directory: Path = SCHEMA_DIR) -> bool:
    """True when the schemas needed to validate are installed."""
    return bool(known_versions(directory)) and (directory / f"{NEXT}.rng").is_file()


@functools.cache
def _compiled(path: Path) -> etree.RelaxNG:
    try:
        return etree.RelaxNG(file=str(path))
    except (OSError, etree.RelaxNGParseError) as error:
        raise SchemaUnavailable(f"cannot load Pacemaker schema {path}: {error}") from None


def preload(directory: Path = SCHEMA_DIR) -> bool:
    """Compile the newest installed schema now, so that the first validation (the cib
    master's first write, on a cold start's critical path: 0.43 s wall on a loaded DC)
    finds it compiled. False, compiling nothing, when no usable schema is installed."""
    versions = known_versions(directory)
    if not versions:
        return False
    try:
        _compiled(directory / f"{versions[-1]}.rng")
    except SchemaUnavailable:
        return False
    return True


def _candidates(validate_with: str, directory: Path) -> tuple[str, ...] | None:
    """Schema names to try in order; None for an unknown name."""
    versions = known_versions(directory)
    if not versions:
        raise SchemaUnavailable(f"no Pacemaker schemas in {directory} "
                                "(install the Debian package pacemaker-common)")
    name = validate_with.casefold()
    if name == NEXT:
        return (NEXT,)
    if name in _ALIASES_OF_FIRST:
        return versions
    if name not in versions:
        return None
    start = versions.index(name)
    latest_major = versions[-1].split("-")[1].split(".")[0]
    if name.split("-")[1].split(".")[0] == latest_major:
        return (name,)
    return versions[start:]


def validate(tree: etree._Element | etree._ElementTree, *, source: str = "<cib>",
             directory: Path = SCHEMA_DIR) -> list[Report]:
    """Every schema problem of a CIB as reports (empty when valid or validation is off).

    Args:
        tree: the <cib> element (or its document).
        source: the file name used in report locations.
        directory: where the pacemaker-*.rng files are.

    Raises:
        SchemaUnavailable: the schema files are not installed.
    """
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    validate_with = root.get("validate-with")
    if validate_with is None or validate_with.casefold() == NONE:
        return []
    names = _candidates(validate_with, directory)
    if names is None:
        return [Report("unknown-schema",
                       f"validate-with={validate_with!r} names no schema Pacemaker knows "
                       f"(known: {known_versions(directory)[0]} .. "
                       f"{known_versions(directory)[-1]}, {NEXT}, {NONE})",
                       location=Location(source, _line(root), "/cib"))]
    first_failure: list[Report] | None = None
    for name in names:
        schema = _compiled(directory / f"{name}.rng")
        if schema.validate(root):
            return []
        if first_failure is None:
            first_failure = _reports(schema, name, source, root)
    return first_failure or []


def check(tree: etree._Element | etree._ElementTree, *, source: str = "<cib>",
          directory: Path = SCHEMA_DIR) -> None:
    """Raise ValidationError (exit 78, like Pacemaker) unless the CIB passes its schema."""
    reports = validate(tree, source=source, directory=directory)
    if reports:
        first = reports[0]
        more = f" (and {len(reports) - 1} more)" if len(reports) > 1 else ""
        raise ValidationError(f"CIB does not validate: {first.message}{more}",
                              tuple(reports), location=first.location)


def _line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) and line > 0 else None


_IDREF = re.compile(r'IDREF attribute (\S+) references an unknown ID "(.*)"')
MAX_REPORTS = 50


def _element_at(root: etree._Element, path: str | None, message: str) -> etree._Element | None:
    """The element an error is about: by its path, or (IDREF errors carry none) by the
    attribute holding the unknown id."""
    try:
        if path:
            found = root.xpath(path)
        else:
            match = _IDREF.search(message)
            if match is None:
                return None
            found = root.xpath(f"//*[@{match.group(1)}=$value]", value=match.group(2))
    except etree.XPathError:
        return None
    first = found[0] if isinstance(found, list) and found else None
    return first if isinstance(first, etree._Element) else None


def _label(element: etree._Element | None, path: str) -> str:
    if element is None:
        return path
    ident = element.get("id")
    return f"<{element.tag} id={ident!r}>" if ident else f"<{element.tag}> at {path}"


def _reports(schema: etree.RelaxNG, name: str, source: str,
             root: etree._Element) -> list[Report]:
    reports: list[Report] = []
    seen: set[tuple[int, str]] = set()
    for entry in schema.error_log:
        if (entry.line, entry.message) in seen or len(reports) >= MAX_REPORTS:
            continue
        seen.add((entry.line, entry.message))
        element = _element_at(root, entry.path, entry.message)
        line = entry.line if entry.line > 0 else (_line(element) if element is not None
                                                   else None)
        reports.append(Report("schema-violation", f"{entry.message} ({name})",
                              location=Location(source, line, _label(element, entry.path))))
    return reports
