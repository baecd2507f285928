"""Record a reduced regression case: `python -m tests.differential.record NAME CIB.xml`.

Copies the CIB to tests/differential/cases/NAME.xml and writes Pacemaker's Transition Summary
(from Debian's crm_simulate -S on that file) to NAME.summary, the golden value that
test_regressions.py checks our engine against.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.differential.compare import pacemaker, summary_lines

CASES = Path(__file__).with_name("cases")


def main(argv: list[str]) -> int:
    name, source = argv
    xml = Path(source).read_text()
    target = CASES / f"{name}.xml"
    target.write_text(xml)
    with tempfile.TemporaryDirectory(prefix="pengine-record-") as tmp:
        lines = summary_lines(pacemaker(target, tmp, "-S"))
    (CASES / f"{name}.summary").write_text("".join(f"{line}\n" for line in lines))
    print("\n".join(lines) or "(empty summary)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
