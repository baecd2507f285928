"""crm_mon's text and XML for disabled clones, against Debian's Pacemaker 2.1.5 crm_mon.

The CIBs are tests/differential/executing/ cases (target-role Stopped or Unpromoted on a
clone, its group or its primitive); both tools read the same file through CIB_file and
the expected output is always Debian's, never ours.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oracle import pacemaker_tool

pytestmark = pytest.mark.oracle

HERE = Path(__file__).with_name("executing")
CASES = ["clone-of-a-disabled-group-lists-its-stopped-nodes-as-disabled",
         "clone-of-a-disabled-primitive-lists-its-stopped-nodes-as-disabled",
         "disabled-member-of-a-cloned-group-leaves-the-stopped-list-plain",
         "promotable-clone-held-unpromoted-counts-as-disabled",
         "promotable-group-held-unpromoted-lists-its-target-role",
         "unique-promotable-instances-held-unpromoted-show-their-target-role"]
# times and the command line differ between the runs
_VOLATILE = re.compile(r"Last updated|Last change|<last_update|<last_change|request=")


def _run(command: list[str], cib: Path) -> list[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60,
                          env={**os.environ, "CIB_file": str(cib)})
    return [line for line in (done.stdout + done.stderr).splitlines()
            if not _VOLATILE.search(line)]


@pytest.mark.parametrize("args", [["-1", "-r"], ["-1", "--output-as=xml"]],
                         ids=["text", "xml"])
@pytest.mark.parametrize("name", CASES)
def test_crm_mon_matches_pacemaker(name: str, args: list[str]) -> None:
    theirs = pacemaker_tool("crm_mon")
    if theirs is None:
        pytest.skip("Debian's crm_mon is not installed")
    ours = [sys.executable, "-c", "import sys; from crmd.mon.cli import main; main()"]
    cib = HERE / f"{name}.xml"
    assert _run(ours + args, cib) == _run([theirs, *args], cib)
