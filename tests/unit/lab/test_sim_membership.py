"""Membership in the whole-cluster simulator: real heartbeat + ccm cores, fake clock.

Properties under random faults (hypothesis), detection bounds with exact times, lossy
links, two links, restarts and partitions; plus the network fault model itself.
"""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lab.sim import (
    MEMBERSHIP,
    Network,
    SimConfig,
    Simulation,
    agreement_problems,
    membership_events,
    stabilize,
    view,
)

NAMES = ["n1", "n2", "n3", "n4", "n5"]
ALL = ("n1", "n2", "n3")


def cluster(names: list[str] | tuple[str, ...], seed: int = 1, deadtime: float = 1.0,
            links: tuple[str, ...] = ("eth0",)) -> Simulation:
    sim = Simulation(MEMBERSHIP, seed=seed, links=links,
                     config=SimConfig(keepalive=0.2, deadtime=deadtime, links=links))
    sim.add_nodes(names)
    assert stabilize(sim, 5) is not None, agreement_problems(sim)
    return sim


def _views_are_consistent(sim: Simulation) -> list[str]:
    """Same (view id, coordinator) must mean same members; view ids never go down."""
    problems: list[str] = []
    seen: dict[tuple[int, str], tuple[str, ...]] = {}
    last: dict[str, int] = {}
    for _, node, event in membership_events(sim):
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


def _apply(sim: Simulation, kind: str, arg: object) -> None:
    network = sim.network
    if kind == "partition":
        assert isinstance(arg, list)
        groups: dict[int, set[str]] = {}
        for name, group in zip(NAMES, arg, strict=True):
            groups.setdefault(group, set()).add(name)
        network.groups = [frozenset(g) for g in groups.values()]
    elif kind == "kill":
        sim.kill(str(arg))
    elif kind == "start":
        sim.start(str(arg))
    elif kind == "heal":
        network.heal()
    elif kind == "cut":
        assert isinstance(arg, tuple)
        network.cut(arg[0], arg[1])
    elif kind == "loss":
        assert isinstance(arg, tuple)
        network.loss[arg[0]] = arg[1]


@settings(max_examples=15, deadline=None)
# Found by CI: n2 restarted alone in a partition and reused view 1 after having seen view 2
# (fixed by persisting the last view id across restarts).
@example(seed=0, faults=[("partition", [0, 0, 0, 0, 1]), ("kill", "n2"),
                         ("partition", [0, 1, 0, 0, 0]), ("start", "n2")],
         gaps=[2.0, 0.0, 0.0, 0.0, 0.0, 0.0])
@given(seed=st.integers(0, 10_000), faults=st.lists(fault, max_size=6),
       gaps=st.lists(st.floats(0.0, 3.0), min_size=6, max_size=6))
def test_random_faults_end_in_agreement(seed: int, faults: list[tuple[str, object]],
                                        gaps: list[float]) -> None:
    sim = cluster(NAMES, seed=seed)
    for (kind, arg), gap in zip(faults, gaps, strict=False):
        _apply(sim, kind, arg)
        sim.run_for(gap)
    # Symmetric faults (partitions, kills) must settle within deadtime + a few rounds.
    sim.network.loss = {}
    sim.network.cut_links.clear()
    took = stabilize(sim, limit=10)
    assert took is not None, agreement_problems(sim)
    assert not _views_are_consistent(sim)


def test_kill_is_detected_within_deadtime_plus_keepalive() -> None:
    worst = 0.0
    for seed in range(10):
        sim = cluster(NAMES[:3], seed=seed)
        sim.kill(NAMES[seed % 3])
        took = stabilize(sim, limit=5, step=0.001)
        assert took is not None
        worst = max(worst, took)
    assert 0.8 <= worst <= 1.0 + 0.2, worst


def test_thirty_percent_loss_with_deadtime_eight_keepalives_changes_nothing() -> None:
    sim = cluster(ALL, seed=11, deadtime=1.6)
    before = len(membership_events(sim))
    sim.network.loss["n2"] = 0.3
    sim.run_for(60)
    assert membership_events(sim)[before:] == []


def test_boot_kill_restart_partition_heal() -> None:
    sim = cluster(ALL, seed=2)
    sim.kill("n3")
    assert (stabilize(sim, 5, step=0.005) or 99) <= 1.0 + 0.2 + 0.1
    sim.start("n3")
    assert stabilize(sim, 5) is not None
    sim.network.groups = [frozenset({"n1", "n2"}), frozenset({"n3"})]
    assert stabilize(sim, 5) is not None
    quorate = {n: sim.core(n, "ccm").quorum_state.quorate for n in ALL}
    assert quorate == {"n1": True, "n2": True, "n3": False}
    sim.network.heal()
    assert stabilize(sim, 5) is not None
    ids = [event.view_id for _, node, event in membership_events(sim) if node == "n1"]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_one_dead_link_of_two_changes_nothing() -> None:
    sim = cluster(ALL, links=("eth0", "eth1"))
    before = [view(sim, n) for n in ALL]
    for a, b in (("n1", "n2"), ("n1", "n3"), ("n2", "n3")):
        sim.network.cut(a, b, "eth0", both=True)
    sim.run_for(5)
    assert [view(sim, n) for n in ALL] == before
    sim.network.cut("n1", "n2", "eth1", both=True)  # now n1 and n2 share no link at all
    sim.run_for(3)
    groups = {tuple(view(sim, n).members) for n in ALL}
    assert groups == {("n1", "n3"), ("n2",)}


def test_ten_percent_drop_on_the_link_with_deadtime_of_eight_keepalives_keeps_the_view() -> None:
    sim = cluster(ALL, seed=5, deadtime=1.6)
    before = [view(sim, n) for n in ALL]
    sim.network.links["eth0"].drop = 0.1
    sim.run_for(60)
    assert [view(sim, n) for n in ALL] == before


def test_network_fault_model() -> None:
    net = Network(random.Random(1))
    net.links["eth0"].latency, net.links["eth0"].duplicate = 0.01, 0.5
    fates = [net.fates("a", "b") for _ in range(2000)]
    assert all(f and all(d == 0.01 for d in f) for f in fates)
    assert 800 < sum(len(f) == 2 for f in fates) < 1200
    net = Network(random.Random(2), loss={"b": 0.3})
    lost = sum(not net.fates("a", "b") for _ in range(4000))
    assert 1000 < lost < 1400 and net.dropped == lost
    net = Network(random.Random(3), groups=[frozenset({"a"}), frozenset({"b"})])
    assert net.fates("a", "b") == [] and not net.connected("b", "a")
    net = Network(random.Random(3))
    net.cut("a", "b")
    assert net.fates("a", "b") == [] and net.connected("b", "a")


def test_receive_cost_queues_a_burst() -> None:
    net = Network(random.Random(1), rx_cost=0.003)
    assert [round(net.processed_at("a", 1.0), 3) for _ in range(3)] == [1.003, 1.006, 1.009]
    assert net.processed_at("b", 1.0) == 1.003
