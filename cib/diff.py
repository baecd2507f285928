"""Pacemaker's v2 patchset: generate one between two CIB trees and apply one to a tree.

The generator reproduces Pacemaker's change detection (children matched by tag and id, or
the first child of the same tag when there is no id; attributes whose position shifted are
reported as set; moves decided by positions that skip already-moved nodes), so a patch we
make is the patch `crm_diff` makes for the same pair of files, change for change.

Applying a patchset is cib.patch's business. Inputs are never changed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from cib.xmlio import Element, attributes, is_comment

VERSION_FIELDS = ("admin_epoch", "epoch", "num_updates")


def _is_element(node: Element) -> bool:
    return isinstance(node.tag, str)


def _segment(node: Element) -> str:
    if not _is_element(node):  # crm_diff names a comment ".../comment" (plus a position)
        return "comment"
    ident = node.get("id")
    return f"{node.tag}[@id='{ident}']" if ident is not None else str(node.tag)


def element_path(node: Element) -> str:
    """Pacemaker's path of an element: /cib/configuration/resources/primitive[@id='x']."""
    parts = []
    current: Element | None = node
    while current is not None:
        parts.append(_segment(current))
        current = current.getparent()
    return "/" + "/".join(reversed(parts))


class _Siblings:
    """One parent's children, indexed once: (tag, id) lookups in O(1) and positions that
    leave out skipped siblings in O(log n) (a Fenwick tree of "not skipped" flags). A CIB
    section can hold tens of thousands of siblings; scanning them per child made a diff
    quadratic."""

    def __init__(self, parent: Element, skip: set[int]) -> None:
        self.children = list(parent)  # keeps the proxies, so their id()s stay valid
        self.order = {id(child): index for index, child in enumerate(self.children)}
        self.by_id: dict[tuple[str, str], Element] = {}
        self.first_of_tag: dict[str, Element] = {}
        for child in self.children:
            if _is_element(child):
                self.first_of_tag.setdefault(str(child.tag), child)
                ident = child.get("id")
                if ident is not None:
                    self.by_id.setdefault((str(child.tag), ident), child)
        self.counted = [id(child) not in skip for child in self.children]
        self.tree = [0] * (len(self.children) + 1)
        for index, counted in enumerate(self.counted):
            if counted:
                self._add(index, 1)

    def _add(self, index: int, delta: int) -> None:
        index += 1
        while index < len(self.tree):
            self.tree[index] += delta
            index += index & -index

    def position(self, node: Element) -> int:
        """How many siblings before `node` are not skipped."""
        index, total = self.order[id(node)], 0
        while index > 0:
            total += self.tree[index]
            index -= index & -index
        return total

    def skipped(self, node: Element) -> None:
        index = self.order[id(node)]
        if self.counted[index]:
            self.counted[index] = False
            self._add(index, -1)


def _match_element(siblings: _Siblings, needle: Element) -> Element | None:
    """The first child of the same tag (and the same id, when the needle has one)."""
    ident = needle.get("id")
    if ident is None:
        return siblings.first_of_tag.get(str(needle.tag))
    return siblings.by_id.get((str(needle.tag), ident))


@dataclass
class _Marks:
    """The flags Pacemaker keeps on nodes while comparing, kept beside the trees instead."""

    skip: set[int] = field(default_factory=set)
    processed: set[int] = field(default_factory=set)
    created: set[int] = field(default_factory=set)
    moved: set[int] = field(default_factory=set)
    attr_changes: dict[int, list[tuple[str, str | None]]] = field(default_factory=dict)
    deleted: list[tuple[str, int]] = field(default_factory=list)
    keep: list[Element] = field(default_factory=list)
    siblings: dict[int, _Siblings] = field(default_factory=dict)
    same: set[int] = field(default_factory=set)  # new subtrees found identical, not walked
    above: set[int] = field(default_factory=set)  # the touched element's ancestors
    path: set[int] = field(default_factory=set)  # those and the touched element

    def flag(self, flags: set[int], node: Element) -> None:
        self.keep.append(node)  # an id() stays valid only while its proxy lives
        flags.add(id(node))
        if flags is self.skip:
            parent = node.getparent()
            if parent is not None and id(parent) in self.siblings:
                self.siblings[id(parent)].skipped(node)

    def children_of(self, parent: Element) -> _Siblings:
        found = self.siblings.get(id(parent))
        if found is None:
            self.keep.append(parent)
            found = self.siblings[id(parent)] = _Siblings(parent, self.skip)
        return found

    def position(self, node: Element) -> int:
        """Pacemaker's position of `node` among its siblings, skipped ones left out."""
        parent = node.getparent()
        return 0 if parent is None else self.children_of(parent).position(node)


def _match(parent: Element, needle: Element, marks: _Marks) -> Element | None:
    if _is_element(needle):
        return _match_element(marks.children_of(parent), needle)
    return _match_comment(parent, needle, marks)


def _match_comment(parent: Element, needle: Element, marks: _Marks) -> Element | None:
    wanted = marks.position(needle)
    for child in parent:
        offset = marks.position(child)
        if offset < wanted or id(child) in marks.skip:
            continue
        if offset > wanted:
            return None
        same = (is_comment(child)
                and (child.text or "").lower() == (needle.text or "").lower())
        return child if same else None
    return None


def _attribute_position(names: list[str], name: str, skipped: set[str]) -> int:
    return sum(1 for other in names[: names.index(name)] if other not in skipped)


def _diff_attributes(old: Element, new: Element, marks: _Marks) -> None:
    if old.attrib.items() == new.attrib.items():  # same names, values and order: no change
        return
    old_names = [name for name, _ in attributes(old)]
    new_names = [name for name, _ in attributes(new)]
    skip_old: set[str] = set()
    skip_new: set[str] = set()
    dirty: set[str] = set()
    deleted: list[str] = []
    for name in old_names:
        if name not in new.attrib:
            deleted.append(name)
            continue
        if new.get(name) != old.get(name):
            dirty.add(name)
            continue
        p_new = _attribute_position(new_names, name, skip_new)
        p_old = _attribute_position(old_names, name, skip_old)
        if p_new != p_old:
            dirty.add(name)
            (skip_old if p_old > p_new else skip_new).add(name)
    changes: list[tuple[str, str | None]] = [
        (name, value) for name, value in attributes(new)
        if name in dirty or name not in old.attrib
    ]
    changes.extend((name, None) for name in deleted)
    if changes:
        marks.keep.append(new)
        marks.attr_changes[id(new)] = changes


# Elements with two element children or more, their children's ids, whether a child has
# none: found by libxml2 in C (a Python walk over the elements of a 2 MB CIB took 0.1 s,
# and the diff asks this of every unchanged section it meets)
_CROWDED = etree.XPath("descendant-or-self::*[*[2]]")
_CHILD_IDS = etree.XPath("*/@id", smart_strings=False)
_SOME_CHILD_WITHOUT_ID = etree.XPath("boolean(*[not(@id)])")


def keys_unique(root: Element) -> bool:
    """Whether every element below `root` matches exactly its own counterpart in a copy:
    no two siblings share a tag and id, and no id-less element shares its tag with a
    sibling (it would match the first of that tag)."""
    crowded: list[Element] = _CROWDED(root)  # type: ignore[assignment]
    for parent in crowded:
        ids: list[str] = _CHILD_IDS(parent)  # type: ignore[assignment]
        if not _SOME_CHILD_WITHOUT_ID(parent) and len(set(ids)) == len(ids):
            continue  # distinct ids: distinct keys whatever the tags
        if not _children_keys_unique(parent):
            return False
    return True


def _children_keys_unique(parent: Element) -> bool:
    keys = [(child.tag, child.get("id")) for child in parent if _is_element(child)]
    if len(set(keys)) != len(keys):
        return False
    tags = [tag for tag, _ in keys]
    return not any(ident is None and tags.count(tag) > 1 for tag, ident in keys)


# A node with at most this many children is compared child by child, never printed whole:
# printing it costs what printing its children costs, and on the path from the root to a
# change (the root, configuration, status, a section, ...) every such print was wasted,
# about four prints of the whole CIB per write
FEW_CHILDREN = 16


def _identical(old: Element, new: Element) -> bool:
    """Whether comparing the two subtrees would find nothing: the same text (libxml2's
    printing, in C) and keys that match each node with its copy. Asked only of a node with
    more than `FEW_CHILDREN` children (a False answer costs two prints of the subtree)."""
    if len(old) <= FEW_CHILDREN or len(old) != len(new) \
            or old.attrib.items() != new.attrib.items():
        return False
    if etree.tostring(old) != etree.tostring(new):
        return False
    return keys_unique(old)


def _mark_changes(old: Element, new: Element, marks: _Marks) -> None:
    if id(new) in marks.processed:
        return
    marks.flag(marks.processed, new)
    if _identical(old, new):
        marks.flag(marks.same, new)
        return
    if _is_element(new):
        _diff_attributes(old, new, marks)
    beside = id(new) in marks.above  # a child off the path is known unchanged
    for old_child in list(old):
        new_child = _match(new, old_child, marks)
        if new_child is not None and beside and id(new_child) not in marks.path:
            marks.flag(marks.processed, new_child)
            marks.flag(marks.same, new_child)
        elif new_child is not None:
            _mark_changes(old_child, new_child, marks)
        else:
            path = element_path(new) + "/" + _segment(old_child)
            comment = not _is_element(old_child)
            marks.deleted.append((path, marks.position(old_child) if comment else -1))
            marks.flag(marks.skip, old_child)
    for new_child in list(new):
        former = _match(old, new_child, marks)
        if former is None:
            marks.flag(marks.skip, new_child)
            marks.flag(marks.created, new_child)
            continue
        p_new = marks.position(new_child)
        p_old = marks.position(former)
        if p_new != p_old:
            marks.flag(marks.moved, new_child)
            marks.flag(marks.skip, former if p_old > p_new else new_child)


def _version_element(parent: Element, tag: str, cib: Element) -> None:
    node = etree.SubElement(parent, tag)
    for name in VERSION_FIELDS:
        node.set(name, cib.get(name) or "1")


def _emit(node: Element, patch: Element, marks: _Marks) -> None:
    parent = node.getparent()
    if id(node) in marks.created and parent is not None:
        change = etree.SubElement(patch, "change", operation="create",
                                  path=element_path(parent),
                                  position=str(parent.index(node)))
        change.append(copy.deepcopy(node))
        return
    _emit_modify(node, patch, marks)
    if id(node) not in marks.same:  # nothing changed below an identical subtree
        for child in node:
            _emit(child, patch, marks)
    if id(node) in marks.moved and parent is not None:
        etree.SubElement(patch, "change", operation="move", path=element_path(node),
                         position=str(parent.index(node)))


def _emit_modify(node: Element, patch: Element, marks: _Marks) -> None:
    """The change setting and unsetting `node`'s attributes, if any."""
    changes = marks.attr_changes.get(id(node))
    if not changes:
        return
    change = etree.SubElement(patch, "change", operation="modify", path=element_path(node))
    listing = etree.SubElement(change, "change-list")
    for name, value in changes:
        if value is None:
            etree.SubElement(listing, "change-attr", name=name, operation="unset")
        else:
            etree.SubElement(listing, "change-attr", name=name, operation="set", value=value)
    result = etree.SubElement(etree.SubElement(change, "change-result"), str(node.tag))
    for name, value in attributes(node):
        result.set(name, value)


def restamp_root(patch: Element, old: Element, new: Element) -> Element:
    """`patch`, made by `create_patchset(old, earlier)` where `earlier` differed from `new`
    only in the root's attributes (the version counters and the change stamp written after
    the change was found), brought up to `new`: the target version and the root's modify
    change recomputed, the rest kept. Changed in place and returned; what
    `create_patchset(old, new)` gives, without comparing the two whole trees a second time
    (a CIB of megabytes takes a tenth of a second per comparison)."""
    for element in patch.iter("target"):
        for name in VERSION_FIELDS:
            element.set(name, new.get(name) or "1")
    index = next((place for place, child in enumerate(patch)  # after the deletions
                  if child.tag == "change" and child.get("operation") != "delete"), len(patch))
    if (index < len(patch) and patch[index].get("operation") == "modify"
            and patch[index].get("path") == element_path(new)):
        patch.remove(patch[index])  # the root's own change always comes first (_emit)
    marks = _Marks()
    _diff_attributes(old, new, marks)
    fresh = etree.Element("diff")
    _emit_modify(new, fresh, marks)
    for offset, change in enumerate(fresh):
        patch.insert(index + offset, change)
    return patch


def has_changes(old: Element, new: Element) -> bool:
    """Whether Pacemaker would see any change between the two trees."""
    return create_patchset(old, new) is not None


def create_patchset(old: Element, new: Element, with_version: bool = True,
                    touched: Element | None = None) -> Element | None:
    """The v2 patchset taking `old` to `new`, or None when they do not differ.

    Args:
        old: the tree before; not changed.
        new: the tree after; not changed.
        with_version: include the <version> source/target element (crm_diff -u leaves it out).
        touched: an element of `new` outside whose subtree nothing changed but the
            attributes of its ancestors and their lists of children (a modify's merge
            target, cib.ops_write): the other children of its ancestors are taken as
            unchanged, not compared (a status update to a 16-node CIB compared ~100
            elements, 60 % of the master's CPU per write). The patch is the same.
    """
    marks = _Marks()
    if touched is not None:
        marks.flag(marks.path, touched)
        for node in touched.iterancestors():
            marks.flag(marks.path, node)
            marks.flag(marks.above, node)
    _mark_changes(old, new, marks)
    if not (marks.deleted or marks.created or marks.moved or marks.attr_changes):
        return None
    patch = etree.Element("diff", format="2")
    if with_version:
        version = etree.SubElement(patch, "version")
        _version_element(version, "source", old)
        _version_element(version, "target", new)
    for path, position in marks.deleted:
        change = etree.SubElement(patch, "change", operation="delete", path=path)
        if position >= 0:
            change.set("position", str(position))
    _emit(new, patch, marks)
    return patch


def config_changed(patch: Element) -> bool:
    """Whether a patchset touches the configuration section (bumps epoch, not num_updates)."""
    for change in patch.iter("change"):
        path = change.get("path") or ""
        if "/cib/configuration" in path:
            return True
        if change.get("operation") == "create" and path == "/cib" and any(
                child.tag == "configuration" for child in change):
            return True
    return False


def changes(patch: Element) -> Iterator[Element]:
    """The <change> elements of a patchset, in order."""
    return (child for child in patch if child.tag == "change")

