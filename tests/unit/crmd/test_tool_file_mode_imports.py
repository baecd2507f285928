"""crm_mon -1 and crm_resource -l on a CIB_file read the file and never load the wire codec
(msgpack, and datetime through its ext module, ~8 M instructions per start) nor cib.api, the
daemon client that imports it: users run these tools in loops, as Pacemaker's start in tens
of milliseconds. Each command still answers (exit 0, the resource listed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CIB = """<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0"
 admin_epoch="0"><configuration><crm_config/><nodes><node id="n1" uname="n1"/></nodes>
<resources><primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></resources>
<constraints/></configuration><status/></cib>
"""

# The tools end with sys.exit or os._exit: report the loaded modules either way.
PROBE = """
import os, sys
from {module} import main
HEAVY = ("msgpack", "cib.api", "messaging.envelope", "messaging.codec")

def report(*_):
    print("loaded:", [name for name in HEAVY if name in sys.modules], file=sys.stderr)
    sys.stderr.flush()

exit_now = os._exit
os._exit = lambda code: (report(), exit_now(code))
import atexit
atexit.register(report)
main(sys.argv[1:])
"""


# Golden lines: Pacemaker 2.1.5's crm_mon -1 and crm_resource -l on this CIB (CIB_file).
@pytest.mark.parametrize(("module", "args", "line"), [
    ("crmd.mon.cli", ("-1",), "  * 1 resource instance configured"),
    ("crmd.resource.cli", ("-l",), "d"),
])
def test_file_mode_read_skips_the_wire_codec(tmp_path: Path, module: str,
                                             args: tuple[str, ...], line: str) -> None:
    cib = tmp_path / "cib.xml"
    cib.write_text(CIB)
    done = subprocess.run([sys.executable, "-c", PROBE.format(module=module), *args],
                          env={"CIB_file": str(cib), "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert line in done.stdout.splitlines()
    assert "loaded: []" in done.stderr, done.stderr
