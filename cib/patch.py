"""Applying a Pacemaker patchset (what `cibadmin --patch` and replicas do with a diff);
format 2 here, format 1 (old feature sets) in cib.patch_v1.

Invariants: the input tree is never changed (work happens on a copy that is returned),
unless the caller asks for the change in place: then with an `UndoLog`, whose `rollback`
restores the tree exactly (c14n-identical, whitespace included) whatever was applied or
refused, so a refused patch (or record of patches) leaves nothing half-applied;
with `check_version` the patch's source version must equal the tree's exactly and its target
must raise some field, else `PatchOld` (source below, or nothing raised) or `PatchGap`
(source above: this copy missed updates and needs a full resync); a change naming a node the
tree lacks, or a result whose digest differs from the patch's `digest`, raises `PatchFailed`.
The order is Pacemaker's: deletions and modifications in patch order (moved nodes parked
last), then creations and moves sorted by position. A malformed position is read as
Pacemaker reads it (`_position`), never raised as a ValueError: a create goes last, a move
raises `PatchFailed`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from cib.diff import VERSION_FIELDS
from cib.errors import InvalidArgument, PatchFailed, PatchGap, PatchOld
from cib.patch_v1 import apply_v1, v1_version_holders
from cib.xmlio import Element, is_comment, versioned_digest

_SEGMENT = re.compile(r"^([^\[]+)(?:\[@id='([^']*)'\])?")


def _int_field(node: Element | None, name: str) -> int | None:
    if node is None:
        return None
    value = node.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return -1


def version_of(cib: Element) -> tuple[int, int, int]:
    """(admin_epoch, epoch, num_updates) with absent or negative fields as 0."""
    found = (_int_field(cib, name) for name in VERSION_FIELDS)
    return tuple(max(value or 0, 0) for value in found)  # type: ignore[return-value]


def patch_versions(patch: Element, current: tuple[int, int, int]) -> tuple[
        tuple[int, int, int], tuple[int, int, int]]:
    """(source, target) versions a patch declares; missing fields default like Pacemaker's."""
    source = list(current)
    target = [current[0], current[1], current[2] + 1]
    if patch.get("format", "1") == "1":
        holders = v1_version_holders(patch)
    else:
        version = patch.find("version")
        holders = (None, None) if version is None else (version.find("source"),
                                                          version.find("target"))
    if holders != (None, None):
        for index, name in enumerate(VERSION_FIELDS):
            old = _int_field(holders[0], name)
            new = _int_field(holders[1], name)
            if old is not None:
                source[index] = old
            if new is not None:
                target[index] = new
    return (source[0], source[1], source[2]), (target[0], target[1], target[2])


def check_version(cib: Element, patch: Element) -> None:
    """Raise unless `patch` starts at `cib`'s version and moves it forward."""
    current = version_of(cib)
    source, target = patch_versions(patch, current)
    for have, start in zip(current, source, strict=True):
        if have < start:
            raise PatchGap(f"patch starts at {_dotted(source)}, the CIB is at {_dotted(current)}")
        if have > start:
            raise PatchOld(f"patch starts at {_dotted(source)}, the CIB is already at "
                           f"{_dotted(current)}")
    if not any(new > old for new, old in zip(target, source, strict=True)):
        raise PatchOld(f"patch does not raise the version {_dotted(source)}")


def _dotted(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def _find(root: Element, path: str, position: int) -> Element | None:
    """Pacemaker's search_v2_xpath: walk /tag[@id='x'] segments from the document."""
    segments = [piece for piece in path.split("/") if piece] if path.startswith("/") else []
    if not segments:
        return None
    current: Element | None = None
    for index, segment in enumerate(segments):
        found = _SEGMENT.match(segment)
        if found is None:
            return None
        tag, ident = found.group(1), found.group(2)
        last = index == len(segments) - 1
        candidates = [root] if current is None else list(current)
        current = _first_match(candidates, tag, ident, position if last else -1)
        if current is None:
            return None
    return current


def _first_match(nodes: list[Element], tag: str, ident: str | None,
                 position: int) -> Element | None:
    """The first node `tag` (with id `ident`) names. A position picks among comments only:
    Debian's cibadmin --patch deletes the first matching element whatever the delete's
    position says, and a comment (path .../comment) only at that position."""
    for offset, node in enumerate(nodes):
        if is_comment(node):
            if tag == "comment" and (position < 0 or offset == position):
                return node
            continue
        if node.tag == tag and (ident is None or node.get("id") == ident):
            return node
    return None


class UndoLog:
    """The changes an in-place application made, each recorded as it is made (so also
    those of a patch that then fails), undone newest first: each undo step finds the tree
    exactly as its change left it. Costs what the patch touches, not the tree's size."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], None]] = []

    def detaching(self, node: Element) -> None:
        """`node` is about to be removed or moved: put it back at its place."""
        parent = node.getparent()
        if parent is None:
            return
        index = parent.index(node)

        def restore() -> None:
            _detach(node)  # a moved node: from where the move put it
            parent.insert(index, node)  # lxml carries the node's tail text with it

        self._steps.append(restore)

    def attributes(self, node: Element) -> None:
        """`node`'s attributes are about to change: restore them, in their order."""
        saved = list(node.attrib.items())

        def restore() -> None:
            node.attrib.clear()
            for name, value in saved:
                node.set(name, value)

        self._steps.append(restore)

    def added(self, node: Element) -> None:
        """`node` was just inserted: take it out again."""
        self._steps.append(lambda: _detach(node))

    def rollback(self) -> None:
        while self._steps:
            self._steps.pop()()


def _detach(node: Element) -> None:
    parent = node.getparent()
    if parent is not None:
        parent.remove(node)


def apply_patchset(cib: Element, patch: Element, check: bool = True,
                   in_place: bool = False, undo: UndoLog | None = None) -> Element:
    """A copy of `cib` with `patch` applied (see the module docstring for the rules); with
    `in_place`, `cib` itself, left half-patched if this raises (for a caller that then
    throws it away); with `undo`, `cib` itself with every change recorded in `undo`, so
    that its rollback restores `cib` even after this raises (a format-1 patch, of old
    feature sets, is applied to a copy then, leaving `cib` as it was)."""
    patch_format = patch.get("format", "1")
    if patch_format not in ("1", "2"):
        # Pacemaker refuses an unknown format as an invalid argument (cibadmin exits 70)
        raise InvalidArgument(f"unsupported patch format {patch_format!r}")
    if check:
        check_version(cib, patch)
    v2_in_place = undo is not None and patch_format == "2"
    result = cib if in_place or v2_in_place else copy.deepcopy(cib)
    if patch_format == "1":
        apply_v1(result, patch)
        _check_digest(result, patch)
        return result
    delayed: list[tuple[Element, Element]] = []
    log = undo if undo is not None else _NO_UNDO
    for change in patch:
        _apply_first_pass(result, change, delayed, log)
    delayed.sort(key=lambda item: _position(item[0], 0))
    for change, match in delayed:
        _apply_delayed(change, match, log)
    _check_digest(result, patch)
    return result


def _check_digest(result: Element, patch: Element) -> None:
    digest = patch.get("digest")
    if digest is not None:
        computed = versioned_digest(result, result.get("crm_feature_set"))
        if computed.lower() != digest.lower():
            raise PatchFailed(f"digest after the patch is {computed}, the patch says {digest}")


class _NoUndo(UndoLog):
    """What a copy being patched records: nothing (the original is the undo)."""

    def detaching(self, node: Element) -> None:
        pass

    def attributes(self, node: Element) -> None:
        pass

    def added(self, node: Element) -> None:
        pass


_NO_UNDO = _NoUndo()


def _apply_first_pass(root: Element, change: Element, delayed: list[tuple[Element, Element]],
                      log: UndoLog) -> None:
    operation = change.get("operation")
    if operation is None or change.tag != "change":
        return
    path = change.get("path") or ""
    position = _position(change, -1) if operation == "delete" else -1
    match = _find(root, path, position)
    if match is None:
        if operation == "delete":
            return
        raise PatchFailed(f"no {operation} target {path} in the CIB")
    if operation in ("create", "move"):
        delayed.append((change, match))
        parent = match.getparent()
        if operation == "move" and parent is not None:
            log.detaching(match)
            parent.append(match)  # parked last until the moves are placed
    elif operation == "delete":
        parent = match.getparent()
        if parent is None:
            raise PatchFailed("a patch cannot delete the CIB root")
        log.detaching(match)
        parent.remove(match)
    elif operation == "modify":
        result = change.find("change-result")
        if result is None or len(result) == 0:
            raise PatchFailed(f"modify of {path} has no change-result")
        log.attributes(match)
        match.attrib.clear()
        for name, value in result[0].attrib.items():
            match.set(name, value)
    else:
        raise PatchFailed(f"unknown patch operation {operation!r}")


_LEADING_INTEGER = re.compile(r"\s*[+-]?[0-9]+")
_INT_RANGE = range(-(2**31), 2**31)


def _position(change: Element, absent: int) -> int:
    """A change's position as Pacemaker's patch code reads it (crm_element_value_int):
    `absent` without the attribute, else its leading integer (trailing text ignored), and
    -1 when it starts with no digits or leaves a C int's range. Debian's cibadmin --patch
    applies a create at position "abc", "" or "-5" last and one at "1x" at 1, and
    refuses a move to any of the negative ones ("Application of update diff failed")."""
    text = change.get("position")
    if text is None:
        return absent
    found = _LEADING_INTEGER.match(text)
    value = int(found.group()) if found is not None else -1
    return value if value in _INT_RANGE else -1


def _apply_delayed(change: Element, match: Element, log: UndoLog) -> None:
    position = _position(change, 0)
    if change.get("operation") == "create":
        if len(change) == 0:
            raise PatchFailed(f"create under {change.get('path')} carries no element")
        child = copy.deepcopy(change[0])
        if 0 <= position < len(match):
            match[position].addprevious(child)
        else:
            match.append(child)
        log.added(child)
        return
    parent = match.getparent()
    if parent is None:
        raise PatchFailed("a patch cannot move the CIB root")
    if position < 0:
        raise PatchFailed(f"could not move {change.get('path')} to position "
                          f"{change.get('position')!r}")
    current = parent.index(match)
    if position != current:
        log.detaching(match)
        target = position + 1 if position > current else position
        if target < len(parent):
            parent[target].addprevious(match)
        else:
            parent.append(match)
    if parent.index(match) != position:
        raise PatchFailed(f"could not move {change.get('path')} to position {position}")
