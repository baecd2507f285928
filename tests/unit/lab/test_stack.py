"""ccm cores on top of the real heartbeat cores (messaging SimNet): the whole membership
stack in memory, driven by a FakeClock."""

from __future__ import annotations

import pytest

from lab.stack import StackCluster

ALL = ("n1", "n2", "n3")


def settle(cluster: StackCluster, groups: list[tuple[str, ...]], limit: float = 10.0) -> float:
    start = cluster.now
    while cluster.now - start < limit:
        views = {g: {cluster.view(n) for n in g} for g in groups}
        if all(len(v) == 1 and next(iter(v))[1] == g for g, v in views.items()):
            return cluster.now - start
        cluster.run_for(0.01)
    pytest.fail(f"no agreement on {groups}: {[cluster.view(n) for n in cluster.names]}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_boot_kill_restart_partition_heal(seed: int) -> None:
    cluster = StackCluster(list(ALL), keepalive=0.2, deadtime=1.0, seed=seed)
    settle(cluster, [ALL])
    cluster.kill("n3")
    assert settle(cluster, [("n1", "n2")]) <= 1.0 + 0.2 + 0.1
    cluster.restart("n3")
    settle(cluster, [ALL])
    cluster.net.partition("n1", "n3")
    cluster.net.partition("n2", "n3")
    settle(cluster, [("n1", "n2"), ("n3",)])
    quorate = {n: cluster.ccm[n].node.quorum_state.quorate for n in ALL}
    assert quorate == {"n1": True, "n2": True, "n3": False}
    cluster.net.partition("n1", "n3", cut=False)
    cluster.net.partition("n2", "n3", cut=False)
    settle(cluster, [ALL])
    ids = [event.view_id for _, node, event in cluster.events if node == "n1"]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_one_dead_link_of_two_changes_nothing() -> None:
    cluster = StackCluster(list(ALL), keepalive=0.2, deadtime=1.0, links=("eth0", "eth1"))
    settle(cluster, [ALL])
    before = [cluster.view(n) for n in ALL]
    for a, b in (("n1", "n2"), ("n1", "n3"), ("n2", "n3")):
        cluster.net.partition(a, b, link="eth0")
    cluster.run_for(5)
    assert [cluster.view(n) for n in ALL] == before
    cluster.net.partition("n1", "n2", link="eth1")  # now n1 and n2 share no link at all
    settle(cluster, [("n1", "n3"), ("n2",)])


def test_lossy_links_with_deadtime_of_eight_keepalives_keep_the_view() -> None:
    cluster = StackCluster(list(ALL), keepalive=0.2, deadtime=1.6, seed=5)
    settle(cluster, [ALL])
    before = [cluster.view(n) for n in ALL]
    cluster.net.links["eth0"].drop = 0.1
    cluster.run_for(60)
    assert [cluster.view(n) for n in ALL] == before
