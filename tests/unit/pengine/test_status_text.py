"""Status rendering against Pacemaker's own summaries.

The ClusterStatus values are written by hand from the corpus input (what Pacemaker
unpacked); the expected text is the corpus summary's "Current cluster status" section.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from messaging.types import Role
from pengine.model import ClusterStatus, NodeStatus, ResourceStatus
from pengine.status_text import render_status
from tests.oracle import pacemaker_tool


def _node(name: str, *, online: bool = True, unclean: bool = False, pending: bool = False,
          standby: bool = False, maintenance: bool = False) -> NodeStatus:
    return NodeStatus(name=name, id=name, online=online, unclean=unclean, standby=standby,
                      maintenance=maintenance, pending=pending, shutdown=False)


def _prim(rid: str, agent: str, on: tuple[str, ...] = (), *, failed: bool = False,
          managed: bool = True, blocked: bool = False,
          target: Role | None = None) -> ResourceStatus:
    return ResourceStatus(id=rid, kind="primitive", agent=agent, children=(),
                          role=Role.STARTED if on else Role.STOPPED, running_on=on,
                          managed=managed, failed=failed, orphan=False, target_role=target,
                          blocked=blocked)


def _status(nodes: tuple[NodeStatus, ...], resources: tuple[ResourceStatus, ...]) -> ClusterStatus:
    return ClusterStatus(nodes=nodes, resources=resources, failed_operations=(),
                         have_quorum=True, dc=None, stonith_enabled=False, options=())


def _expected(shared: Path, case: str) -> list[str]:
    text = (shared / f"conformance/scheduler/summary/{case}.summary").read_text().splitlines()
    start = text.index("Current cluster status:") + 1
    end = text.index("Transition Summary:")
    return text[start:end - 1]


def test_group_with_failed_member(shared: Path) -> None:
    members = (
        _prim("datadisk_1", "ocf:heartbeat:datadisk", ("paul",)),
        _prim("Filesystem_2", "ocf:heartbeat:Filesystem", ("paul",)),
        _prim("IPaddr_5", "ocf:heartbeat:IPaddr", ("paul",)),
        _prim("postfix_9", "lsb:postfix", ("paul",), failed=True),
    )
    group = ResourceStatus(id="group_1", kind="group", agent="", children=members,
                           role=Role.STARTED, running_on=("paul",), managed=True, failed=True,
                           orphan=False, target_role=None)
    assert render_status(_status((_node("paul"),), (group,))) == _expected(shared, "994")


def test_node_states_and_lists(shared: Path) -> None:
    nodes = (
        _node("pcmk-1"),
        _node("pcmk-2", online=False, pending=True),
        _node("pcmk-3", online=False, pending=True),
        _node("pcmk-4", online=False),
        _node("pcmk-5", online=False, unclean=True),
        _node("pcmk-6", online=False),
        _node("pcmk-7", unclean=True),
        _node("pcmk-8", online=False, unclean=True),
        _node("pcmk-9", online=False, pending=True),
        _node("pcmk-10", unclean=True),
        _node("pcmk-11", online=False, pending=True),
    )
    status = _status(nodes, (_prim("Fencing", "stonith:fence_xvm"),))
    assert render_status(status) == _expected(shared, "stonith-4")


def test_disabled_group_with_blocked_failed_member(shared: Path) -> None:
    node = "yingying.site"
    members = (
        _prim("rsc1", "ocf:pacemaker:Dummy", (node,), target=Role.STOPPED),
        _prim("rsc2", "ocf:pacemaker:Dummy", (node,), failed=True, blocked=True,
              target=Role.STOPPED),
        _prim("rsc3", "ocf:heartbeat:Dummy", (), target=Role.STOPPED),
    )
    group = ResourceStatus(id="group1", kind="group", agent="", children=members,
                           role=Role.STARTED, running_on=(node,), managed=True, failed=True,
                           orphan=False, target_role=Role.STOPPED)
    assert render_status(_status((_node(node),), (group,))) == \
        _expected(shared, "unmanaged-stop-4")


def test_standby_maintenance_and_flags() -> None:
    nodes = (_node("a", standby=True), _node("b", standby=True), _node("c", maintenance=True),
             _node("d", online=False, standby=True), _node("e"))
    resources = (
        _prim("r1", "ocf:heartbeat:Dummy", ("a",)),
        _prim("r2", "ocf:heartbeat:Dummy", ("e",), managed=False),
        _prim("r3", "ocf:heartbeat:Dummy", ("e", "c")),
        ResourceStatus(id="old", kind="primitive", agent="ocf:heartbeat:Dummy", children=(),
                       role=Role.STARTED, running_on=("e",), managed=True, failed=False,
                       orphan=True, target_role=None),
    )
    lines = render_status(_status(nodes, resources))
    assert lines[:7] == [
        "  * Node List:",
        "    * Node a: standby (with active resources)",
        "    * Node b: standby",
        "    * Node c: maintenance",
        "    * Node d: OFFLINE (standby)",
        "    * Online: [ e ]",
        "",
    ]
    assert "    * r2\t(ocf:heartbeat:Dummy):\t Started e (unmanaged)" in lines
    assert "    * r3\t(ocf:heartbeat:Dummy):\t Started [ e c ]" in lines
    assert "    * old\t(ocf:heartbeat:Dummy):\t ORPHANED Started e" in lines


# Corpus cases whose status Pacemaker printed with primitives, groups and clones in many
# states: standby nodes, unclean/offline nodes, failed, unmanaged, disabled, orphaned,
# multiply active resources. The engine unpacks the corpus input; the text must be Pacemaker's.
UNPACKED_CASES = ["994", "stonith-4", "standby", "rec-node-7", "orphan-0", "unmanaged-stop-1",
                  "rsc-maintenance", "node-maintenance-1", "rec-rsc-5", "group-fail",
                  "group1", "bug-1718", "simple4", "target-0", "rec-node-2",
                  "rec-rsc-9",
                  # clones: anonymous lists, promotable roles, group instances, failures
                  "clone-anon-failcount", "promoted-move", "bug-lf-1852", "probe-3",
                  "cloned-group-stop", "clone-no-shuffle", "stop-failure-with-fencing",
                  # globally-unique clones list every instance; the first of two
                  # globally-unique settings in one block counts, and an lsb clone
                  # is anonymous whatever it says
                  "group10", "promoted-5", "stonith-0", "group14", "force-anon-clone-max"]


def test_engine_status_renders_like_pacemaker(shared: Path) -> None:

    pytest.importorskip("pengine.scheduler", reason="the scheduling engine has not landed yet")
    from pengine.api import unpack_status

    mismatched = []
    for name in UNPACKED_CASES:
        xml = (shared / f"conformance/scheduler/xml/{name}.xml").read_bytes()
        got = [line for line in render_status(unpack_status(xml)) if line.strip()]
        want = [line for line in _expected(shared, name) if line.strip()]
        if got != want:
            mismatched.append(name)
    assert mismatched == []


def test_disabled_and_blocked_counts(shared: Path) -> None:
    """The counts note above the status, for corpus cases with and without it."""

    pytest.importorskip("pengine.scheduler", reason="the scheduling engine has not landed yet")
    from pengine.api import unpack_status
    from pengine.status_text import counts_line

    for name in ("asymmetrical-order-move", "8-am-then-bm-a-migrating-b-stopping",
                 "unmanaged-stop-4", "994", "interleave-stop", "simple1"):
        text = (shared / f"conformance/scheduler/summary/{name}.summary").read_text()
        wanted = [line for line in text.splitlines() if "resource instances DISABLED" in line]
        xml = (shared / f"conformance/scheduler/xml/{name}.xml").read_bytes()
        line = counts_line(unpack_status(xml))
        assert ([line] if line else []) == wanted, name


def test_readable_interval() -> None:
    from pengine.status_text import readable_interval

    # values as crm_mon prints them in the corpus failures (after 30.160s, 58ms, 2m-interval)
    assert [readable_interval(ms) for ms in (30160, 58, 120000, 10000, 0, 3723000)] == \
        ["30.160s", "58ms", "2m", "10s", "0s", "1h2m3s"]
    # a unit is used only above it: group-dependents' 1000 ms monitor is a
    # "1000ms-interval monitor", ocf_degraded-remap-ocf_ok's 60000 ms one "60s-interval"
    assert [readable_interval(ms) for ms in (1000, 60000)] == ["1000ms", "60s"]


FAILED_ACTION_CASES = ["simple4", "migration-ping-pong", "bug-5140-require-all-false",
                       "bug-cl-5170", "rec-rsc-2", "1360", "stopped-monitor-06",
                       "unmanaged-block-restart"]


@pytest.mark.oracle
@pytest.mark.parametrize("name", FAILED_ACTION_CASES)
def test_failed_actions_like_crm_mon(shared: Path, name: str) -> None:
    """Failed Resource Actions lines against Pacemaker's crm_mon reading the same CIB file."""
    import os
    import subprocess

    crm_mon = pacemaker_tool("crm_mon")
    if crm_mon is None:
        pytest.skip("Pacemaker's crm_mon is not installed")
    pytest.importorskip("pengine.scheduler", reason="the scheduling engine has not landed yet")
    from pengine.api import unpack_status
    from pengine.status_text import failed_action_line

    path = shared / f"conformance/scheduler/xml/{name}.xml"
    env = dict(os.environ, CIB_file=str(path), LC_ALL="C", TZ="UTC")
    shown = subprocess.run([crm_mon, "-1"], env=env, capture_output=True, text=True,
                           timeout=60, check=False).stdout
    section = shown.split("Failed Resource Actions:")[1]
    want = sorted(line[4:] for line in section.splitlines() if line.startswith("  * "))
    got = sorted(failed_action_line(op) for op in unpack_status(path.read_bytes())
                 .failed_operations)
    assert got == want
