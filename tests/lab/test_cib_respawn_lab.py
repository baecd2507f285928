"""A cib daemon killed with -9 and respawned by the launcher while its node stays in the
view (issues 9 and 10, seen in a lab): the respawned cib loaded its disk copy, whose status
section is dropped at start as Pacemaker's cib drops it, and served it as current until the
next write, so `crm_mon` on that node showed "Current DC: NONE" and every node UNCLEAN for
over a minute. It must take the master's whole CIB with its first sync, without a write;
the master's own cib respawned must not push its status-less copy to the others.

No write is made during a test: what brings the status back is the sync alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmd_lab_helpers import Lab, daemon_pid, demo_cluster, lab_exec, lab_output, wait_for
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hccibrsp")
NODES = ["n1", "n2", "n3"]
SYNC_TIMEOUT = 30.0  # the bug lasted over a minute; a sync takes well under a second


@pytest.fixture(scope="module")
def cluster() -> Iterator[Lab]:
    yield from demo_cluster(NAME)


def cib_pid(the_lab: Lab, node: str) -> int | None:
    return daemon_pid(the_lab, node, "cib")


def current_dc(the_lab: Lab, node: str) -> str | None:
    """The DC `crm_mon -1` on `node` shows, None while it shows none or an UNCLEAN node."""
    shown = lab_exec(the_lab, node, "crm_mon", "-1").stdout
    dc = next((line.split("Current DC:")[1].split()[0] for line in shown.splitlines()
               if "Current DC:" in line), "NONE")
    return None if dc == "NONE" or "UNCLEAN" in shown else dc


def cib_text(the_lab: Lab, node: str) -> str:
    return lab_output(the_lab, node, "cibadmin", "-Q")


def respawn_cib(the_lab: Lab, node: str) -> None:
    """kill -9 `node`'s cib and wait until the launcher has started another."""
    old = cib_pid(the_lab, node)
    assert old is not None, f"no cib on {node}"
    killed = lab_exec(the_lab, node, "kill", "-9", str(old))
    assert killed.returncode == 0, killed.stderr
    wait_for(f"{node}'s cib respawned", lambda: cib_pid(the_lab, node) not in (None, old))


def assert_in_sync(the_lab: Lab, node: str, dc: str) -> None:
    """`node`'s crm_mon shows `dc` and no UNCLEAN node; its CIB is the DC's, status too."""
    assert wait_for(f"crm_mon on {node} to show the DC", lambda: current_dc(the_lab, node),
                    timeout=SYNC_TIMEOUT) == dc
    wait_for(f"{node}'s CIB to equal {dc}'s", lambda: cib_text(the_lab, node) == cib_text(
        the_lab, dc) or None, timeout=SYNC_TIMEOUT)
    assert cib_text(the_lab, node).count("<node_state ") == len(NODES)


@pytest.mark.slow
def test_a_respawned_replica_serves_the_masters_status(cluster: Lab) -> None:
    dc = wait_for("a DC", lambda: current_dc(cluster, "n1"))  # the DC's cib is the master
    for node in [name for name in NODES if name != dc]:
        respawn_cib(cluster, node)
        assert_in_sync(cluster, node, dc)


@pytest.mark.slow
def test_a_respawned_master_takes_the_live_copy(cluster: Lab) -> None:
    dc = wait_for("a DC", lambda: current_dc(cluster, "n1"))
    respawn_cib(cluster, dc)
    for node in NODES:
        assert_in_sync(cluster, node, dc)
