"""Properties of ccm agreement under random faults in the deterministic simulator."""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lab.sim import Cluster, Network

NAMES = ["n1", "n2", "n3", "n4", "n5"]


def _views_are_consistent(cluster: Cluster) -> list[str]:
    """Same (view id, coordinator) must mean same members; view ids never go down."""
    problems: list[str] = []
    seen: dict[tuple[int, str], tuple[str, ...]] = {}
    last: dict[str, int] = {}
    for _, node, event in cluster.events:
        key = (event.view_id, event.coordinator)
        if seen.setdefault(key, event.members) != event.members:
            problems.append(f"view {key} has two member lists")
        if event.view_id < last.get(node, 0):
            problems.append(f"{node} went back from view {last[node]} to {event.view_id}")
        last[node] = event.view_id
    return problems


fault = st.one_of(
    st.tuples(st.just("partition"), st.lists(st.integers(0, 2), min_size=5, max_size=5)),
    st.tuples(st.just("kill"), st.sampled_from(NAMES)),
    st.tuples(st.just("start"), st.sampled_from(NAMES)),
    st.tuples(st.just("heal"), st.none()),
    st.tuples(st.just("cut"), st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES))),
    st.tuples(st.just("loss"), st.tuples(st.sampled_from(NAMES), st.sampled_from([0.1, 0.3]))),
)


def _apply(cluster: Cluster, kind: str, arg: object) -> None:
    network = cluster.network
    if kind == "partition":
        assert isinstance(arg, list)
        groups: dict[int, set[str]] = {}
        for name, group in zip(NAMES, arg, strict=True):
            groups.setdefault(group, set()).add(name)
        network.groups = [frozenset(g) for g in groups.values()]
    elif kind == "kill":
        cluster.kill(str(arg))
    elif kind == "start" and not cluster.nodes[str(arg)].alive:
        cluster.start(str(arg))
    elif kind == "heal":
        network.groups, network.loss = [], {}
        network.cut_links.clear()
    elif kind == "cut":
        assert isinstance(arg, tuple)
        network.cut_links.add((arg[0], arg[1]))
    elif kind == "loss":
        assert isinstance(arg, tuple)
        network.loss[arg[0]] = arg[1]


@settings(max_examples=40, deadline=None)
# Found by CI: n2 restarted alone in a partition and reused view 1 after having seen view 2
# (fixed by persisting the last view id across restarts).
@example(seed=0, faults=[("partition", [0, 0, 0, 0, 1]), ("kill", "n2"),
                         ("partition", [0, 1, 0, 0, 0]), ("start", "n2")],
         gaps=[2.0, 0.0, 0.0, 0.0, 0.0, 0.0])
@given(seed=st.integers(0, 10_000), faults=st.lists(fault, max_size=6),
       gaps=st.lists(st.floats(0.0, 3.0), min_size=6, max_size=6))
def test_random_faults_end_in_agreement(seed: int, faults: list[tuple[str, object]],
                                        gaps: list[float]) -> None:
    cluster = Cluster(seed=seed, keepalive=0.2, deadtime=1.0)
    cluster.add_nodes(NAMES)
    assert cluster.stabilize(limit=5) is not None
    for (kind, arg), gap in zip(faults, gaps, strict=False):
        _apply(cluster, kind, arg)
        cluster.run_for(gap)
    # Symmetric faults (partitions, kills) must settle within deadtime + a few rounds.
    cluster.network.loss = {}
    cluster.network.cut_links.clear()
    took = cluster.stabilize(limit=10)
    assert took is not None, cluster.agreement_problems()
    assert not _views_are_consistent(cluster)


def test_kill_is_detected_within_deadtime_plus_keepalive_and_a_round() -> None:
    worst = 0.0
    for seed in range(20):
        cluster = Cluster(seed=seed, keepalive=0.2, deadtime=1.0)
        cluster.add_nodes(NAMES[:3])
        assert cluster.stabilize(limit=5) is not None
        victim = NAMES[seed % 3]
        cluster.kill(victim)
        took = cluster.stabilize(limit=5)
        assert took is not None
        worst = max(worst, took)
    assert worst <= 1.0 + 0.2 + 0.2, worst


def test_thirty_percent_loss_with_deadtime_eight_keepalives_changes_nothing() -> None:
    cluster = Cluster(seed=11, keepalive=0.2, deadtime=1.6)
    cluster.add_nodes(NAMES[:3])
    assert cluster.stabilize(limit=5) is not None
    before = len(cluster.events)
    cluster.network.loss["n2"] = 0.3
    cluster.run_for(120)
    assert cluster.events[before:] == []


def test_network_fault_model() -> None:
    net = Network(random.Random(1), delay=0.01, jitter=0.0, duplicate=0.5)
    fates = [net.fates("a", "b") for _ in range(2000)]
    assert all(f and all(d == 0.01 for d in f) for f in fates)
    assert 800 < sum(len(f) == 2 for f in fates) < 1200
    net = Network(random.Random(2), loss={"b": 0.3})
    lost = sum(not net.fates("a", "b") for _ in range(4000))
    assert 1000 < lost < 1400 and net.dropped == lost
    net = Network(random.Random(3), groups=[frozenset({"a"}), frozenset({"b"})])
    assert net.fates("a", "b") == [] and not net.connected("b", "a")
    net = Network(random.Random(3), cut_links={("a", "b")})
    assert net.fates("a", "b") == [] and net.connected("b", "a")
