"""attrd_updater against Debian's with no attribute manager running: the same exit code
and the same messages (stderr, or the XML result with the request attribute normalised),
command line by command line. (With a daemon, tests/lab/test_attrd_lab.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oracle import pacemaker_tool

DEBIAN = pacemaker_tool("attrd_updater")
OURS = str(Path(sys.executable).parent / "attrd_updater")
pytestmark = [pytest.mark.oracle,
              pytest.mark.skipif(DEBIAN is None, reason="Debian's attrd_updater not installed")]
_REQUEST = re.compile(r'request="[^"]*"')
CASES = [["-n", "foo"], ["-n", "foo", "-U", "1"], ["-n", "foo", "-B", "1"],
         ["-n", "foo", "-Y", "-d", "5"], ["-n", "foo", "-D"], ["-n", "foo", "-R"], ["-R"],
         ["-n", "foo", "-Q", "-A"], ["-n", "foo", "-U", "1", "-Q"], ["-U", "1"], ["-Q"],
         ["-x"], ["-n", "foo", "-U", "1", "--output-as=xml"],
         ["-n", "foo", "-Q", "--output-as=xml"], ["-n", "a#b", "-D", "-N", "n2"]]


def _run(program: str, args: list[str], state_dir: Path) -> tuple[int, str, str]:
    env = dict(os.environ, HACLUSTER_STATE_DIR=str(state_dir))
    done = subprocess.run([program, *args], capture_output=True, text=True, env=env,
                          timeout=30, check=False)
    return done.returncode, _REQUEST.sub('request=""', done.stdout), done.stderr


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_without_a_daemon_we_answer_as_pacemaker(args: list[str], tmp_path: Path) -> None:
    assert DEBIAN is not None
    assert _run(OURS, args, tmp_path) == _run(DEBIAN, args, tmp_path)
