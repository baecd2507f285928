"""Our engine's dot graph of a CIB (crm_simulate -S -D), for tests that compare its edges
with the graph Debian's crm_simulate wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def our_dot(cib: Path, tmp: Path) -> str:
    """Run this checkout's crm_simulate -x CIB -S -D on the CIB and return the dot text."""
    dot = tmp / "ours.dot"
    code = "import sys; from pengine.cli import main; main(sys.argv[1:])"
    subprocess.run([sys.executable, "-c", code, "-x", str(cib), "-S", "-D", str(dot)],
                   check=True, capture_output=True, text=True,
                   cwd=Path(__file__).resolve().parents[2])
    return dot.read_text()
