"""The controller of a non-DC node is killed again and again (kill -9; the launcher
respawns it): the DC keeps answering (`crmadmin -D`) and returns to S_IDLE with the node
joined each time, and the demo group keeps running where it ran (by its lrmd's own history:
no start or stop), nothing fenced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmd_lab_helpers import Lab, demo_cluster, idle_dc, lab_exec, nodes_running, wait_for
from lab_names import NAMESPACE_LAB_MARKS, lab_name

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hcrespwn")
NODES = ["n1", "n2", "n3"]
KILLS = 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[Lab]:
    yield from demo_cluster(NAME)


def _exec(cluster: Lab, node: str, *command: str) -> str:
    """The command's output on NODE; it must succeed."""
    done = lab_exec(cluster, node, *command)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _crmd_pid(cluster: Lab, node: str) -> int | None:
    """The pid of `node`'s controller inside the node's own pid namespace."""
    for line in _exec(cluster, node, "ps", "-eo", "pid,args").splitlines():
        fields = line.split()
        if fields[2:4] == ["-m", "crmd"]:
            return int(fields[0])
    return None


def _agent_runs(cluster: Lab, node: str, resource: str) -> list[str] | None:
    """The start/stop calls `node`'s lrmd made for `resource` (None while it is down)."""
    from lrmd.api import HistoryReply, HistoryRequest, LrmdClient
    from messaging.errors import HAError

    try:
        with LrmdClient(cluster.state_dir(node), timeout=2.0) as client:
            reply = client.request(HistoryRequest(resource))
    except HAError:
        return None
    assert isinstance(reply, HistoryReply)
    return [f"{r.action}:{r.call_id}" for r in reply.records if r.action in ("start", "stop")]


def _respawned(cluster: Lab, node: str, old: int) -> int | None:
    pid = _crmd_pid(cluster, node)
    return pid if pid is not None and pid != old else None


@pytest.mark.slow
def test_killing_a_controller_repeatedly_keeps_the_dc_and_the_resources(
        cluster: Lab) -> None:
    dc = wait_for("an idle DC", lambda: idle_dc(cluster, NODES))
    victim = next(n for n in reversed(NODES) if n != dc)
    hosts = wait_for("demo-service running", lambda: nodes_running(
        cluster, NODES, "demo-service") or None)
    runs = {n: _agent_runs(cluster, n, "demo-service") for n in NODES}
    for _ in range(KILLS):
        old = _crmd_pid(cluster, victim)
        assert old is not None, f"no crmd on {victim}"
        _exec(cluster, victim, "kill", "-9", str(old))
        answer = _exec(cluster, dc, "crmadmin", "-D")
        assert f"Designated Controller is: {dc}" in answer, answer
        wait_for(f"{victim}'s crmd respawned", lambda old=old: _respawned(cluster, victim, old))
        assert wait_for(f"{victim} joined, DC idle", lambda: idle_dc(cluster, NODES)) == dc
    assert nodes_running(cluster, NODES, "demo-service") == hosts
    assert {n: _agent_runs(cluster, n, "demo-service") for n in NODES} == runs
    status = _exec(cluster, dc, "crm_mon", "-1")
    assert "UNCLEAN" not in status and "OFFLINE" not in status, status
