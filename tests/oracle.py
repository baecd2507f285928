"""Where Pacemaker's own tools (the test oracles from Debian) are — never ours.

CI puts the virtualenv's bin first on PATH, and hacluster installs console scripts with
Pacemaker's names (`crm_simulate`, `stonith_admin`, later `crm_mon`), so a plain PATH lookup
would compare our output with itself. Pacemaker's tools are compiled programs in Debian's
directories; ours are Python scripts, so an ELF check tells them apart for certain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def pacemaker_tool(name: str) -> str | None:
    """Absolute path of Pacemaker's `name`, or None when Debian's package is not installed."""
    found = shutil.which(name, path=DEBIAN_PATH)
    if found is None:
        return None
    with open(found, "rb") as program:
        if program.read(4) != b"\x7fELF":
            return None
    return found


def crmsh_tool() -> str | None:
    """Absolute path of Debian's crmsh `crm` (a Python script under /usr/sbin), or None.

    Ours is a console script in the virtualenv; Debian's lives in /usr/sbin and imports the
    `crmsh` package, which tells them apart.
    """
    found = shutil.which("crm", path=DEBIAN_PATH)
    if found is None or not found.startswith(("/usr/sbin/", "/usr/bin/")):
        return None
    with open(found, "rb") as program:
        head = program.read(4096)
    return found if b"crmsh" in head else None


def run_on_cib_file(tool: str, cib: bytes, folder: Path, *args: str) -> str:
    """Stdout then stderr of `tool args` run on `cib` written into `folder` (CIB_file)."""
    path = folder / "cib.xml"
    path.write_bytes(cib)
    done = subprocess.run([tool, *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "CIB_file": str(path)}, timeout=60)
    return done.stdout + done.stderr
