"""crm_mon and crm_resource on a CIB_file never load the wire codec (msgpack: ~8 M
instructions of each start, see bench/README.md): they reach the CIB through cib.api, which
loads its protocol half (cib.api_wire, and with it msgpack) only when a name of it is used,
which a tool working on a file never does. Each command still does its work (exit 0, its
output, the change in the file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"

PROBE = """
import sys
from {module} import main
try:
    main(sys.argv[1:])
finally:
    print("loaded:", [name for name in ("msgpack", "messaging.codec", "cib.api_wire")
                      if name in sys.modules], file=sys.stderr)
"""


@pytest.mark.parametrize(("module", "args"), [
    ("crmd.mon.cli", ["-1"]),
    ("crmd.resource.cli", ["--list"]),
    ("crmd.resource.cli", ["-r", "service-ip", "--meta", "-p", "is-managed", "-v", "false"]),
], ids=["crm_mon -1", "crm_resource --list", "crm_resource -p"])
def test_file_mode_tool_skips_the_wire_codec(module: str, args: list[str],
                                             tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    cib.write_bytes(EXAMPLE.read_bytes())
    done = subprocess.run([sys.executable, "-c", PROBE.format(module=module), *args],
                          env={"CIB_file": str(cib), "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), done.stderr
    assert "loaded: []" in done.stderr, done.stderr
    if "-p" in args:
        assert 'name="is-managed" value="false"' in cib.read_text()
