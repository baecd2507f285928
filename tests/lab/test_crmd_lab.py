"""The cluster end to end (real processes, real agents, namespace lab): 3 nodes with
fence_lab. A Dummy primitive starts where Debian's crm_simulate plans it on the live CIB;
kill -9 of its node gets that node fenced (fence_lab through the lab's power switch) and the
Dummy started on a survivor. What runs is read from every node's lrmd, never from the CIB;
Debian's crm_mon, crm_verify and crm_simulate read the live CIB our DC wrote and agree."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from crmd_lab_helpers import (
    Lab,
    crm_mon_location,
    demo_cluster,
    idle_dc,
    live_cib,
    nodes_running,
    our_cibadmin,
    pacemaker,
    planned_start,
    transition_summary,
    wait_for,
)
from lab_names import lab_name

from messaging.errors import HAError
from tests.oracle import pacemaker_tool

pytestmark = [
    pytest.mark.lab,
    pytest.mark.oracle,
    pytest.mark.skipif(os.geteuid() != 0, reason="the namespace lab needs root"),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("ip", "nft", "unshare", "nsenter")),
        reason="needs iproute2, nftables and util-linux (unshare, nsenter)",
    ),
    pytest.mark.skipif(pacemaker_tool("crm_simulate") is None,
                       reason="Debian's pacemaker-cli-utils (crm_simulate, crm_mon) is absent"),
    pytest.mark.skipif(not Path("/usr/lib/ocf/resource.d/heartbeat/Dummy").exists(),
                       reason="Debian's resource-agents (ocf:heartbeat:Dummy) is absent"),
]

NAME = lab_name("hccrmd")
NODES = ["n1", "n2", "n3"]
DUMMY = ('<primitive id="dummy1" class="ocf" provider="heartbeat" type="Dummy">'
         '<operations><op id="dummy1-monitor-10s" name="monitor" interval="10s"/>'
         "</operations></primitive>")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Lab]:
    yield from demo_cluster(NAME, config="empty")


def _plan_on_live_cib(cluster: Lab, tmp_path: Path) -> str:
    """Where Debian's crm_simulate starts the Dummy: the live CIB with it added (offline)."""
    planned = live_cib(cluster, "n1", tmp_path / "before.xml")
    added = pacemaker("cibadmin", "-C", "-o", "resources", "-X", DUMMY, cib=planned)
    assert added.returncode == 0, added.stderr
    simulated = pacemaker("crm_simulate", "-x", str(planned), "-S")
    assert simulated.returncode == 0, simulated.stderr
    node = planned_start(simulated.stdout, "dummy1")
    assert node in NODES, simulated.stdout
    return node


def _oracles_agree(cluster: Lab, tmp_path: Path, name: str, runs_on: str) -> None:
    """Debian's tools on the live CIB: valid, dummy1 started on `runs_on`, nothing to do."""
    cib = live_cib(cluster, "n1", tmp_path / name)
    verify = pacemaker("crm_verify", "-L", "-V", cib=cib)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    mon = pacemaker("crm_mon", "-1", cib=cib)
    assert mon.returncode == 0, mon.stderr
    assert crm_mon_location(mon.stdout, "dummy1") == runs_on, mon.stdout
    assert "Failed" not in mon.stdout, mon.stdout
    simulated = pacemaker("crm_simulate", "-x", str(cib), "-S")
    assert simulated.returncode == 0, simulated.stderr
    assert transition_summary(simulated.stdout) == [], simulated.stdout


def _settled(cluster: Lab, nodes: list[str]) -> set[str] | None:
    """Where dummy1 runs once the DC is idle with `nodes` (None until then)."""
    if idle_dc(cluster, nodes) is None:
        return None
    return nodes_running(cluster, nodes, "dummy1")


def _fenced(cluster: Lab, observer: str, target: str) -> bool | None:
    from stonithd.api import HistoryReply, HistoryRequest, OpState, StonithClient, endpoint_in

    with StonithClient(endpoint_in(cluster.state_dir(observer))) as client:
        reply = client.call(HistoryRequest(target), 5.0)
    assert isinstance(reply, HistoryReply)
    done = [e for e in reply.entries if e.target == target and e.state == OpState.DONE]
    return True if done and done[-1].client == "crmd" else None


@pytest.mark.slow
def test_dummy_runs_where_crm_simulate_says_and_survives_kill_of_its_node(
        cluster: Lab, tmp_path: Path) -> None:
    planned = _plan_on_live_cib(cluster, tmp_path)
    our_cibadmin(cluster.state_dir("n2"), "-C", "-o", "resources", "-X", DUMMY)
    running = wait_for("dummy1 to start", lambda: _settled(cluster, NODES) or None)
    assert running == {planned}
    _oracles_agree(cluster, tmp_path, "started.xml", planned)

    cluster.ok("kill", planned)
    survivors = [n for n in NODES if n != planned]
    observer = survivors[0]
    assert wait_for(f"{planned} fenced", lambda: _fenced(cluster, observer, planned))
    moved = wait_for("dummy1 on a survivor",
                     lambda: nodes_running(cluster, survivors, "dummy1") or None)
    assert len(moved) == 1, moved
    # the fenced node reboots (fence_lab's reboot powers it on again) and rejoins; the
    # Dummy stays where it is and runs nowhere else
    after = wait_for("the rebooted node to rejoin", lambda: _settled(cluster, NODES) or None)
    assert after == moved
    _oracles_agree(cluster, tmp_path, "failover.xml", next(iter(moved)))


def _lrmd_pid(cluster: Lab, node: str) -> int:
    from lrmd.api import API, CONTROL_SOCKET
    from messaging.client import Client

    address = f"ipc://{cluster.state_dir(node) / CONTROL_SOCKET}"
    with Client(address, API, timeout=2.0) as client:
        return client.ping().pid


def _reprobed(cluster: Lab, node: str, old_pid: int) -> list[tuple[str, int, int]] | None:
    """The new lrmd's history of dummy1 once it holds the re-probe and the monitor."""
    from lrmd.api import HistoryReply, HistoryRequest, LrmdClient

    try:
        if _lrmd_pid(cluster, node) == old_pid:
            return None
        with LrmdClient(cluster.state_dir(node), timeout=2.0) as client:
            reply = client.request(HistoryRequest("dummy1"))
    except HAError:
        return None
    assert isinstance(reply, HistoryReply)
    ops = [(r.action, r.interval_ms, r.rc) for r in reply.records]
    return ops if ("monitor", 10000, 0) in ops else None


@pytest.mark.slow
def test_lrmd_kill_re_probes_and_rearms_the_monitor_without_restart(cluster: Lab) -> None:
    """kill -9 of the lrmd under the running Dummy: the launcher respawns it, the
    controller sees another lrmd and rejoins; the new lrmd probes the Dummy (running) and
    runs its recurring monitor again; nothing stops or starts it, the node is not fenced."""
    wait_for("a settled cluster", lambda: _settled(cluster, NODES) is not None or None)
    if not (nodes_running(cluster, NODES, "dummy1") or set()):
        our_cibadmin(cluster.state_dir("n1"), "-C", "-o", "resources", "-X", DUMMY)
    host = next(iter(wait_for("dummy1 running", lambda: _settled(cluster, NODES) or None)))
    observer = next(n for n in NODES if n != host)
    fenced_before = _fence_count(cluster, observer, host)
    old = _lrmd_pid(cluster, host)
    cluster.ok("exec", host, "kill", "-9", str(old))
    ops = wait_for("the re-probe and monitor", lambda: _reprobed(cluster, host, old))
    assert ("monitor", 0, 0) in ops, ops
    assert not [op for op in ops if op[0] in ("start", "stop")], ops
    assert wait_for("settled", lambda: _settled(cluster, NODES) or None) == {host}
    assert _fence_count(cluster, observer, host) == fenced_before


def _fence_count(cluster: Lab, observer: str, target: str) -> int:
    from stonithd.api import HistoryReply, HistoryRequest, StonithClient, endpoint_in

    with StonithClient(endpoint_in(cluster.state_dir(observer))) as client:
        reply = client.call(HistoryRequest(target), 5.0)
    assert isinstance(reply, HistoryReply)
    return sum(1 for e in reply.entries if e.target == target)


@pytest.mark.slow
def test_node_stop_moves_the_resource_away_without_fencing(cluster: Lab,
                                                           tmp_path: Path) -> None:
    """`hacluster node stop` on the Dummy's node: the DC moves it first, then the node's
    daemons stop; the node leaves cleanly (not fenced)."""
    wait_for("a settled cluster", lambda: _settled(cluster, NODES) or None)
    if not (nodes_running(cluster, NODES, "dummy1") or set()):
        our_cibadmin(cluster.state_dir("n1"), "-C", "-o", "resources", "-X", DUMMY)
    [host] = wait_for("dummy1 running", lambda: _settled(cluster, NODES) or None)
    others = [n for n in NODES if n != host]
    fenced_before = _fence_count(cluster, others[0], host)
    cluster.ok("exec", host, "hacluster", "node", "stop")
    moved = wait_for("dummy1 on another node", lambda: _settled(cluster, others) or None)
    assert len(moved) == 1 and host not in moved
    assert _fence_count(cluster, others[0], host) == fenced_before
    _oracles_agree(cluster, tmp_path, "stopped.xml", next(iter(moved)))
