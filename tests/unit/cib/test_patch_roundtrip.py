"""A patchset replays exactly: applying create_patchset(old, new) to old gives new, for
random trees (what replication relies on: a replica's digest after a diff is the master's)."""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cib.diff import create_patchset
from cib.errors import PatchFailed
from cib.patch import UndoLog, apply_patchset
from cib.xmlio import element_text

TAGS = ["primitive", "group", "nvpair", "op", "rule"]


def _tree(rng: random.Random, counter: list[int]) -> etree._Element:
    root = etree.Element("cib", epoch="1", num_updates="0", admin_epoch="0")
    nodes = [root]
    for _ in range(rng.randint(1, 12)):
        parent = rng.choice(nodes)
        counter[0] += 1
        child = etree.SubElement(parent, rng.choice(TAGS), id=f"i{counter[0]}")
        for name in rng.sample(["a", "b", "c", "d"], rng.randint(0, 3)):
            child.set(name, str(rng.randrange(3)))
        nodes.append(child)
    return root


def _mutate(tree: etree._Element, rng: random.Random, counter: list[int]) -> etree._Element:
    new = copy.deepcopy(tree)
    for _ in range(rng.randint(1, 5)):
        nodes = list(new.iter())
        node = rng.choice(nodes)
        parent = node.getparent()
        roll = rng.random()
        if roll < 0.25:
            node.set(rng.choice("abcd"), str(rng.randrange(3)))
        elif roll < 0.4 and any(name != "id" for name in node.attrib):
            del node.attrib[rng.choice([name for name in node.attrib if name != "id"])]
        elif roll < 0.55 and parent is not None:
            parent.remove(node)
        elif roll < 0.75 and parent is not None and len(parent) > 1:
            parent.remove(node)
            parent.insert(rng.randrange(len(parent) + 1), node)
        else:
            counter[0] += 1
            etree.SubElement(node, rng.choice(TAGS), id=f"i{counter[0]}", a="1")
            if len(node) > 1:
                last = node[-1]
                node.insert(rng.randrange(len(node)), last)
    new.set("epoch", "2")
    return new


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32))
def test_applying_the_patchset_reproduces_the_new_tree(seed: int) -> None:
    rng, counter = random.Random(seed), [0]
    old = _tree(rng, counter)
    new = _mutate(old, rng, counter)
    patch = create_patchset(old, new)
    assert patch is not None
    assert element_text(apply_patchset(old, patch)) == element_text(new)


def _c14n(tree: etree._Element) -> bytes:
    return etree.tostring(tree, method="c14n")


def _indented(tree: etree._Element) -> etree._Element:
    """`tree` with whitespace between elements, so tail texts must survive an undo too."""
    etree.indent(tree)
    return tree


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32))
def test_in_place_with_undo_gives_the_copy_paths_result_and_rolls_back(seed: int) -> None:
    rng, counter = random.Random(seed), [0]
    old = _indented(_tree(rng, counter))
    new = _mutate(old, rng, counter)
    patch = create_patchset(old, new)
    assert patch is not None
    before = _c14n(old)
    copied = apply_patchset(old, patch)
    undo = UndoLog()
    live = copy.deepcopy(old)
    assert apply_patchset(live, patch, undo=undo) is live
    assert _c14n(live) == _c14n(copied)
    undo.rollback()
    assert _c14n(live) == before


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32))
def test_a_refused_patch_leaves_the_live_tree_as_it_was(seed: int) -> None:
    """Refused after its changes (a digest that differs) or part way (a change whose target
    is gone): nothing half-applied once the undo log is rolled back."""
    rng, counter = random.Random(seed), [0]
    old = _indented(_tree(rng, counter))
    patch = create_patchset(old, _mutate(old, rng, counter))
    assert patch is not None
    before = _c14n(old)
    if rng.random() < 0.5:
        patch.set("digest", "0" * 32)
    else:
        gone = etree.SubElement(patch, "change", operation="modify", path="/cib/none[@id='x']")
        etree.SubElement(etree.SubElement(gone, "change-result"), "none", id="x")
    undo = UndoLog()
    with pytest.raises(PatchFailed):
        apply_patchset(old, patch, undo=undo)
    undo.rollback()
    assert _c14n(old) == before


@pytest.mark.parametrize("change", [
    '<change operation="delete" path="/cib"/>',
    '<change operation="create" path="/cib" position="0"/>',
    '<change operation="move" path="/cib" position="0"/>',
    '<change operation="modify" path="/cib/configuration"/>',
    '<change operation="frobnicate" path="/cib/configuration"/>',
])
def test_each_refused_change_kind_after_applied_ones_is_undone(change: str) -> None:
    """Every kind of change applied (delete, move, modify, create), then one refused."""
    old = etree.fromstring(
        '<cib epoch="1" num_updates="0" admin_epoch="0">\n  <configuration>\n'
        '    <resources><primitive id="a" x="1"/><primitive id="b"/><primitive id="c"/>'
        '</resources>\n    <constraints><rsc_order id="o"/></constraints>\n'
        '  </configuration>\n  <status/>\n</cib>')
    before = _c14n(old)
    patch = etree.fromstring(
        '<diff format="2"><version><source admin_epoch="0" epoch="1" num_updates="0"/>'
        '<target admin_epoch="0" epoch="2" num_updates="0"/></version>'
        '<change operation="delete" path="/cib/configuration/constraints/rsc_order[@id=\'o\']"'
        ' position="0"/>'
        '<change operation="move" path="/cib/configuration/resources/primitive[@id=\'a\']"'
        ' position="2"/>'
        '<change operation="modify" path="/cib/configuration/resources/primitive[@id=\'b\']">'
        '<change-list/><change-result><primitive id="b" y="2"/></change-result></change>'
        '<change operation="create" path="/cib/status" position="0"><node_state id="1"/>'
        f'</change>{change}</diff>')
    undo = UndoLog()
    with pytest.raises(PatchFailed):
        apply_patchset(old, patch, undo=undo)
    undo.rollback()
    assert _c14n(old) == before
