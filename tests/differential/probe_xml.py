"""Differential probe of the XML outputs: Debian's crm_simulate and crm_mon against ours.

On each seed's generated CIB (tests.differential.generate), through CIB_file as every
operator tool reads it, both tools' `crm_simulate -L -S --output-as=xml` (current status,
Transition Summary, executed transition, revised status) and `crm_mon -1 --output-as=xml`
are compared with tests.differential.probe_cli.probe: exit code, stdout normalised only
for what must differ (timestamps, the <pacemaker-result request=...> line quoting each
tool's own argv, cib-last-written and the update-* origin attributes, <error> wording).
A run Pacemaker's tool crashed on (2.1.5's crm_mon dies of SIGSEGV on some CIBs) is counted
apart, not compared.

`python -m tests.differential.probe_xml FIRST LAST [--ours DIR]` prints each disagreement
(seed, tool, what differs) and the agreement table; --ours runs the tools of another
checkout's bin directory (a baseline).
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter

from tests.differential.generate import generate
from tests.differential.probe_cli import Outcome, differences, probe

XML_COMMANDS = (("crm_simulate", ["-L", "-S", "--output-as=xml"]),
                ("crm_mon", ["-1", "--output-as=xml"]))


def crashed(theirs: Outcome) -> bool:
    """Whether Pacemaker's tool died of a signal (nothing to compare with)."""
    return theirs.code < 0 or theirs.code >= 128


def compare_seed(seed: int, ours_bin: str | None = None) -> list[tuple[str, list[str] | None]]:
    """(tool, what differs) for each XML command on the seed's CIB (None: Pacemaker's
    tool crashed; empty: they agree)."""
    xml = generate(seed).xml
    found: list[tuple[str, list[str] | None]] = []
    for tool, args in XML_COMMANDS:
        theirs, ours = probe(tool, args, xml, ours_bin)
        found.append((tool, None if crashed(theirs) else differences(theirs, ours)))
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    first, last = int(args[0]), int(args[1])
    ours_bin = args[args.index("--ours") + 1] if "--ours" in args else None
    if shutil.which("cibadmin", path="/usr/sbin") is None:
        print("Debian's Pacemaker tools are not installed", file=sys.stderr)
        return 69
    agreed: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    for seed in range(first, last + 1):
        for tool, diff in compare_seed(seed, ours_bin):
            if diff is None:
                crashes[tool] += 1
                continue
            compared[tool] += 1
            if not diff:
                agreed[tool] += 1
                continue
            print(f"DIFF seed={seed} {tool} {','.join(diff)}", flush=True)
    print(f"{'tool':<14}{'agree':>7}{'compared':>10}{'crashed':>9}")
    for tool, _args in XML_COMMANDS:
        print(f"{tool:<14}{agreed[tool]:>7}{compared[tool]:>10}{crashes[tool]:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
