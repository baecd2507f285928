"""Which resources a constraint names: resource ids, tags and resource sets.

Pacemaker resolves a constraint's references in two steps. A tag named by a plain
attribute (rsc, with-rsc, first, then) becomes a non-sequential set of the tag's
references, whatever they are (pcmk__tag_to_set). In resource sets, tags are expanded in
place (pcmk__expand_tags_in_sets), but only when every reference of every set, the
expanded ones included, is a resource or a tag: one that is neither leaves every set as
written, tags unexpanded. Each reference is then looked up on its own
(EXPAND_CONSTRAINT_IDREF), and the first one that is no resource (a tag left unexpanded
counts) ends the loop reading it: what the loop made before stays.

Invariants: pure over the configuration; a reference list keeps the document order and
holds None where the lookup fails.
"""

from __future__ import annotations

import itertools

from pengine.xmlin import Element

Refs = list[str | None]


def attribute_refs(rid: str | None, known: set[str],
                   tags: dict[str, list[str]]) -> tuple[Refs, bool]:
    """A plain attribute's references, and whether it named a tag."""
    if not rid:
        return [], False
    if rid in known:
        return [rid], False
    if rid in tags:
        return [r if r in known else None for r in tags[rid]], True
    return [], False


def set_refs(el: Element, known: set[str], tags: dict[str, list[str]]) -> list[Refs]:
    """Each resource_set's references, tags expanded unless a reference is unknown."""
    written = [[ref.get("id") or "" for ref in rset.findall("resource_ref")]
               for rset in el.findall("resource_set")]
    expanded: list[Refs] = []
    for ids in written:
        out: Refs = []
        if not all(_expand_into(rid, known, tags, out, frozenset()) for rid in ids):
            return [[r if r in known else None for r in refs] for refs in written]
        expanded.append(out)
    return expanded


def _expand_into(rid: str, known: set[str], tags: dict[str, list[str]], out: Refs,
                 seen: frozenset[str]) -> bool:
    if rid in known:
        out.append(rid)
        return True
    if rid not in tags or rid in seen:
        return False
    return all(_expand_into(r, known, tags, out, seen | {rid}) for r in tags[rid])


def prefix(refs: Refs) -> list[str]:
    """The references a loop reads before its first failed lookup."""
    return [r for r in itertools.takewhile(lambda r: r is not None, refs) if r is not None]


def complete(refs: Refs) -> bool:
    return None not in refs
