"""Conformance runner: schedule() against Pacemaker 2.1.5's scheduler corpus.

Usage: python -m pengine.conformance [--corpus DIR] [--only NAME] [--write-ratchet] [-v]

For every copied case it compares our Transition Summary with summary/NAME.summary
(whitespace-insensitive, same lines in the same order) and our
`pcmk__primitive_assign` score lines with the same lines of scores/NAME.scores (only
those lines are compared: group/clone/promotion lines are not produced yet). It prints a
per-feature pass table, the overall figure and the 250-case "core" figure (cases with
none of the features in COLLECTIVE_FEATURES). This module does I/O; the engine does not.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from messaging.errors import HAError
from pengine.api import schedule
from pengine.rules import parse_iso

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared/conformance/scheduler"
RATCHET = Path(__file__).resolve().parent.parent / "tests/conformance/passing.txt"
COLLECTIVE_FEATURES = frozenset(
    {"clone", "promotable", "utilization", "migration", "resource_set", "notifications"})
# crm_simulate without -t uses the wall clock; we use a fixed date so runs are repeatable.
CORPUS_NOW = datetime.datetime(2022, 12, 8, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class CaseResult:
    name: str
    features: frozenset[str]
    passed: bool
    scores_total: int
    scores_matched: int
    error: str | None
    expected: tuple[str, ...]
    got: tuple[str, ...]


def expected_summary(text: str) -> tuple[str, ...]:
    lines = text.splitlines()
    try:
        start = lines.index("Transition Summary:") + 1
    except ValueError:
        return ()
    out = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("Executing") or not line.startswith(" "):
            break
        out.append(line)
    return tuple(out)


def _norm(lines: tuple[str, ...]) -> list[str]:
    return ["".join(line.split()) for line in lines]


def case_now(extra: str) -> datetime.datetime | None:
    if extra.startswith("-t "):
        return parse_iso(extra[3:].strip())
    return None


def run_case(corpus: Path, name: str, features: frozenset[str], extra: str) -> CaseResult:
    xml = (corpus / "xml" / f"{name}.xml").read_bytes()
    expected = expected_summary((corpus / "summary" / f"{name}.summary").read_text())
    exp_scores = {line for line in (corpus / "scores" / f"{name}.scores").read_text().splitlines()
                  if line.startswith("pcmk__primitive_assign:")}
    try:
        transition = schedule(xml, case_now(extra), default_now=CORPUS_NOW)
    except HAError as exc:
        return CaseResult(name, features, False, len(exp_scores), 0, str(exc), expected, ())
    except Exception as exc:
        return CaseResult(name, features, False, len(exp_scores), 0,
                          f"{type(exc).__name__}: {exc}", expected, ())
    got_scores = {line for line in transition.scores if line.startswith("pcmk__primitive_assign:")}
    passed = _norm(expected) == _norm(transition.summary)
    return CaseResult(name, features, passed, len(exp_scores), len(exp_scores & got_scores),
                      None, expected, transition.summary)


def load_manifest(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "MANIFEST.tsv").open() as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["copied"] == "yes"]


def run_all(corpus: Path, only: str | None = None) -> list[CaseResult]:
    results = []
    for row in load_manifest(corpus):
        if only and row["name"] != only:
            continue
        features = frozenset(f for f in row["features"].split(",") if f)
        results.append(run_case(corpus, row["name"], features, row["extra_crm_simulate_args"]))
    return results


def report(results: list[CaseResult]) -> str:
    per: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        for f in r.features:
            per[f].append(r.passed)
    out = [f"{'feature':<22}{'pass':>6}{'total':>7}{'%':>7}"]
    for feature, flags in sorted(per.items(), key=lambda kv: -len(kv[1])):
        share = 100 * sum(flags) / len(flags)
        out.append(f"{feature:<22}{sum(flags):>6}{len(flags):>7}{share:>6.1f}%")
    core = [r for r in results if not (r.features & COLLECTIVE_FEATURES)]
    total = len(results) or 1
    out.append(f"{'OVERALL':<22}{sum(r.passed for r in results):>6}{len(results):>7}"
               f"{100 * sum(r.passed for r in results) / total:>6.1f}%")
    if core:
        out.append(f"{'CORE (no collectives)':<22}{sum(r.passed for r in core):>6}{len(core):>7}"
                   f"{100 * sum(r.passed for r in core) / len(core):>6.1f}%")
    lines_total = sum(r.scores_total for r in results) or 1
    lines_ok = sum(r.scores_matched for r in results)
    full = sum(1 for r in results if r.scores_total and r.scores_matched == r.scores_total)
    out.append(f"primitive_assign score lines matched: {lines_ok}/{lines_total} "
               f"({100 * lines_ok / lines_total:.1f}%); cases with all lines matching: {full}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--only")
    parser.add_argument("--write-ratchet", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if not (args.corpus / "MANIFEST.tsv").is_file():
        print(f"{args.corpus}: no MANIFEST.tsv (not a conformance corpus)", file=sys.stderr)
        return 66
    results = run_all(args.corpus, args.only)
    for r in results:
        if args.verbose and not r.passed:
            print(f"--- {r.name} {sorted(r.features)}" + (f" ERROR {r.error}" if r.error else ""))
            print("expected:\n" + "\n".join(r.expected))
            print("got:\n" + "\n".join(r.got))
    print(report(results))
    if args.write_ratchet:
        RATCHET.write_text("".join(f"{r.name}\n" for r in results if r.passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
