"""The Docker lab run on a real Docker engine: the README's "The Docker lab" lines pasted into
bash as written, in order. Each line must exit 0, and its effect is then waited for as crm_mon's
XML inside n1 shows it: the image built and init, pdu, n1..n3 up, one membership of three
nodes and the demo group started; the group moved to n3; n3's container killed (a power cut)
gets n3 fenced through the `pdu` service, which switches its container back on, and the group
started on n1 or n2; the fencing history names the fencer; `down -v` leaves nothing behind.

Needs a Docker engine (`docker info` answers), docker-compose, and the base image debian:12
on the engine (`docker pull debian:12`, or without Docker Hub docker/base-image.sh): each
missing piece is a skip that names it. The test runs under a compose project of its own
(COMPOSE_PROJECT_NAME), so the project a user runs from this checkout is never touched; the
lab's network 10.213.60.0/24 must be free (a skip names the network that holds it).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.readme import sh_lines
from tests.readme_steps import Check, Cluster, demo_on, effect_of, wait_for

REPO = Path(__file__).resolve().parents[2]
SECTION = "The Docker lab"
PROJECT = os.environ.get("HACLUSTER_TEST_COMPOSE_PROJECT", "hcdocktest")
SUBNET = "10.213.60.0/24"
BASE_IMAGE = "debian:12"
NODES = {"n1", "n2", "n3"}
STEP_TIMEOUT = 180.0  # initdead 20 s, then the join; a fence, a container start and a rejoin
BUILD_TIMEOUT = 1800.0  # the first build installs Debian's packages


def _run(argv: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return subprocess.CompletedProcess(argv, 127, "", str(error))


@functools.cache
def _missing() -> str | None:
    """Why this machine cannot run the Docker lab, or None."""
    if shutil.which("docker") is None:
        return "no docker command (a Docker engine and its client are needed)"
    if shutil.which("docker-compose") is None:
        return "no docker-compose (Debian's package; ./setup.sh test installs it)"
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"])
    if info.returncode != 0 or not info.stdout.strip():
        return f"no Docker engine answers (docker info: {info.stderr.strip()[-200:]})"
    if _run(["docker", "image", "inspect", BASE_IMAGE]).returncode != 0:
        return (f"the base image {BASE_IMAGE} is not on the engine (docker pull {BASE_IMAGE}; "
                "without Docker Hub access build it with docker/base-image.sh)")
    return _subnet_holder()


def _subnet_holder() -> str | None:
    listed = _run(["docker", "network", "ls", "-q"]).stdout.split()
    if not listed:
        return None
    inspected = _run(["docker", "network", "inspect", *listed])
    for network in json.loads(inspected.stdout or "[]"):
        configs = (network.get("IPAM") or {}).get("Config") or []
        if any(config.get("Subnet") == SUBNET for config in configs):
            if network["Name"] == f"{PROJECT}_cluster":
                continue  # our own, left by an interrupted run: `down -v` removes it
            return f"the Docker network {network['Name']} holds {SUBNET} (a Docker lab runs)"
    return None


pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.timeout(BUILD_TIMEOUT + 1200),
]


def _env() -> dict[str, str]:
    env = dict(os.environ, COMPOSE_PROJECT_NAME=PROJECT)
    env.pop("CIB_file", None)
    return env


def shell(line: str, timeout: float = STEP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`line` in bash with a pseudo-terminal, as a user types it (`docker-compose exec`
    allocates a TTY and refuses to run without one)."""
    return subprocess.run(["script", "-qefc", line, "/dev/null"], capture_output=True,
                          text=True, env=_env(), cwd=REPO, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def container(service: str) -> str | None:
    """The id of the project's running container of `service`."""
    done = _run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
                 "--filter", f"label=com.docker.compose.service={service}"])
    return done.stdout.split()[0] if done.stdout.split() else None


def in_node(node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`argv` in the node's container (docker exec: lighter than docker-compose exec for
    polling on a loaded machine)."""
    found = container(node)
    if found is None:
        return subprocess.CompletedProcess(argv, 1, "", f"{node} is not running")
    return _run(["docker", "exec", found, *argv])


def _cluster() -> Cluster:
    """What crm_mon --output-as=xml inside n1 says."""
    return Cluster(in_node("n1", "crm_mon", "--output-as=xml"))


def _formed(c: Cluster) -> bool:
    return c.online() == NODES and bool(c.demo_on())


def _failed_over(c: Cluster) -> bool:
    """demo on a survivor, and n3 back (its container is started only by the pdu's reboot:
    Docker does not restart a killed container whatever its restart policy)."""
    return c.online() == NODES and demo_on("n1", "n2")(c)


# What each step leads to (matched on the line's command, comments aside).
EFFECTS: dict[str, Check] = {
    "up -d --build": _formed,
    "crm_mon -1": lambda c: bool(c.demo_on()),
    "crm resource move demo n3": demo_on("n3"),
    "crm resource clear demo": demo_on("n3"),
    "kill n3": _failed_over,
    "start n3": _failed_over,
}


def _compose_logs(*services: str, tail: int = 40) -> str:
    """The services' last `tail` log lines (all services when none is named)."""
    return subprocess.run(["docker-compose", "logs", "--no-color", f"--tail={tail}", *services],
                          capture_output=True, text=True, env=_env(), cwd=REPO,
                          check=False, timeout=120).stdout


INCIDENTS = ("warning", "error", "node_dead", "fenc", "pdu_command", "membership_changed")


def _incidents() -> str:
    """What went wrong where, from every service's recent log (for a failure message)."""
    lines = [line for line in _compose_logs(tail=400).splitlines()
             if any(word in line for word in INCIDENTS)]
    return "\n".join(sorted(lines, key=lambda line: line.partition("| ")[2])[-60:])


def _project_containers() -> list[str]:
    done = _run(["docker", "ps", "-aq", "--filter",
                 f"label=com.docker.compose.project={PROJECT}"])
    return done.stdout.split()


@pytest.fixture
def no_project(tmp_path: Path) -> Iterator[None]:
    """No container of the test's project before the test, none after it; every service's
    whole log is kept in tmp_path/compose.log (a failure's evidence outlives `down -v`)."""
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    shell("docker-compose down -v")
    try:
        yield
    finally:
        (tmp_path / "compose.log").write_text(_compose_logs(tail=100000))
        shell("docker-compose down -v")


def test_the_readme_docker_lab_runs_as_written(no_project: None) -> None:
    steps = sh_lines(SECTION)
    assert any("up -d" in line for line in steps), "the README's Docker section starts nothing"
    for line in steps:
        done = shell(line, timeout=BUILD_TIMEOUT if "--build" in line else STEP_TIMEOUT)
        assert done.returncode == 0, (f"{line}\nexit {done.returncode}\n{done.stdout}"
                                      f"{done.stderr}\n{_incidents()}")
        if "stonith_admin --history n3" in line:
            assert "reboot of n3 by" in done.stdout, done.stdout
            assert "successful" in done.stdout, done.stdout
        check = effect_of(line, EFFECTS)
        if check is not None:
            wait_for(_cluster, check, line, STEP_TIMEOUT, 1.0, _incidents)
        if line.startswith("docker-compose kill n3"):
            # fence_lab's reboot is off then on, or only on when the switch reports the
            # plug off already (fence-agents' reboot); either way the pdu switched n3 on
            switched = _compose_logs("pdu")
            assert re.search(r"answer='ok on' command='(on|reboot) n3'", switched), switched
    assert _project_containers() == [], "down -v left containers behind"
