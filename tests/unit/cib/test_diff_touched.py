"""A modify's patchset made knowing where its changes lie (`create_patchset(touched=...)`,
the element cib.ops_write merged into or copied in) is the patchset of the whole
comparison, which test_diff_oracle holds to crm_diff's text.

Updates are drawn from the scheduler corpus's CIBs: an element with an id anywhere
(configuration or status) is modified with changed, new and nested attributes and
children, or a new element is created under the section, through the same writer
`cibadmin -M` uses.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from cib.diff import create_patchset
from cib.ops_write import write
from cib.request import Op, Request
from cib.xmlio import element_text, parse

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "scheduler" / "xml"
SECTIONS = ("status", "resources", "constraints", "crm_config", "nodes")


def _corpus(count: int) -> list[Path]:
    files = sorted(CORPUS.glob("*.xml")) if CORPUS.is_dir() else []
    return random.Random(11).sample(files, min(count, len(files)))


def _update(cib: etree._Element, rng: random.Random) -> tuple[etree._Element, str] | None:
    """A modify's data and scope: a copy of an element with an id, changed."""
    section = cib.find(f".//{rng.choice(SECTIONS)}")
    if section is None:
        return None
    candidates = [node for node in section.iter() if isinstance(node.tag, str)
                  and node.get("id") is not None and node is not section]
    if not candidates or rng.random() < 0.15:
        data = etree.Element("node_state" if section.tag == "status" else "primitive",
                             id=f"new{rng.randrange(1000)}")
        data.set("class", "ocf")
        return data, str(section.tag)
    target = rng.choice(candidates)
    data = etree.Element(str(target.tag), id=str(target.get("id")))
    for name in rng.sample(list(target.attrib), min(len(target.attrib), 2)):
        if name != "id":
            data.set(name, f"changed{rng.randrange(3)}")
    data.set(f"extra{rng.randrange(2)}", "1")
    children = [child for child in target if isinstance(child.tag, str)]
    if children and rng.random() < 0.5:
        child = rng.choice(children)
        copy = etree.SubElement(data, str(child.tag))
        for name, value in child.attrib.items():
            copy.set(name, value)
        copy.set("touched", str(rng.randrange(2)))
    if rng.random() < 0.3:
        etree.SubElement(data, "lrm_rsc_op" if section.tag == "status" else "meta_attributes",
                         id=f"added{rng.randrange(100)}")
    return data, str(section.tag)


@pytest.mark.parametrize("path", _corpus(60), ids=lambda path: path.stem)
def test_a_modify_diffed_from_its_touched_element_gives_the_whole_comparison(
        path: Path) -> None:
    cib = parse(path.read_bytes())
    rng = random.Random(path.stem)
    compared = 0
    for _ in range(20):
        drawn = _update(cib, rng)
        if drawn is None:
            continue
        data, scope = drawn
        written = write(cib, Request(Op.MODIFY, data, scope, allow_create=True))
        touched = getattr(written, "touched", None)
        assert touched is not None
        whole = create_patchset(cib, written.tree)  # type: ignore[union-attr]
        hinted = create_patchset(cib, written.tree, touched=touched)  # type: ignore[union-attr]
        assert (None if hinted is None else element_text(hinted)) == (
            None if whole is None else element_text(whole))
        compared += whole is not None
        cib = written.tree  # type: ignore[union-attr]
    assert compared > 0
