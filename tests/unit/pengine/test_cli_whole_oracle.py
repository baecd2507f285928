"""Whole `crm_simulate -S` output (both streams) for CIBs in whole_cibs/, against Pacemaker's.

Each CIB there is made up (or written by Debian's crm_simulate -O) to pin one rule that
shows in the cluster status or on stderr rather than in the transition:
- demote-clears-a-failure-whose-on-fail-is-demote: corpus on_fail_demote3 as Pacemaker's
  simulation leaves it (a promoted monitor failed with on-fail=demote, then a demote):
  the instance is Unpromoted, not FAILED.
- schema-validation-disabled: validate-with="none" makes crm_simulate warn on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oracle import pacemaker_tool

REPO = Path(__file__).resolve().parents[3]
CIBS = sorted(Path(__file__).resolve().parent.joinpath("whole_cibs").glob("*.xml"))


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


@pytest.mark.oracle
@pytest.mark.parametrize("cib", CIBS, ids=[c.stem for c in CIBS])
def test_whole_output_and_stderr_like_pacemaker(cib: Path, tmp_path: Path) -> None:
    tool = pacemaker_tool("crm_simulate")
    if tool is None:
        pytest.skip("Pacemaker's crm_simulate is not installed")
    env = dict(os.environ, LC_ALL="C", CIB_shadow_dir=str(tmp_path))
    theirs = subprocess.run([tool, "-x", str(cib), "-S"], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    ours = subprocess.run([sys.executable, "-m", "pengine.cli", "-x", str(cib), "-S"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr
    assert _lines(ours.stdout) == _lines(theirs.stdout)
    assert _lines(ours.stderr) == _lines(theirs.stderr)
