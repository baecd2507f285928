"""Two stonithd daemons in two network namespaces joined by a veth pair, peers over real TCP:
the one without a usable device has the other fence the target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stonithd_helpers import AGENT_BIN, REPO, cib, device, environment

pytestmark = pytest.mark.lab
PORT = 7410


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture()
def two_hosts() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 for network namespaces")
    tag = uuid.uuid4().hex[:5]
    a, b = f"hcsa-{tag}", f"hcsb-{tag}"
    ip("netns", "add", a)
    ip("netns", "add", b)
    try:
        ip("link", "add", f"va{tag}", "netns", a, "type", "veth", "peer", "name", f"vb{tag}",
           "netns", b)
        for ns, dev, addr in ((a, f"va{tag}", "10.77.0.1/24"), (b, f"vb{tag}", "10.77.0.2/24")):
            ip("-n", ns, "addr", "add", addr, "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        ip("netns", "del", a)
        ip("netns", "del", b)


def start(ns: str, node: str, cib_file: Path, state: Path, env: dict[str, str],
          log: Path) -> subprocess.Popen[bytes]:
    peers = ["--peer", f"n1=tcp://10.77.0.1:{PORT}", "--peer", f"n2=tcp://10.77.0.2:{PORT}"]
    addr = "10.77.0.1" if node == "n1" else "10.77.0.2"
    argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "stonithd", "--cib", str(cib_file),
            "--state-dir", str(state), "--node", node, "--agent-dir", str(AGENT_BIN),
            "--listen", f"tcp://{addr}:{PORT}", "--events", f"ipc://{state}/events.sock", *peers]
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    return proc


def test_peers_over_tcp_between_namespaces(two_hosts: tuple[str, str], tmp_path: Path) -> None:
    env = environment()
    power = tmp_path / "power.json"
    ban = '<rsc_location id="ban" rsc="d1" node="n1" score="-INFINITY"/>'
    cib_file = tmp_path / "cib.xml"
    cib_file.write_text(cib(device("d1", pcmk_host_list="n3", state_file=str(power)),
                            constraints=ban))
    procs = [start(ns, node, cib_file, tmp_path / node, env, tmp_path / f"{node}.log")
             for ns, node in zip(two_hosts, ("n1", "n2"), strict=True)]
    try:
        deadline = time.monotonic() + 60
        while not all("stonithd_started" in (tmp_path / f"{n}.log").read_text()
                      for n in ("n1", "n2")):  # both serve before the first request
            assert time.monotonic() < deadline, "stonithd did not start"
            time.sleep(0.05)
        admin = [sys.executable, "-c", "from stonithd.cli import main; main()"]
        done = subprocess.run(["ip", "netns", "exec", two_hosts[0], *admin, "--endpoint",
                               f"tcp://10.77.0.1:{PORT}", "-F", "n3", "-t", "60", "-V"],
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
        assert done.returncode == 0, done.stderr + logs
        assert "by n2" in done.stdout and json.loads(power.read_text()) == {"n3": "off"}
        history = subprocess.run(["ip", "netns", "exec", two_hosts[1], *admin, "--endpoint",
                                  f"tcp://10.77.0.2:{PORT}", "-H", "n3", "-t", "20"],
                                 env=env, capture_output=True, text=True, timeout=60,
                                 check=False)
        assert "turning off of n3 by n2 for" in history.stdout, history.stderr
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
