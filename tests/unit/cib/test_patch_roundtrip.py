"""A patchset replays exactly: applying create_patchset(old, new) to old gives new, for
random trees (what replication relies on: a replica's digest after a diff is the master's)."""

from __future__ import annotations

import copy
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cib.diff import create_patchset
from cib.patch import apply_patchset
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
