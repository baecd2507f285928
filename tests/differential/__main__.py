"""Differential runner: `python -m tests.differential [--count N] [--start S] [--scores] [--full]`.

Generates CIBs for seeds start..start+count-1 (`--profile wide`: with tests/differential/
gen_wide.py's additions), compares each with Debian's crm_simulate
(tests/differential/compare.py) and prints the disagreeing seeds and a per-feature table:
feature -> CIBs using it -> Transition Summary agreement (and, when asked, allocation-score
and whole `-S` output agreement). `--show N` prints expected/got for the first N failures;
`--save FILE` writes one line per seed (seed, ok flags, features) for later comparison.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

from tests.differential.compare import Outcome, compare
from tests.differential.gen_wide import generate_wide
from tests.differential.generate import generate


def _one(args: tuple[int, bool, bool, str]) -> tuple[Outcome, frozenset[str]]:
    seed, scores, full, profile = args
    cib = generate_wide(seed) if profile == "wide" else generate(seed)
    return compare(seed, cib.xml, scores=scores, full=full), cib.features


def _rate(flags: list[bool | None]) -> str:
    known = [f for f in flags if f is not None]
    if not known:
        return "-"
    return f"{100 * sum(known) / len(known):5.1f}%"


def table(results: list[tuple[Outcome, frozenset[str]]]) -> str:
    per: dict[str, list[Outcome]] = defaultdict(list)
    for outcome, features in results:
        for feature in features:
            per[feature].append(outcome)
        per["ALL"].append(outcome)
    out = [f"{'feature':<28}{'CIBs':>6}{'summary':>9}{'scores':>9}{'-S out':>9}"]
    for feature, outs in sorted(per.items(), key=lambda kv: (kv[0] != "ALL", -len(kv[1]))):
        out.append(f"{feature:<28}{len(outs):>6}{_rate([o.summary_ok for o in outs]):>9}"
                   f"{_rate([o.scores_ok for o in outs]):>9}{_rate([o.full_ok for o in outs]):>9}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--seed", type=int, action="append", default=[])
    parser.add_argument("--scores", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--show", type=int, default=0)
    parser.add_argument("--save")
    parser.add_argument("--profile", choices=("default", "wide"), default="default",
                        help="wide: add the semantics of tests/differential/gen_wide.py")
    args = parser.parse_args(argv)
    seeds = args.seed or list(range(args.start, args.start + args.count))
    work = [(seed, args.scores, args.full, args.profile) for seed in seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_one, work, chunksize=4))
    failures = [o for o, _ in results if not o.summary_ok]
    for outcome in failures[:args.show]:
        print(f"--- seed {outcome.seed}" + (f" ERROR {outcome.error}" if outcome.error else ""))
        print("expected:\n" + "\n".join(outcome.expected))
        print("got:\n" + "\n".join(outcome.got))
    print("disagreeing seeds:", " ".join(str(o.seed) for o in failures) or "none")
    print(table(results))
    if args.save:
        with open(args.save, "w") as handle:
            for outcome, features in results:
                handle.write(f"{outcome.seed}\t{int(outcome.summary_ok)}\t{outcome.scores_ok}\t"
                             f"{outcome.full_ok}\t{','.join(sorted(features))}\n")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
