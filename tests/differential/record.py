"""Record a reduced regression case: `python -m tests.differential.record NAME CIB.xml [--scores]`.

Copies the CIB to tests/differential/cases/NAME.xml and writes Pacemaker's Transition Summary
(from Debian's crm_simulate -S on that file) to NAME.summary, the golden value that
test_regressions.py checks our engine against. With `--scores` it also writes Pacemaker's
compared score lines (crm_simulate -s, in its order: `pcmk__primitive_assign`,
`pcmk__group_assign`, `pcmk__clone_allocate` and promotion scores) to NAME.scores.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.differential.compare import pacemaker, score_kind, summary_lines

CASES = Path(__file__).with_name("cases")


def main(argv: list[str]) -> int:
    scores = "--scores" in argv
    name, source = [arg for arg in argv if arg != "--scores"]
    xml = Path(source).read_text()
    target = CASES / f"{name}.xml"
    target.write_text(xml)
    with tempfile.TemporaryDirectory(prefix="pengine-record-") as tmp:
        lines = summary_lines(pacemaker(target, tmp, "-S"))
        score_lines = [line for line in pacemaker(target, tmp, "-s").splitlines()
                       if score_kind(line) is not None] if scores else []
    (CASES / f"{name}.summary").write_text("".join(f"{line}\n" for line in lines))
    if scores:
        (CASES / f"{name}.scores").write_text("".join(f"{line}\n" for line in score_lines))
    print("\n".join(lines) or "(empty summary)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
