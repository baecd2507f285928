"""cibadmin -Q on a CIB_file never imports datetime (~6 M instructions per start; users run
cibadmin in loops, as Pacemaker's answers in tens of milliseconds): cib.model writes
cib-last-written with time's strftime. The query still prints the CIB (exit 0)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CIB = """<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0"
 admin_epoch="0"><configuration><crm_config/><nodes/><resources/><constraints/>
</configuration><status/></cib>
"""

PROBE = """
import sys
from cib.cli import main
code = main(sys.argv[1:])
print("loaded:", [name for name in ("datetime", "msgpack") if name in sys.modules],
      file=sys.stderr)
"""


def test_file_mode_query_skips_datetime(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    cib.write_text(CIB)
    done = subprocess.run([sys.executable, "-c", PROBE, "-Q"],
                          env={"CIB_file": str(cib), "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<cib ") and 'epoch="1"' in done.stdout
    assert "loaded: []" in done.stderr, done.stderr
