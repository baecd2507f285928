"""crmd end to end in the namespace lab: three nodes with every daemon, Debian's resource
agents (IPaddr2 on the lab subnet, Dummy), fence_lab through the lab's power switch, a
configuration made live with our cibadmin. Every scenario waits for conditions (never
sleeps for readiness) and judges by Pacemaker's crm_simulate on the live CIB and by every
node's lrmd, sampled throughout by the auditor (lab.audit): no unique resource may ever run
on two nodes, whatever the CIB says.

The first test (placement after configuration) is the representative of the default CI
slice; the fault scenarios are slow. They share one lab, and each leaves it whole again
(every node up, healed, settled) for the next. Needs root, iproute2, nftables, util-linux,
the installed console scripts and Debian's Pacemaker tools; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crm_lab import BIN, SETTLE_TIMEOUT, CrmLab
from lab_names import lab_name

from lab.audit import Instance, placement
from messaging.errors import HAError
from tests.oracle import pacemaker_tool

pytestmark = [
    pytest.mark.lab,
    pytest.mark.oracle,
    pytest.mark.skipif(os.geteuid() != 0, reason="the namespace lab needs root"),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("ip", "nft", "unshare", "nsenter")),
        reason="needs iproute2, nftables and util-linux (unshare, nsenter)"),
    pytest.mark.skipif(pacemaker_tool("crm_simulate") is None or pacemaker_tool("crm_mon")
                       is None, reason="Debian's crm_simulate and crm_mon are the oracle"),
    pytest.mark.skipif(not (BIN / "hacluster").exists() or not (BIN / "cibadmin").exists(),
                       reason="console scripts not installed (pip install -e .)"),
]

NAME = lab_name("hce2e")
NODES = ("n1", "n2", "n3")
SERVICE_IP = "10.213.60.200"  # on link 0's subnet (lab.layout), no node owns it

RESOURCES = {
    "web-ip": ('<primitive id="web-ip" class="ocf" provider="heartbeat" type="IPaddr2">'
               '<instance_attributes id="web-ip-ia">'
               f'<nvpair id="web-ip-ip" name="ip" value="{SERVICE_IP}"/>'
               '<nvpair id="web-ip-mask" name="cidr_netmask" value="24"/>'
               '</instance_attributes><operations>'
               '<op id="web-ip-mon" name="monitor" interval="10s"/></operations></primitive>'),
    "web-data": ('<primitive id="web-data" class="ocf" provider="heartbeat" type="Dummy">'
                 '<operations><op id="web-data-mon" name="monitor" interval="10s"/>'
                 '</operations></primitive>'),
}
GROUP = f'<group id="web">{RESOURCES["web-ip"]}{RESOURCES["web-data"]}</group>'


def _dummy(rid: str, interval: str = "10s", meta: str = "") -> str:
    meta_xml = (f'<meta_attributes id="{rid}-meta">{meta}</meta_attributes>' if meta else "")
    return (f'<primitive id="{rid}" class="ocf" provider="heartbeat" type="Dummy">{meta_xml}'
            f'<operations><op id="{rid}-mon" name="monitor" interval="{interval}" '
            'on-fail="restart"/></operations></primitive>')


PRIMITIVES = [
    _dummy("db"),
    _dummy("cache"),
    _dummy("report", "2s", '<nvpair id="report-mt" name="migration-threshold" value="2"/>'),
]
CONSTRAINTS = [
    '<rsc_location id="loc-db" rsc="db" node="n1" score="100"/>',
    '<rsc_location id="loc-web" rsc="web" node="n2" score="50"/>',
    '<rsc_colocation id="col-cache-db" rsc="cache" with-rsc="db" score="INFINITY"/>',
    '<rsc_order id="ord-db-cache" first="db" then="cache" kind="Mandatory"/>',
    '<rsc_colocation id="col-report-web" rsc="report" with-rsc="web" score="-INFINITY"/>',
    '<rsc_order id="ord-web-report" first="web" then="report" kind="Optional"/>',
]
UNIQUE = frozenset({"web-ip", "web-data", "db", "cache", "report"})


@pytest.fixture(scope="module")
def cluster() -> Iterator[CrmLab]:
    crm = CrmLab(NAME)
    crm.lab("down")
    try:
        crm.ok("up", "--nodes", "3", "--config", "empty", "--dc-timeout", "120",
               timeout=240)
        crm.resources = set(UNIQUE)
        crm.start_sampling(UNIQUE)
        crm.wait_settled()  # the DC is idle before anything is configured
        crm.property("n1", "no-quorum-policy", "stop")
        crm.create("n1", "resources", GROUP)
        for primitive in PRIMITIVES:
            crm.create("n2", "resources", primitive)
        for constraint in CONSTRAINTS:
            crm.create("n3", "constraints", constraint)
        yield crm
        crm.check_no_double_run()
    finally:
        crm.stop_sampling()
        if not os.environ.get("HACLUSTER_E2E_KEEP"):  # keep the lab to look into a failure
            crm.lab("down")


def where(crm: CrmLab) -> dict[str, set[str]]:
    assert crm.sampler is not None
    return placement(crm.sampler.wait_rounds(1))


def starts(crm: CrmLab) -> dict[str, dict[str, Instance]]:
    """{node: {resource: (call id, time) of its start}} as the lrmds say now."""
    assert crm.sampler is not None
    return crm.sampler.wait_rounds(1)


def restore(crm: CrmLab) -> None:
    """Heal, power every node on, wait until all settled again (for the next scenario)."""
    crm.ok("heal")
    for node in NODES:
        crm.ok("start", node)
    crm.wait_settled(list(NODES))


def clear_failures(crm: CrmLab) -> None:
    """Every fail count and last failure gone (what crm_resource --cleanup clears; ours has
    no live mode yet), then settled: each scenario starts from the same placement."""
    done = crm.tool("n1", "cibadmin", "-D", "-A", "//node_state//nvpair[starts-with(@name, "
                    "'fail-count-') or starts-with(@name, 'last-failure-')]")
    assert done.returncode in (0, 105), done.stderr  # 105: there was none
    crm.wait_settled(list(NODES))


def test_everything_starts_where_the_policy_engine_says(cluster: CrmLab) -> None:
    the_plan = cluster.wait_settled()
    assert set(the_plan.placement) >= UNIQUE, the_plan.placement
    placed = where(cluster)
    assert placed["web-ip"] == placed["web-data"], "the group's members run together"
    assert placed["cache"] == placed["db"], "colocation cache with db"
    assert not placed["report"] & placed["web-ip"], "report is kept away from web"
    cluster.check_cib_matches_lrmds("n2")
    cluster.check_no_double_run()


@pytest.mark.slow
def test_failing_monitor_restarts_then_moves_at_migration_threshold(cluster: CrmLab) -> None:
    clear_failures(cluster)
    (first_node,) = where(cluster)["report"]
    for failure in (1, 2):
        state_file = cluster.dummy_state_file(first_node, "report")
        assert state_file.exists()
        state_file.unlink()  # the agent's monitor now says "not running" (rc 7)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while fail_count(cluster, first_node, "report") < failure:
            assert time.monotonic() < deadline, "the fail count never rose"
            time.sleep(0.2)
        cluster.wait_settled()
        now = where(cluster)["report"]
        if failure == 1:
            assert now == {first_node}, "on-fail=restart keeps it where it was"
        else:
            assert first_node not in now, "migration-threshold=2 moves it away"
    mon = pacemaker_crm_mon(cluster.save_cib("n1"), "-1", "-f")
    assert "report: migration-threshold=2 fail-count=2" in mon, mon
    clear_failures(cluster)  # the ban goes with them
    cluster.check_no_double_run()


def pacemaker_crm_mon(cib: Path, *args: str) -> str:
    """Debian's crm_mon on a saved live CIB."""
    tool = pacemaker_tool("crm_mon")
    assert tool is not None
    env = dict(os.environ, CIB_file=str(cib))
    return subprocess.run([tool, *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False).stdout


def fail_count(crm: CrmLab, node: str, resource: str) -> int:
    """The fail count of `resource` on `node` in the status section (monitor failures)."""
    from lxml import etree

    root = etree.fromstring(crm.cibadmin("n1", "-Q", "-o", "status").encode())
    values = root.xpath(f"//node_state[@uname='{node}']//nvpair"
                        f"[starts-with(@name, 'fail-count-{resource}#')]/@value")
    return sum(int(str(v)) if str(v) != "INFINITY" else 1_000_000 for v in values)


def wait_until(what: str, probe: Callable[[], bool]) -> None:
    """Poll a condition (the pause only spaces the questions)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def fenced(crm: CrmLab, by: str, target: str) -> bool:
    history = crm.lab("exec", by, "stonith_admin", "--history", target)
    return history.returncode == 0 and "success" in history.stdout.lower()


@pytest.mark.slow
def test_kill_9_of_the_group_node_fences_it_and_moves_the_group(cluster: CrmLab) -> None:
    clear_failures(cluster)
    (victim,) = where(cluster)["web-data"]
    survivors = [n for n in NODES if n != victim]
    cluster.ok("kill", victim)
    wait_until(f"{victim} fenced", lambda: fenced(cluster, survivors[0], victim))

    def group_on_a_survivor() -> bool:
        placed = where(cluster)
        data, ip = placed.get("web-data", set()), placed.get("web-ip", set())
        return len(data) == 1 and data == ip and victim not in data

    wait_until("the group running on a survivor", group_on_a_survivor)
    restore(cluster)  # the fenced node was rebooted by fence_lab and rejoins
    cluster.check_no_double_run()


def dc_named_by(crm: CrmLab, node: str) -> str:
    from crmd.control import query_status

    try:
        return query_status(crm.nodes.state_dirs()[node], 1.0).dc
    except HAError:
        return ""


@pytest.mark.slow
def test_kill_of_the_dc_elects_another_and_restarts_nothing_needless(cluster: CrmLab) -> None:
    clear_failures(cluster)
    dc = cluster.idle_dc(list(NODES))
    assert dc is not None
    before = starts(cluster)
    survivors = [n for n in NODES if n != dc]
    assert any(before.get(n) for n in survivors), f"nothing runs outside the DC: {before}"
    cluster.ok("kill", dc)
    wait_until("a new DC", lambda: dc_named_by(cluster, survivors[0]) not in ("", dc))
    new_dc = dc_named_by(cluster, survivors[0])
    assert new_dc in survivors
    wait_until(f"{dc} fenced", lambda: fenced(cluster, new_dc, dc))
    restore(cluster)
    after = starts(cluster)
    for node in survivors:
        for resource, call_id in before.get(node, {}).items():
            if resource in after.get(node, {}):  # still there: must be the same start
                assert after[node][resource] == call_id, \
                    f"{resource} on {node} was restarted (call {call_id} -> " \
                    f"{after[node][resource]}) though its node survived"
    cluster.check_no_double_run()


@pytest.mark.slow
def test_partition_2_1_minority_stops_majority_fences_and_runs_all(cluster: CrmLab) -> None:
    clear_failures(cluster)
    (minority,) = where(cluster)["report"]  # a node that runs something
    majority = [n for n in NODES if n != minority]
    cluster.ok("partition", ",".join(majority), minority)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while starts(cluster).get(minority):  # stopped (no quorum) or fenced: nothing runs
        assert time.monotonic() < deadline, f"{minority} still runs {starts(cluster)}"
    the_plan = cluster.wait_settled(majority)
    assert all(minority not in nodes for nodes in the_plan.placement.values())
    assert set(where(cluster)) >= UNIQUE, "the majority runs everything"
    restore(cluster)
    cluster.check_no_double_run()
    cluster.check_cib_matches_lrmds("n1")
