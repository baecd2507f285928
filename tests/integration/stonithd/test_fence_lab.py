"""fence_lab against real process trees in network namespaces created here, driven through
labctl.py (the `hacluster lab` contract), then through stonithd; plus a test against the
real `hacluster lab` when that command exists."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from labctl import group_members
from stonithd_helpers import AGENT_BIN, Daemon, cib, device, environment, stonith_admin

pytestmark = pytest.mark.lab
LABCTL = Path(__file__).with_name("labctl.py")
FENCE_LAB = str(AGENT_BIN / "fence_lab")


def _need_root_and_ip() -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 'ip' is not installed")


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[Path]:
    """Two nodes, each a process tree in its own fresh network namespace."""
    _need_root_and_ip()
    tag = uuid.uuid4().hex[:6]
    (tmp_path / "nodes").mkdir()
    namespaces = []
    for node in ("n1", "n2"):
        netns = f"hcst-{tag}-{node}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        namespaces.append(netns)
        (tmp_path / "nodes" / node).write_text(netns)
    try:
        for node in ("n1", "n2"):
            assert labctl(tmp_path, "start", node).returncode == 0
        yield tmp_path
    finally:
        for node in ("n1", "n2"):
            labctl(tmp_path, "kill", node)
        for netns in namespaces:
            subprocess.run(["ip", "netns", "del", netns], check=False)


def labctl(lab_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LABCTL), "--dir", str(lab_dir), *args],
                          capture_output=True, text=True, check=False)


def lab_command(lab_dir: Path) -> str:
    return f"{sys.executable} {LABCTL} --dir {lab_dir}"


def fence_lab(lab_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FENCE_LAB, "--lab-command", lab_command(lab_dir), *args],
                          capture_output=True, text=True, check=False, env=environment(),
                          timeout=120)


def pgid(lab_dir: Path, node: str) -> int:
    return int((lab_dir / f"{node}.pgid").read_text())


def test_fence_lab_powers_real_process_trees(lab: Path) -> None:
    netns = (lab / "nodes" / "n1").read_text()
    in_netns = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True,
                              check=True).stdout.split()
    old = pgid(lab, "n1")
    assert set(map(str, group_members(old))) <= set(in_netns) and group_members(old)
    assert fence_lab(lab, "-o", "status", "-n", "n1").returncode == 0
    off = fence_lab(lab, "-o", "off", "-n", "n1")
    assert off.returncode == 0 and "Powered OFF" in off.stdout, off.stderr
    assert group_members(old) == []  # gone by the time the agent reports success
    assert fence_lab(lab, "-o", "status", "-n", "n1").returncode == 2
    assert fence_lab(lab, "-o", "list").stdout.splitlines() == ["n1,n1", "n2,n2"]
    on = fence_lab(lab, "-o", "on", "-n", "n1")
    assert on.returncode == 0 and group_members(pgid(lab, "n1")), on.stderr
    before = pgid(lab, "n2")
    reboot = fence_lab(lab, "-o", "reboot", "-n", "n2")
    assert reboot.returncode == 0 and "Powered OFF" in reboot.stdout
    assert group_members(before) == [] and group_members(pgid(lab, "n2"))
    assert fence_lab(lab, "-o", "monitor").returncode == 0


def test_fence_lab_errors(lab: Path) -> None:
    unknown = fence_lab(lab, "-o", "off", "-n", "n9")
    assert unknown.returncode == 1 and "no lab node named 'n9'" in unknown.stderr
    missing = subprocess.run([FENCE_LAB, "--lab-command", "/nonexistent/lab", "-o", "status",
                              "-n", "n1"], capture_output=True, text=True, check=False,
                             env=environment())
    assert missing.returncode == 1 and "lab command not found" in missing.stderr
    stdin = subprocess.run([FENCE_LAB], input=f"action=status\nport=n1\nlab_command="
                           f"{lab_command(lab)}\n", capture_output=True, text=True,
                           check=False, env=environment())
    assert stdin.returncode == 0 and stdin.stdout == "Status: ON\n"


def test_stonithd_result_comes_after_the_node_processes_are_gone(lab: Path,
                                                                 tmp_path: Path) -> None:
    env = environment()
    resources = device("lab", agent="fence_lab", pcmk_host_list="n1 n2",
                       lab_command=lab_command(lab))
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(cib(resources))
    daemon = Daemon(env, cib_file, tmp_path / "run", "n2")
    try:
        victim = pgid(lab, "n1")
        assert group_members(victim)
        done = stonith_admin(env, "--endpoint", daemon.endpoint, "-F", "n1", "-t", "60")
        assert done.returncode == 0, done.stderr + daemon.logs()
        assert group_members(victim) == []
        status = json.loads(labctl(lab, "status", "--json").stdout)["nodes"]
        assert status["n1"]["running"] is False and status["n2"]["running"] is True
    finally:
        daemon.stop()


def _real_lab() -> list[str]:
    """`hacluster lab` (or $HACLUSTER_LAB_COMMAND), skipping when it is not available."""
    command = shlex.split(os.environ.get("HACLUSTER_LAB_COMMAND", "hacluster lab"))
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    probe = subprocess.run([*command, "--help"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"`{shlex.join(command)}` is not available here: "
                    f"{(probe.stderr or probe.stdout).strip()[-120:]}")
    return command


@pytest.mark.slow
def test_fence_lab_with_the_real_hacluster_lab(tmp_path: Path) -> None:
    _need_root_and_ip()
    command = [*_real_lab(), "--name", f"hcf{uuid.uuid4().hex[:4]}"]
    lab_cmd = shlex.join(command)
    up = subprocess.run([*command, "up", "--nodes", "2"], capture_output=True, text=True,
                        check=False, timeout=300)
    assert up.returncode == 0, up.stderr
    try:
        def status() -> dict[str, dict[str, object]]:
            done = subprocess.run([*command, "status", "--json"], capture_output=True,
                                  text=True, check=True)
            nodes: dict[str, dict[str, object]] = json.loads(done.stdout)["nodes"]
            return nodes
        before = status()["n2"]
        cib_file = tmp_path / "cib.xml"
        cib_file.write_text(cib(device("lab", agent="fence_lab", pcmk_host_list="n1 n2",
                                       lab_command=lab_cmd)))
        env = environment()
        off = stonith_admin(env, "--cib", str(cib_file), "--node", "n1", "-F", "n2", "-t", "90")
        assert off.returncode == 0, off.stderr
        assert status()["n2"]["running"] is False
        pids = [before.get("pid")] + [d["pid"] for d in before["daemons"].values()]  # type: ignore[union-attr]
        assert all(not Path(f"/proc/{pid}").exists() for pid in pids if pid)
        on = stonith_admin(env, "--cib", str(cib_file), "--node", "n1", "-U", "n2", "-t", "90")
        assert on.returncode == 0 and status()["n2"]["running"] is True, on.stderr
    finally:
        subprocess.run([*command, "down"], capture_output=True, check=False, timeout=300)
