"""DC election: exactly one DC per partition within the bound, deterministic, no storms."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crmd.election import Election, ElectionTiming, ViewChanged, beats
from crmd.messages import Credentials, DcClaim, PeerMessage, Vote
from messaging.effects import Node, Send
from tests.unit.crmd.netsim import Net

TIMING = ElectionTiming(election_timeout=2.0, dc_deadtime=2.0, holdoff=1.0)
BOUND = TIMING.dc_deadtime + TIMING.holdoff + 2 * TIMING.election_timeout + 0.5


def names(count: int) -> list[str]:
    return [f"node{i}" for i in range(1, count + 1)]


def test_preference_order_is_pacemakers() -> None:
    old = Credentials("zeta", "3.16.2", 100.0)
    young = Credentials("alpha", "3.16.2", 200.0)
    assert beats(old, young), "the older controller wins"
    assert beats(Credentials("b", "3.10.0", 500.0), old), "the lower feature set wins first"
    assert beats(Credentials("Alpha", "3.16.2", 100.0), Credentials("beta", "3.16.2", 100.0))
    assert beats(Credentials("a", "3.9.0", 1.0), Credentials("a", "3.10.0", 1.0)), \
        "versions compare numerically"


def test_three_nodes_elect_the_oldest_once() -> None:
    net = Net(names(3), TIMING)
    net.start_all()
    net.run_until(BOUND)
    assert net.agreed()
    assert net.nodes["node1"].is_dc  # booted first: the oldest
    assert sum(n.elections_started for n in net.nodes.values()) <= 3


def test_single_node_becomes_dc_after_dc_deadtime() -> None:
    node = Election(Credentials("solo", "3.16.2", 0.0), TIMING)
    effects = node.start(0.0)
    effects += node.handle(ViewChanged(("solo",), 0.0))
    assert not node.is_dc
    from messaging.effects import TimerFired
    node.handle(TimerFired("election:dc-wait", 2.0))
    assert node.is_dc


def test_dc_death_gives_a_new_dc_within_the_bound() -> None:
    net = Net(names(5), TIMING)
    net.start_all()
    net.run_until(BOUND)
    killed_at = net.now
    net.kill("node1")
    net.run_until(killed_at + TIMING.election_timeout + 0.5)
    assert net.agreed()
    assert net.nodes["node2"].is_dc


def test_split_and_heal_keep_one_dc_per_partition() -> None:
    net = Net(names(5), TIMING)
    net.start_all()
    net.run_until(BOUND)
    net.partition([["node1", "node2"], ["node3", "node4", "node5"]])
    net.run_until(net.now + BOUND)
    assert net.agreed() and len(net.groups) == 2
    assert net.nodes["node3"].is_dc
    net.partition([names(5)])
    net.run_until(net.now + BOUND)
    assert net.agreed() and net.nodes["node1"].is_dc


def test_flapping_non_dc_node_causes_no_election_in_the_stable_partition() -> None:
    net = Net(names(4), TIMING)
    net.start_all()
    net.run_until(BOUND)
    before = {n: net.votes_sent.get(n, 0) for n in ("node1", "node2", "node3")}
    for _ in range(10):
        net.partition([["node1", "node2", "node3"], ["node4"]])
        net.run_until(net.now + 0.3)
        net.partition([names(4)])
        net.run_until(net.now + 0.3)
    net.run_until(net.now + BOUND)
    assert {n: net.votes_sent.get(n, 0) for n in before} == before
    assert net.agreed() and net.nodes["node1"].is_dc


def test_dampening_spaces_elections_of_a_flapping_dc() -> None:
    net = Net(names(3), TIMING)
    net.start_all()
    net.run_until(BOUND)
    started = net.nodes["node2"].elections_started
    begin = net.now
    for _ in range(10):  # the DC drops out and comes back every 0.1 s for 2 s
        net.partition([["node1"], ["node2", "node3"]])
        net.run_until(net.now + 0.1)
        net.partition([names(3)])
        net.run_until(net.now + 0.1)
    elapsed = net.now - begin
    extra = net.nodes["node2"].elections_started - started
    assert extra <= elapsed / TIMING.holdoff + 1
    net.run_until(net.now + BOUND)
    assert net.agreed()


def test_dc_answers_a_newcomers_vote_with_its_claim() -> None:
    dc = Election(Credentials("a", "3.16.2", 1.0), TIMING)
    dc.handle(ViewChanged(("a",), 0.0))
    from messaging.effects import TimerFired
    dc.handle(TimerFired("election:dc-wait", 2.0))
    assert dc.is_dc
    dc.handle(ViewChanged(("a", "b"), 3.0))
    effects = dc.handle(PeerMessage("b", Vote(1, Credentials("b", "3.16.2", 5.0)), 3.1))
    assert effects == [Send(Node("b"), DcClaim(dc.credentials))]
    assert dc.is_dc


STEP = st.one_of(
    st.tuples(st.just("split"), st.lists(st.integers(0, 2), min_size=6, max_size=6)),
    st.tuples(st.just("kill"), st.integers(0, 5)),
    st.tuples(st.just("revive"), st.integers(0, 5)),
    st.tuples(st.just("heal"), st.just(0)),
)


def _play(steps: list[tuple[str, object]], gaps: list[float]) -> Net:
    net = Net(names(6), TIMING)
    net.start_all()
    net.run_until(BOUND)
    for (kind, arg), gap in zip(steps, gaps, strict=False):
        everyone = names(6)
        if kind == "split":
            assert isinstance(arg, list)
            net.partition([[n for n, g in zip(everyone, arg, strict=True) if g == side]
                           for side in range(3)])
        elif kind == "kill" and len(net.alive) > 1:
            assert isinstance(arg, int)
            net.kill(everyone[arg])
        elif kind == "revive":
            assert isinstance(arg, int)
            if everyone[arg] not in net.alive:
                net.revive(everyone[arg], join=sorted(net.alive)[0])
        elif kind == "heal":
            net.partition([sorted(net.alive)])
        net.run_until(net.now + gap)
    net.run_until(net.now + BOUND)
    return net


@settings(max_examples=60, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=12),
       st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0, 3.0]), min_size=12, max_size=12))
def test_every_partition_converges_on_one_dc_within_the_bound(
        steps: list[tuple[str, object]], gaps: list[float]) -> None:
    net = _play(steps, gaps)
    assert net.agreed(), net.dc_views()
    again = _play(steps, gaps)
    assert again.dc_views() == net.dc_views(), "same inputs, same result"


def test_a_vote_from_a_restarted_dc_controller_means_the_dc_is_gone() -> None:
    follower = Election(Credentials("b", "3.16.2", 5.0), TIMING)
    follower.handle(ViewChanged(("a", "b"), 0.0))
    old = Credentials("a", "3.16.2", 1.0)
    follower.handle(PeerMessage("a", DcClaim(old), 0.1))
    assert follower.dc == "a"
    restarted = Credentials("a", "3.16.2", 50.0)  # younger than b now
    effects = follower.handle(PeerMessage("a", Vote(1, restarted), 50.0))
    assert follower.dc is None or follower.candidate
    assert any(isinstance(e, Send) and isinstance(e.message, Vote) for e in effects), \
        "b is now the better candidate and votes"
