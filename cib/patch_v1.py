"""Applying a format-1 patchset (crm_diff's output for CIBs whose feature set is 3.0.8 or
older): a <diff-removed> tree and a <diff-added> tree over the CIB.

Invariants, as Pacemaker's apply_v1_patchset: removals first (an element marked
``removed:top`` goes, otherwise every attribute the patch names except id is removed, and
children are matched by tag and id), then additions (``added:top`` elements are appended
to their parent, attributes are set again at the end of the element's attribute list),
then every ``__crm_diff_marker__`` is dropped. Works in place on the tree it is given (the
caller passes a copy).
"""

from __future__ import annotations

import copy

from cib.errors import PatchFailed
from cib.xmlio import Element, attributes

MARKER = "__crm_diff_marker__"


def _elements(node: Element) -> list[Element]:
    return [child for child in node if isinstance(child.tag, str)]


def _match(parent: Element, needle: Element) -> Element | None:
    ident = needle.get("id")
    for child in _elements(parent):
        if child.tag == needle.tag and (ident is None or child.get("id") == ident):
            return child
    return None


def _same(target: Element, patch: Element) -> bool:
    return (str(target.tag).lower() == str(patch.tag).lower()
            and (target.get("id") or "").lower() == (patch.get("id") or "").lower())


def _remove(target: Element, patch: Element | None) -> None:
    if patch is None or not _same(target, patch):
        return
    if patch.get(MARKER) == "removed:top":
        parent = target.getparent()
        if parent is not None:
            parent.remove(target)
        return
    for name, _ in attributes(patch):
        if name.lower() != "id" and name in target.attrib:
            del target.attrib[name]
    for child in _elements(target):
        _remove(child, _match(patch, child))


def _add(parent: Element | None, target: Element | None, patch: Element) -> None:
    if target is None:
        if parent is not None and patch.get(MARKER) == "added:top":
            parent.append(copy.deepcopy(patch))
        return
    if not _same(target, patch):
        return
    for name, value in attributes(patch):
        if name in target.attrib:
            del target.attrib[name]
        target.set(name, value)
    for child in _elements(patch):
        _add(target, _match(target, child), child)


def apply_v1(cib: Element, patch: Element) -> None:
    """Apply a format-1 patchset to `cib` in place; more than one change set raises."""
    for section, apply in (("diff-removed", "remove"), ("diff-added", "add")):
        holder = patch.find(section)
        roots = _elements(holder) if holder is not None else []
        if len(roots) > 1:
            raise PatchFailed(f"{section} holds {len(roots)} change sets; one is allowed")
        if roots and apply == "remove":
            _remove(cib, roots[0])
        elif roots:
            _add(None, cib, roots[0])
    for node in cib.iter():
        if isinstance(node.tag, str) and MARKER in node.attrib:
            del node.attrib[MARKER]


def v1_version_holders(patch: Element) -> tuple[Element | None, Element | None]:
    """Where a format-1 patch keeps its source and target versions (the <cib> under each
    half when present, else the half itself)."""
    holders = []
    for section in ("diff-removed", "diff-added"):
        half = patch.find(section)
        inner = half.find("cib") if half is not None else None
        holders.append(inner if inner is not None else half)
    return holders[0], holders[1]
