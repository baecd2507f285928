"""Our patchsets and digests against Pacemaker's crm_diff and cibadmin -5/-6 on the same files.

Pairs of CIBs come from corpus files and seeded mutations of them (attributes set, changed
and removed, children deleted, inserted and reordered); the patch text must be crm_diff's,
character for character, and applying crm_diff's patch with ours must give the tree
crm_diff --patch gives.
"""

from __future__ import annotations

import copy
import random
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from cib.diff import create_patchset
from cib.patch import apply_patchset
from cib.xmlio import element_text, on_disk_digest, parse, versioned_digest
from tests.oracle import pacemaker_tool

CRM_DIFF = pacemaker_tool("crm_diff")
CIBADMIN = pacemaker_tool("cibadmin")
CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "scheduler" / "xml"
pytestmark = [pytest.mark.oracle,
              pytest.mark.skipif(CRM_DIFF is None or CIBADMIN is None,
                                 reason="Debian's crm_diff/cibadmin not installed")]


def _modern_corpus(count: int) -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = [path for path in sorted(CORPUS.glob("*.xml")) if _makes_v2(path)]
    return random.Random(4).sample(files, min(count, len(files)))


def _makes_v2(path: Path) -> bool:
    """crm_diff writes format 2 only when the old CIB's feature set is above 3.0.8."""
    found = parse(path.read_bytes()[:2000] + b"</cib>").get("crm_feature_set") or "0"
    parts = tuple(int(piece) if piece.isdigit() else 0 for piece in found.split("."))
    return parts > (3, 0, 8)


def _mutate(cib: etree._Element, rng: random.Random) -> etree._Element:
    new = copy.deepcopy(cib)
    elements = [node for node in new.iter() if isinstance(node.tag, str) and node is not new]
    for _ in range(rng.randint(1, 6)):
        node = rng.choice(elements)
        parent = node.getparent()
        action = rng.random()
        if action < 0.3:
            node.set(f"gen{rng.randrange(3)}", str(rng.randrange(5)))
        elif action < 0.45 and node.attrib:
            del node.attrib[rng.choice(list(node.attrib))]
        elif action < 0.6 and node.attrib:
            name = rng.choice(list(node.attrib))
            value = node.attrib[name]
            del node.attrib[name]
            node.set(name, value)  # same value, new position
        elif action < 0.75 and parent is not None and parent is not new:
            parent.remove(node)
            elements = [n for n in new.iter() if isinstance(n.tag, str) and n is not new]
        elif action < 0.9 and parent is not None and len(parent) > 1:
            parent.remove(node)
            parent.insert(rng.randrange(len(parent) + 1), node)
        else:
            etree.SubElement(node, "nvpair", id=f"new{rng.randrange(999)}", name="x", value="1")
            elements = [n for n in new.iter() if isinstance(n.tag, str) and n is not new]
    return new


def _crm_diff(*args: str) -> str:
    return subprocess.run([CRM_DIFF or "", *args], capture_output=True, check=False).stdout.decode()


@pytest.mark.parametrize("path", _modern_corpus(12), ids=lambda path: path.name)
def test_patchset_matches_crm_diff(path: Path, tmp_path: Path) -> None:
    old = parse(path.read_bytes())
    rng = random.Random(path.name)
    (tmp_path / "old.xml").write_text(element_text(old))
    for round_number in range(4):
        new = _mutate(old, rng)
        (tmp_path / "new.xml").write_text(element_text(new))
        theirs = _crm_diff("-o", str(tmp_path / "old.xml"), "-n", str(tmp_path / "new.xml"))
        ours = create_patchset(old, new)
        assert (element_text(ours) if ours is not None else "") == theirs, round_number
        if ours is None:
            continue
        (tmp_path / "patch.xml").write_text(theirs)
        applied = _crm_diff("-o", str(tmp_path / "old.xml"), "-p", str(tmp_path / "patch.xml"))
        if applied:
            mine = apply_patchset(old, parse(theirs), check=False)
            assert element_text(mine) == applied


@pytest.mark.parametrize("path", _modern_corpus(30), ids=lambda path: path.name)
def test_digests_match_cibadmin(path: Path) -> None:
    cib = parse(path.read_bytes())
    on_disk = subprocess.run([CIBADMIN or "", "-5", "-x", str(path)], capture_output=True,
                             check=False).stdout.decode().strip()
    versioned = subprocess.run([CIBADMIN or "", "-6", "-x", str(path)], capture_output=True,
                               check=False).stdout.decode().strip()
    assert on_disk_digest(cib) == on_disk
    assert versioned_digest(cib, cib.get("crm_feature_set")) == versioned
