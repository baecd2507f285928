"""What the README walk-throughs' steps lead to, judged from crm_mon's XML on one node.

Both walk-through tests (the namespace lab's, tests/lab/test_walkthrough.py, and the Docker
lab's, tests/docker/test_docker_lab.py) paste README lines into bash and, after each, wait
until the cluster shows the step's effect. They differ only in how crm_mon is reached and
in which steps they know; the reading of crm_mon's answer, the matching of a line to its
effect and the wait live here once.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping

import pytest
from lxml import etree

DEMO_GROUP = ("demo-ip", "demo-service")


class Cluster:
    """What one `crm_mon --output-as=xml` said (nothing, when it failed or was garbled)."""

    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        try:
            self.root = etree.fromstring(done.stdout.encode()) if done.returncode == 0 else None
        except etree.XMLSyntaxError:
            self.root = None

    def online(self) -> set[str]:
        if self.root is None:
            return set()
        return {str(n.get("name")) for n in self.root.iterfind("nodes/node")
                if n.get("online") == "true"}

    def demo_on(self) -> set[str]:
        """Nodes where both members of the group demo are started (empty: not together)."""
        if self.root is None:
            return set()
        where = []
        for member in DEMO_GROUP:
            found = self.root.xpath(f"//resource[@id='{member}'][@role='Started']/node/@name")
            where.append(set(map(str, found)))
        return where[0] & where[1] if len(where[0]) == 1 else set()


Check = Callable[[Cluster], bool]


def demo_on(*nodes: str) -> Check:
    """The group runs, on one of `nodes`."""
    return lambda c: bool(c.demo_on()) and c.demo_on() <= set(nodes)


def effect_of(line: str, effects: Mapping[str, Check]) -> Check | None:
    """The check of the step whose command `line` ends with (comments aside), if any."""
    command = line.split("#")[0].strip()
    for key, check in effects.items():
        if command.endswith(key):
            return check
    return None


def wait_for(look: Callable[[], Cluster], check: Check, what: str, timeout: float,
             interval: float, detail: Callable[[], str] = lambda: "") -> None:
    """Ask crm_mon (`look`) until `check` holds; fail naming the step and what was seen
    last (plus `detail()`, e.g. recent logs) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(look()):
            return
        time.sleep(interval)
    last = look()
    pytest.fail(f"after {what!r}: online {sorted(last.online())}, demo on "
                f"{sorted(last.demo_on())}\n{detail()}".rstrip())
