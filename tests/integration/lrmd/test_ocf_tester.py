"""resource-agents' own compliance tool, ocf-tester, run on hacluster's agents.

ocf-tester validates meta-data against the OCF 1.0 DTD, which knows neither ``reload-agent``
nor ``reloadable`` (OCF 1.1; Pacemaker's own Dummy fails that check the same way), so that
single check is allowed to fail; every behavioural check (start/stop/monitor idempotence,
probes, validate-all, unknown actions, promote/demote for Stateful) must pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lrmd.agents import own_ocf_root

pytestmark = pytest.mark.skipif(
    shutil.which("ocf-tester") is None, reason="ocf-tester (resource-agents) is not installed"
)
DTD_CHECK = "does not conform to ra-api-1.dtd"


@pytest.mark.parametrize("agent", ["Dummy", "Stateful"])
def test_ocf_tester_passes_behavioural_checks(agent: str, tmp_path: Path) -> None:
    path = own_ocf_root() / "resource.d" / "hacluster" / agent
    path_dirs = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"  # this python3
    env = dict(os.environ, OCF_ROOT="/usr/lib/ocf", PATH=path_dirs)
    done = subprocess.run(
        ["ocf-tester", "-n", f"t-{agent}", "-o", f"state={tmp_path / 'state'}", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=tmp_path,
    )
    failures = [line for line in done.stdout.splitlines() if re.match(r"\* rc=\d+:", line)]
    assert [f for f in failures if DTD_CHECK not in f] == [], done.stdout + done.stderr
    assert f"failed {len(failures)} tests" in done.stdout + done.stderr or not failures
