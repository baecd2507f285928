"""The Docker lab's containers, emulated where no Docker engine exists: what docker-compose.yml
gives each node (its own network, mount, UTS and PID namespaces; eth0 on 10.213.60.0/24
behind one bridge; hostname = service name; /etc/hosts with the extra_hosts lines; the
init service's output as its config directory) around the very command the compose file
runs, `python -m lab.container node DIR`. The three nodes must resolve their ucast peers by
name, agree on one quorate view, each node's cib must start from the demo CIB, and the
demo's virtual IP must answer (placed by crmd, or, in a build without crmd's daemon, its
agents, Debian's IPaddr2 and Dummy, started by hand inside a container).

What this cannot show is Docker's part: the image build, the volumes, the engine's DNS,
the restart policy and the power switch's Engine API calls (tests/unit/lab/test_docker_pdu.py
checks those against a stand-in; tests/docker/test_docker_lab.py runs them on a real engine).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_names import lab_name
from lxml import etree

from ccm.api import CcmClient
from lab.cli import controller_installed
from lab.container import write_config
from messaging.errors import HAError

PREFIX = lab_name("hcdock")
NODES = ["n1", "n2", "n3"]
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="container emulation needs root"),
]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _address(index: int) -> str:
    return f"10.213.60.{10 + index}"


def _wire(switch: str, namespace: str, index: int) -> None:
    _ip("netns", "add", namespace)
    _ip("-n", namespace, "link", "set", "lo", "up")
    _ip("link", "add", f"p{index}", "netns", switch, "type", "veth", "peer", "name", "eth0",
        "netns", namespace)
    _ip("-n", switch, "link", "set", f"p{index}", "master", "br0", "up")
    _ip("-n", namespace, "addr", "add", f"{_address(index)}/24", "dev", "eth0")
    _ip("-n", namespace, "link", "set", "eth0", "up")


def _start(namespace: str, node: str, home: Path, config: Path) -> subprocess.Popen[bytes]:
    """One 'container': private /run, /etc/ha.d, /var/lib/hacluster and /etc/hosts."""
    for sub in ("etc", "state"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    hosts = "127.0.0.1 localhost\n" + "".join(
        f"{_address(i)} {name}\n" for i, name in enumerate(NODES, start=1))
    (home / "hosts").write_text(hosts)
    script = (f"hostname {node} && mount -t tmpfs tmpfs /run && "
              f"mount --bind {home}/etc /etc/ha.d && "
              f"mount --bind {home}/state /var/lib/hacluster && "
              f"mount --bind {home}/hosts /etc/hosts && cd / && "
              f"exec {sys.executable} -m lab.container node {config}")
    env = dict(os.environ, PYTHONPATH=str(REPO), PATH=f"{Path(sys.executable).parent}:"
               f"{os.environ.get('PATH', '')}")
    log = open(home / "container.log", "wb")  # noqa: SIM115 - the child owns it
    with log:
        return subprocess.Popen(
            ["ip", "netns", "exec", namespace, "unshare", "--mount", "--uts", "--pid",
             "--fork", "--mount-proc", "--propagation", "private", "--", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the container's PID 1 (the kernel then kills all of it), then its parent."""
    with contextlib.suppress(OSError, ValueError):
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
        for child in children.split():
            os.kill(int(child), signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait(10)


def _exec(process: subprocess.Popen[bytes], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a command in the container (like `docker compose exec`)."""
    pid1 = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()[0]
    env = dict(os.environ, PYTHONPATH=str(REPO), PATH=f"{Path(sys.executable).parent}:"
               f"{os.environ.get('PATH', '')}")
    return subprocess.run(["nsenter", "-t", pid1, "-m", "-u", "-n", "-p", "--wd=/", "--",
                           *argv], capture_output=True, text=True, env=env, timeout=TIMEOUT,
                          check=False)


@pytest.fixture
def containers(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    switch = f"{PREFIX}-sw"
    namespaces = [f"{PREFIX}-{node}" for node in NODES]
    for stale in [switch, *namespaces]:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True, check=False)
    config = tmp_path / "config"
    write_config(config, NODES)  # what the compose file's init service does
    processes = []
    try:
        _ip("netns", "add", switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        for index, (node, namespace) in enumerate(zip(NODES, namespaces, strict=True), 1):
            _wire(switch, namespace, index)
            processes.append(_start(namespace, node, tmp_path / node, config))
        yield tmp_path, processes
    finally:
        for process in processes:
            _stop(process)
        for namespace in [*namespaces, switch]:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


def _views(home: Path) -> set[tuple[int, bool, tuple[str, ...]]]:
    seen = set()
    for node in NODES:
        try:
            status = CcmClient(home / node / "state").query(0.5)
            seen.add((status.view_id, status.quorate, tuple(status.members)))
        except HAError:
            seen.add((0, False, ()))
    return seen


def test_three_containers_agree_on_one_view_and_start_from_the_demo(
        containers: tuple[Path, list[subprocess.Popen[bytes]]]) -> None:
    home, processes = containers
    _wait_for_one_view(home)
    for node in NODES:
        state = home / node / "state"
        assert (state / "cib").is_dir()
        seeded = etree.parse(str(state / "cib.xml")).getroot()
        assert seeded.xpath("//group/@id") == ["demo"]
        assert int((state / "launcher.pid").read_text().split()[0]) > 0
    log = (home / "n2" / "container.log").read_text(errors="replace")
    assert "10.213.60.11" in log and "10.213.60.13" in log  # ucast peers, resolved by name
    if not controller_installed():  # nothing places the demo: start its agents by hand
        ip = ["ocf:heartbeat:IPaddr2", "ip=10.213.60.100", "cidr_netmask=24"]
        for argv in (["ocf:heartbeat:Dummy", "start"], [ip[0], "start", *ip[1:]]):
            done = _exec(processes[0], "hacluster", "lrm", "exec", *argv)
            assert done.returncode == 0, done.stdout + done.stderr
    deadline = time.monotonic() + TIMEOUT  # the demo's virtual IP answers in the cluster
    while _exec(processes[1], "ping", "-c", "1", "-W", "1", "10.213.60.100").returncode:
        assert time.monotonic() < deadline, "the demo's IP never answered"


def _wait_for_one_view(containers: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        views = _views(containers)
        if len(views) == 1 and next(iter(views))[1:] == (True, tuple(NODES)):
            break
        time.sleep(0.2)
    else:
        logs = (containers / "n1" / "container.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"no common quorate view of {NODES}: {views}\n{logs}")
