"""Issue 8 defect 5: `hacluster node start` refuses bad settings of any daemon up front.

`expected_votes banana` used to pass `node start`; ccm then exited 78 in a respawn loop.
Now the launcher runs each daemon's configuration check first: exit 78 naming file:line,
and nothing is started (no pid file, no state directory contents).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from messaging.errors import ExitCode

HA_CF = "cluster_name t\nkeepalive 1\ndeadtime 5\nbcast lo\nnode n1 n2\n"


def _start(tmp_path: Path, extra: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "ha.cf"
    config.write_text(HA_CF + extra)
    keys = tmp_path / "authkeys"
    keys.write_text("auth 1\n1 sha1 s\n")
    keys.chmod(0o600)
    state = tmp_path / "state"
    return subprocess.run(
        [str(Path(sys.executable).parent / "hacluster"), "node", "start", "-c", str(config),
         "-k", str(keys), "--state-dir", str(state), *args],
        capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("extra", "line", "words"), [
    ("expected_votes banana\n", 6, "not a positive vote count"),
    ("expected_votes \u0663\n", 6, "not a positive vote count"),
    ("quorum_votes n1 99999999\n", 6, "not a vote count"),
    ("two_node maybe\n", 6, "not on/off"),
])
def test_a_bad_ccm_setting_stops_node_start(tmp_path: Path, extra: str, line: int,
                                             words: str) -> None:
    result = _start(tmp_path, extra, "-n", "n1")
    assert result.returncode == ExitCode.CONFIG, result.stderr
    assert f"ha.cf:{line}:" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state" / "launcher.pid").exists()


@pytest.mark.parametrize("name", ["../../etc/x", "a\x01b", "a" * 300])
def test_a_bad_node_name_stops_node_start(tmp_path: Path, name: str) -> None:
    result = _start(tmp_path, "", "-n", name)
    assert result.returncode == ExitCode.CONFIG, result.stderr
    assert "not a valid node name" in result.stderr and "Traceback" not in result.stderr
