"""Shrink a disagreeing CIB: `python -m tests.differential.shrink SEED [-o FILE] [--scores]`.

Greedy delta debugging over the XML: remove one element at a time (constraints, resources,
group members, histories, history entries, attributes, node states) and keep the removal when
Pacemaker still produces a summary and ours still disagrees with it. Repeats until a whole pass
removes nothing. The result is the regression case to keep (with Pacemaker's summary).
With `--scores` the disagreement kept is in the compared score lines (`-s`, compare.score_kind).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from tests.differential.compare import norm, pacemaker, score_kind, summary_lines
from tests.differential.generate import generate

REMOVABLE = (
    "//constraints/*", "//resource_set/resource_ref", "//resources/*", "//group/primitive",
    "//lrm_resource", "//lrm_rsc_op", "//nvpair", "//node_state", "//rsc_defaults",
    "//operations", "//utilization", "//meta_attributes", "//transient_attributes",
)


def disagrees(xml: str) -> tuple[str, ...] | None:
    """Pacemaker's summary when ours differs from it, else None (also None if Pacemaker fails)."""
    from pengine.api import schedule

    with tempfile.TemporaryDirectory(prefix="pengine-shrink-") as tmp:
        path = Path(tmp) / "cib.xml"
        path.write_text(xml)
        out = pacemaker(path, tmp, "-S")
    if "Transition Summary:" not in out:
        return None
    expected = summary_lines(out)
    try:
        got = schedule(xml).summary
    except Exception:
        return expected
    return None if norm(expected) == norm(got) else expected


def scores_disagree(xml: str) -> tuple[str, ...] | None:
    """Pacemaker's compared score lines when ours differ from them, else None."""
    from pengine.api import schedule

    with tempfile.TemporaryDirectory(prefix="pengine-shrink-") as tmp:
        path = Path(tmp) / "cib.xml"
        path.write_text(xml)
        out = pacemaker(path, tmp, "-s")
    theirs = score_lines(out)
    if not theirs:
        return None
    try:
        mine = score_lines("\n".join(schedule(xml).scores))
    except Exception:
        return theirs
    return None if set(theirs) == set(mine) else theirs


def score_lines(text: str) -> tuple[str, ...]:
    """The compared score lines of a `-s` output (the ones our engine prints)."""
    return tuple(line for line in text.splitlines() if score_kind(line) is not None)


def shrink(xml: str, disagrees: Callable[[str], tuple[str, ...] | None] = disagrees) -> str:
    root = etree.fromstring(xml.encode())
    changed = True
    while changed:
        changed = False
        for path in REMOVABLE:
            index = 0
            while index < len(root.xpath(path)):
                element = root.xpath(path)[index]
                parent = element.getparent()
                position = parent.index(element)
                parent.remove(element)
                if disagrees(etree.tostring(root).decode()) is not None:
                    changed = True
                    continue
                parent.insert(position, element)
                index += 1
    return etree.tostring(root, pretty_print=True).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", type=int)
    parser.add_argument("-o", "--output")
    parser.add_argument("--scores", action="store_true")
    args = parser.parse_args(argv)
    xml = generate(args.seed).xml
    predicate = scores_disagree if args.scores else disagrees
    if predicate(xml) is None:
        print(f"seed {args.seed} agrees with Pacemaker", file=sys.stderr)
        return 1
    small = shrink(xml, predicate)
    if args.output:
        Path(args.output).write_text(small)
    else:
        print(small)
    from pengine.api import schedule

    got = schedule(small).scores if args.scores else schedule(small).summary
    print("expected:\n" + "\n".join(predicate(small) or ()), file=sys.stderr)
    print("got:\n" + "\n".join(score_lines("\n".join(got)) if args.scores else got),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
