"""`cibadmin --upgrade`: move a CIB to the newest schema it validates with (Pacemaker's
update_validation with transformation).

Invariants: the input tree is never changed; the walk starts at the CIB's validate-with and
moves one schema at a time while the CIB validates, running Pacemaker's XSLT upgrade where a
major version ends (upgrade-1.3.xsl, upgrade-2.10.xsl) unless the CIB already validates with
the next major version, and keeping a transform only if its result validates;
pacemaker-next is never chosen. When the schema moved, admin_epoch goes up by one and epoch
and num_updates restart at 1, as Pacemaker does; when it did not, the CIB is returned
unchanged.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from lxml import etree

from cib import model
from cib.xmlio import Element, strip_text

_TRANSFORMS = {"pacemaker-1.3": "upgrade-1.3.xsl", "pacemaker-2.10": "upgrade-2.10.xsl"}


@functools.cache
def _schema(directory: Path, name: str) -> etree.RelaxNG:
    return etree.RelaxNG(file=str(directory / f"{name}.rng"))


@functools.cache
def _transform(directory: Path, name: str) -> etree.XSLT:
    return etree.XSLT(etree.parse(str(directory / name)))


def _valid(tree: Element, directory: Path, name: str) -> bool:
    return bool(_schema(directory, name).validate(tree))


def upgrade_cib(cib: Element) -> Element:
    """The CIB moved to the newest schema it can reach (see the module docstring)."""
    from messaging import schema

    directory = schema.SCHEMA_DIR
    versions = list(schema.known_versions(directory))
    current = (cib.get("validate-with") or "").lower()
    index = versions.index(current) if current in versions else 0
    tree = copy.deepcopy(cib)
    best: int | None = None
    while index < len(versions):
        name = versions[index]
        if not _valid(tree, directory, name):
            break
        best = index
        transform = _TRANSFORMS.get(name)
        if transform is None or index + 1 >= len(versions) or _valid(
                tree, directory, versions[index + 1]):
            index += 1  # no transform needed: Pacemaker skips it when already valid
            continue
        converted = _apply(tree, directory, transform)
        if converted is None or not _valid(converted, directory, versions[index + 1]):
            break
        tree, index = converted, index + 1
    if best is None or versions[best] == current:
        return cib
    tree.set("validate-with", versions[best])
    model.bump_counter(tree, "admin_epoch")
    model.bump_counter(tree, "epoch", reset=True)
    model.bump_counter(tree, "num_updates", reset=True)
    return tree


def _apply(tree: Element, directory: Path, transform: str) -> Element | None:
    try:
        result = _transform(directory, transform)(tree).getroot()
    except (etree.XSLTError, OSError):
        return None
    if result is None:
        return None
    strip_text(result)
    return result
