"""Conformance runner: schedule() against Pacemaker 2.1.5's scheduler corpus.

Usage: python -m pengine.conformance [--corpus DIR] [--only NAME] [--write-ratchet] [-v]
       [--whole-diff]

For every copied case it compares, whitespace-insensitively:
- our Transition Summary with the one in summary/NAME.summary (same lines, same order);
- our whole `crm_simulate -x xml/NAME.xml -S [extra args]` output with the whole of
  summary/NAME.summary (status, summary, executed actions, revised status), run in-process
  through `pengine.cli.run` as the command would;
- our allocation-score lines with every line of scores/NAME.scores (as multisets), and
  separately with its `pcmk__primitive_assign` lines.
It prints a per-feature table (summary, whole -S output, cases with all score lines), the
overall figures and the 250-case "core" figure (cases with none of the features in
COLLECTIVE_FEATURES). The ratchets list the cases whose summary (passing.txt) and whole -S
output (whole_passing.txt) match. This module does I/O; the engine does not.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import difflib
import io
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from messaging.errors import HAError
from pengine.api import schedule
from pengine.cli import Options, run
from pengine.rules import parse_iso

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared/conformance/scheduler"
RATCHET = Path(__file__).resolve().parent.parent / "tests/conformance/passing.txt"
WHOLE_RATCHET = RATCHET.with_name("whole_passing.txt")
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
    whole_passed: bool = False
    all_scores_total: int = 0
    all_scores_matched: int = 0
    whole_expected: tuple[str, ...] = ()
    whole_got: tuple[str, ...] = ()
    all_scores_passed: bool = False  # the same lines, none missing and none extra


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


def whole_output(xml_path: Path, extra: str) -> tuple[str, ...]:
    """What `crm_simulate -x XML -S [extra]` prints, run in-process (stderr first).

    Only the corpus's one extra argument (-t DATE) is understood.
    """
    date = extra[3:].strip() if extra.startswith("-t ") else None
    options = Options(str(xml_path), False, False, True, False, False, None, None, None, None,
                      date, False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run(options)
        except HAError as exc:
            print(f"error: {exc}")
    # the summaries hold both streams; stderr (unbuffered) comes first
    lines = [line for line in (err.getvalue() + out.getvalue()).splitlines() if line.strip()]
    if date is not None and lines and lines[0].startswith("Setting effective cluster time"):
        # upstream made the summaries without -t: the only difference is this first line
        lines = lines[1:]
    return tuple(lines)


def _multiset_match(expected: list[str], got: tuple[str, ...]) -> tuple[int, bool]:
    """How many expected lines we print, and whether we print exactly those lines."""
    theirs, ours = Counter(expected), Counter(line for line in got if line.strip())
    return sum((theirs & ours).values()), theirs == ours


def run_case(corpus: Path, name: str, features: frozenset[str], extra: str) -> CaseResult:
    xml_path = corpus / "xml" / f"{name}.xml"
    summary_text = (corpus / "summary" / f"{name}.summary").read_text()
    expected = expected_summary(summary_text)
    all_scores = [line for line in (corpus / "scores" / f"{name}.scores").read_text().splitlines()
                  if line.strip()]
    exp_scores = {line for line in all_scores if line.startswith("pcmk__primitive_assign:")}
    whole_expected = tuple(line for line in summary_text.splitlines() if line.strip())
    whole_got = whole_output(xml_path, extra)
    got: tuple[str, ...] = ()
    got_scores: tuple[str, ...] = ()
    error = None
    try:
        transition = schedule(xml_path.read_bytes(), case_now(extra), default_now=CORPUS_NOW)
        got, got_scores = transition.summary, transition.scores
    except HAError as exc:
        error = str(exc)
    except Exception as exc:  # one broken case must not stop the run
        error = f"{type(exc).__name__}: {exc}"
    primitive = {line for line in got_scores if line.startswith("pcmk__primitive_assign:")}
    matched, same = _multiset_match(all_scores, got_scores)
    return CaseResult(name, features, error is None and _norm(expected) == _norm(got),
                      len(exp_scores), len(exp_scores & primitive), error, expected, got,
                      _norm(whole_expected) == _norm(whole_got), len(all_scores), matched,
                      whole_expected, whole_got, error is None and same)


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


def _share(flags: list[bool]) -> str:
    return f"{sum(flags):>6}{100 * sum(flags) / (len(flags) or 1):>6.1f}%"


def _row(label: str, results: list[CaseResult]) -> str:
    return (f"{label:<22}{len(results):>6}{_share([r.passed for r in results])}"
            f"{_share([r.whole_passed for r in results])}"
            f"{_share([r.all_scores_passed for r in results])}")


def report(results: list[CaseResult]) -> str:
    """The per-feature table (cases passing each comparison) and the overall line counts."""
    per: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        for f in r.features:
            per[f].append(r)
    out = [f"{'feature':<22}{'cases':>6}{'summary':>13}{'whole -S':>13}{'all scores':>13}"]
    out += [_row(feature, rs) for feature, rs in sorted(per.items(), key=lambda kv: -len(kv[1]))]
    out.append(_row("OVERALL", results))
    core = [r for r in results if not (r.features & COLLECTIVE_FEATURES)]
    if core:
        out.append(_row("CORE (no collectives)", core))
    out.append(_lines_figure("primitive_assign score lines",
                             [(r.scores_matched, r.scores_total) for r in results]))
    out.append(_lines_figure("all score lines", [(r.all_scores_matched, r.all_scores_total)
                                                 for r in results]))
    return "\n".join(out)


def _lines_figure(label: str, counts: list[tuple[int, int]]) -> str:
    matched = sum(m for m, _ in counts)
    total = sum(t for _, t in counts)
    full = sum(1 for m, t in counts if t and m == t)
    return (f"{label} matched: {matched}/{total} ({100 * matched / (total or 1):.1f}%); "
            f"cases with all lines matching: {full}")


def _show_failure(r: CaseResult, summary: bool, whole: bool) -> None:
    if summary and not r.passed:
        print(f"--- {r.name} {sorted(r.features)}" + (f" ERROR {r.error}" if r.error else ""))
        print("expected:\n" + "\n".join(r.expected))
        print("got:\n" + "\n".join(r.got))
    if whole and not r.whole_passed:
        print(f"--- {r.name}: whole -S output (expected, ours)")
        print("\n".join(difflib.unified_diff(
            [" ".join(line.split()) for line in r.whole_expected],
            [" ".join(line.split()) for line in r.whole_got], "pacemaker", "ours",
            lineterm="", n=1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--only")
    parser.add_argument("--write-ratchet", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show each failing summary")
    parser.add_argument("--whole-diff", action="store_true",
                        help="show a diff of each failing whole -S output")
    args = parser.parse_args(argv)
    if not (args.corpus / "MANIFEST.tsv").is_file():
        print(f"{args.corpus}: no MANIFEST.tsv (not a conformance corpus)", file=sys.stderr)
        return 66
    results = run_all(args.corpus, args.only)
    for r in results:
        if args.verbose or args.whole_diff:
            _show_failure(r, args.verbose, args.whole_diff)
    print(report(results))
    if args.write_ratchet:
        RATCHET.write_text("".join(f"{r.name}\n" for r in results if r.passed))
        WHOLE_RATCHET.write_text("".join(f"{r.name}\n" for r in results if r.whole_passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
