"""The CIB operations as pure functions: a request and the current tree in, an outcome out.

Invariants: the current tree is never changed; a failed operation raises one of cib.errors
and nothing is half-applied; a successful write returns the new tree, the v2 patchset that
takes the old tree to it (with the version bump inside) and whether the configuration
changed. Version rules are Pacemaker's cib_perform_op: no change keeps the version, a
configuration change bumps epoch and zeroes num_updates, any other change bumps num_updates;
admin_epoch or epoch may not go backwards; ``name++`` values are expanded; the result of a
change outside the status section must validate against its validate-with schema (exit 78
otherwise; a write that changed nothing keeps the tree it was given, unchecked).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from lxml import etree

from cib import model
from cib.errors import NoSuchObject, OldUpdate, SchemaViolation, Unsafe
from cib.request import Author, Op, Outcome, Request
from cib.xmlio import Element, element_text

Validator = Callable[[Element], None]


def schema_validator(cib: Element) -> None:
    """Check `cib` against its validate-with schema; SchemaViolation (78) when it fails.

    The message names every element libxml2 complained about, by path, with its complaint.
    """
    from messaging import schema  # lazy: compiling schemas is only needed when validating

    reports = schema.validate(cib)
    if reports:
        details = "; ".join(f"{report.location.element or '/cib'}: {report.message}"
                            for report in reports[:6])
        more = f" (and {len(reports) - 6} more)" if len(reports) > 6 else ""
        raise SchemaViolation(f"schema errors: {details}{more}",
                              tuple(reports))


def perform(cib: Element, request: Request, validate: Validator = schema_validator,
            written: str | None = None, author: Author | None = None,
            spare: Element | None = None) -> Outcome:
    """Carry out `request` on `cib` (see the module docstring for the rules). `written` is
    the cib-last-written text a configuration change stamps on the root (None: keep it,
    as in file mode), `author` who asked (recorded along with `written`). `spare`: a tree
    equal to `cib` that the caller gives up, which a write may change into its result
    instead of copying `cib` (cib.ops_write.write)."""
    if request.op is Op.QUERY:
        return _query(cib, request)
    return _write(cib, request, validate, written, author, spare)


def _require_force(request: Request) -> None:
    """Erase, upgrade and a delete of every match are refused without --force (cibadmin's rule)."""
    risky = request.op in (Op.ERASE, Op.UPGRADE) or (request.op is Op.DELETE and request.multiple)
    if risky and not request.force:
        raise Unsafe("--force is required")


def _write(cib: Element, request: Request, validate: Validator,
           written_at: str | None = None, author: Author | None = None,
           spare: Element | None = None) -> Outcome:
    # Imported here so that a query (cibadmin -Q) does not load the write machinery.
    from cib.diff import config_changed, create_patchset, keys_unique, restamp_root
    from cib.ops_write import Quiet, Replaced, write

    _require_force(request)
    written = write(cib, request, spare)
    quiet = isinstance(written, Quiet)
    removed = written.path if isinstance(written, Replaced) else None
    scratch = written if isinstance(written, etree._Element) else written.tree
    _check_not_backwards(cib, scratch)
    touched = getattr(written, "touched", None)  # where a modify's changes all lie
    if request.data is None or b"+" in etree.tostring(request.data):
        # a ``name++`` comes in with the request (Pacemaker expands it in the object it
        # updates): with none in the data, a scan of every attribute of the tree is spared
        model.fix_plus_plus(scratch)
        touched = None  # the scan may change attributes anywhere
    first = create_patchset(cib, scratch, touched=touched)
    if (first is not None and _tracked(request) and not keys_unique(cib)
            and _same_text(cib, scratch)):
        # Pacemaker tracks changes as they are made; a comparison of two trees with
        # duplicate ids sees moves where nothing moved, so an untouched tree is no change.
        first = None
    patch, configuration = None, False
    reach = None if first is None else _reach(first)  # before `first` becomes the patch
    if first is not None or removed is not None:
        configuration = first is not None and config_changed(first) and not quiet
        configuration = configuration or "/cib/configuration" in (removed or "")
        model.manage_counters(scratch, configuration)
        if configuration and written_at is not None:
            # Pacemaker's cib_perform_op stamps the time of every configuration change
            # (crm_mon's "Last change:"), inside the change so replicas get it in the diff
            scratch.set("cib-last-written", written_at)
            if author is not None:
                model.stamp_author(scratch, author.origin, author.client, author.user)
        # the counters and stamp changed only the root's attributes: the diff found above
        # needs its root change redone, not a second walk of both trees
        patch = (create_patchset(cib, scratch) if first is None
                 else restamp_root(first, cib, scratch))
    if first is not None or removed is not None:
        # A write that changed nothing leaves the tree it was given (returned as it was):
        # validating it again (seconds on a 2 MB CIB, for each of crmd's unchanged
        # have-quorum/dc-uuid writes of a join) cannot refuse anything the CIB now holds.
        _validate_change(scratch, reach, validate)
    return Outcome(scratch if patch is not None else cib, patch=patch,
                   config_changed=configuration)



def _tracked(request: Request) -> bool:
    """Whether Pacemaker records this operation's changes as it makes them (rather than by
    comparing a new document with the old one, as for a whole replace, bump, erase, patch
    or upgrade)."""
    if request.op in (Op.CREATE, Op.MODIFY, Op.DELETE):
        return True
    return request.op is Op.REPLACE and request.data is not None and request.data.tag != "cib"


# What a change can make invalid, from the narrowest: nothing (inside the status section),
# the root's own attributes, anything.
_STATUS, _ROOT, _WHOLE = 0, 1, 2
# Every schema from pacemaker-1.2 on (and pacemaker-next) takes the root's attributes from
# the same definitions (cib-1.2.rng, versions.rng); pacemaker-1.0 and its aliases do not.
_SHARED_ROOT = re.compile(r"^pacemaker-(?:(?:[2-9]|\d{2,})\.\d+|1\.[2-9]|next)$",
                          re.IGNORECASE)


def _reach(patch: Element) -> int:
    """How much of the tree the changes of `patch` can make invalid. Pacemaker's schemas
    let the status section hold anything (status-1.0.rng), so a change inside it keeps the
    result valid exactly when the tree before was; the version attributes the counters
    change next are plain integers the tree before had valid too. A change of the root's
    attributes other than validate-with (which picks the schema of everything) touches
    only what the root's attribute definitions check."""
    from cib.diff import changes

    reach = _STATUS
    for change in changes(patch):
        path, operation = change.get("path") or "", change.get("operation")
        if path.startswith("/cib/status/") or (
                path == "/cib/status" and operation in ("modify", "create")):
            continue
        if path == "/cib" and operation == "modify" and not any(
                item.get("name") == "validate-with" for item in change.iter("change-attr")):
            reach = _ROOT
            continue
        return _WHOLE
    return reach


def _validate_change(scratch: Element, reach: int | None, validate: Validator) -> None:
    """Validate what the change can have made invalid (`reach`; None: everything). A change
    of the root's attributes is checked on the root alone, with the least configuration
    the schemas take; when that fails the whole tree is checked, so that the refusal says
    exactly what a whole check says."""
    if reach == _STATUS:
        return
    if reach == _ROOT and _SHARED_ROOT.match(scratch.get("validate-with") or ""):
        try:
            validate(_root_alone(scratch))
            return
        except SchemaViolation:
            pass
    _validate_without_status(scratch, validate)


def _validate_without_status(cib: Element, validate: Validator) -> None:
    """`validate(cib)` with the status section's content set aside meanwhile (put back
    whatever the verdict). Every Pacemaker schema takes any content in the optional status
    element (status-1.0.rng: any element, attribute or text, nothing typed as an ID), so
    the verdict and its reports are the whole tree's, while libxml2 no longer walks the
    node histories that make up most of a running cluster's CIB (bench/cib_write_cpu.py's
    181 KB CIB, 3 nodes' histories of 100 resources: 0.5 ms instead of 1.5 at best, about
    1 ms less per configuration write at the median)."""
    status = cib.find("status")
    if status is None or len(status) == 0:
        validate(cib)
        return
    empty = etree.Element("status", {str(k): str(v) for k, v in status.attrib.items()})
    cib.replace(status, empty)
    try:
        validate(cib)
    finally:
        cib.replace(empty, status)


def _root_alone(cib: Element) -> Element:
    root = _shallow(cib)
    configuration = etree.SubElement(root, "configuration")
    for section in ("crm_config", "nodes", "resources", "constraints"):
        etree.SubElement(configuration, section)
    return root


def _same_text(old: Element, new: Element) -> bool:
    return element_text(old, pretty=False) == element_text(new, pretty=False)


def _check_not_backwards(old: Element, new: Element) -> None:
    before, after = model.version_of(old), model.version_of(new)
    if after.admin_epoch < before.admin_epoch or (
            after.admin_epoch == before.admin_epoch and after.epoch < before.epoch):
        raise OldUpdate(f"the version would go back from {before} to {after}")


def _xpath_matches(cib: Element, xpath: str) -> list[Element]:
    try:
        found = cib.xpath(xpath)
    except (etree.XPathError, ValueError):
        return []
    if not isinstance(found, list):
        return []
    return [node for node in found if isinstance(node, etree._Element)
            and isinstance(node.tag, str)]


def _shallow(node: Element) -> Element:
    copied = etree.Element(str(node.tag))
    for name, value in node.attrib.items():
        copied.set(name, value)
    return copied


def _address(node: Element) -> str:
    parts = []
    current: Element | None = node
    while current is not None:
        ident = current.get("id")
        parts.append(f"{current.tag}[@id='{ident}']" if ident is not None else str(current.tag))
        current = current.getparent()
    return "/" + "/".join(reversed(parts))


def _query(cib: Element, request: Request) -> Outcome:
    if request.xpath is not None:
        return _query_xpath(cib, request)
    section = model.find_section(cib, request.scope)
    if section is None:
        raise NoSuchObject(f"the CIB has no {request.scope} section")
    output = _shallow(section) if request.no_children else copy.deepcopy(section)
    return Outcome(cib, output=output)


def _query_xpath(cib: Element, request: Request) -> Outcome:
    assert request.xpath is not None
    matches = _xpath_matches(cib, request.xpath)
    if not matches:
        raise NoSuchObject(f"nothing matches the xpath {request.xpath}")
    if request.no_children:
        copies = [_shallow(node) for node in matches]
    elif request.node_path:
        return Outcome(cib, paths=tuple(_address(node) for node in matches))
    else:
        copies = [copy.deepcopy(node) for node in matches]
    if len(copies) == 1:
        return Outcome(cib, output=copies[0])
    wrapper = etree.Element("xpath-query")
    wrapper.extend(copies)
    return Outcome(cib, output=wrapper)


__all__ = ["Op", "Outcome", "Request", "perform", "schema_validator"]
