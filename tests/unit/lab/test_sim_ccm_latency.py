"""ccm agreement latency at 16 nodes, on the fake clock: kill -> every survivor's new view.

The namespace lab measured 320-360 ms of ccm work after heartbeat declared a death at 16
nodes (keepalive 200 ms), against a budget of deadtime + 1 keepalive from the kill. The
exact simulator (no costs) agrees within a few ms of the last detection, so the time went
to load: every datagram costs a loaded host's heartbeat time, and a daemon's requests to
heartbeat go one at a time. With those two costs (3 ms per received datagram, 15 ms per
request: the lab's 16 nodes x 4 daemons on 2 shared cores) the simulator reproduces the
lab's figure with the old core (1.295 s) and shows the fix (1.146 s).

At keepalive 100 ms the lab still missed (p99 0.703 s against 0.6 s). A closer model of
the lab host: every node's heartbeat shares 2 cores (`host_cores`) at 0.3 ms of CPU per
received datagram, requests to heartbeat take 5 ms each, one at a time. It reproduces the
lab: 138 ms from the last detection to agreement at 100 ms (budget 100 ms), 109 ms at
200 ms (budget 200 ms). Every ccm datagram reaches every node (heartbeat's stream is per
sender, so even a message to the coordinator is received and checked by all 15), and the
15 Reach after the loss and the 15 after the commit were 420 of the ~700 receptions. With
members silent about a loss their coordinator's heartbeat also sees, and no Reach after
an install, it takes 81 ms.
"""

from __future__ import annotations

import pytest

from lab.sim import MEMBERSHIP, SimConfig, Simulation, stabilize

KEEPALIVE = 0.2
DEADTIME = 5 * KEEPALIVE
NAMES = [f"n{i:02d}" for i in range(1, 17)]


def kill_just_after_a_beat(sim: Simulation, victim: str) -> None:
    """The worst moment: the victim's last keepalive just left, so heartbeat needs the
    whole deadtime and ccm has only one keepalive of the budget."""
    mark = len(sim.wire_log)
    assert sim.run_until_true(lambda: any(w[1] == victim for w in sim.wire_log[mark:]),
                              1.0, 0.0005) is not None
    sim.kill(victim)


def agreement_after_kill(seed: int, victim: str, *, rx_cost: float, ipc_delay: float,
                         keepalive: float = KEEPALIVE, host_cores: int = 0) -> float:
    """Seconds from the kill until every survivor installed a view without `victim`; the
    costs apply once the cluster is up (start-up is not what is measured)."""
    sim = Simulation(MEMBERSHIP, seed=seed,
                     config=SimConfig(keepalive=keepalive, deadtime=5 * keepalive))
    sim.add_nodes(NAMES)
    assert stabilize(sim, 10) is not None
    sim.network.rx_cost, sim.network.host_cores = rx_cost, host_cores
    sim.ipc_delay = ipc_delay
    sim.run_for(1.0)
    kill_just_after_a_beat(sim, victim)
    took = stabilize(sim, 5, step=0.001)
    assert took is not None
    return took


@pytest.mark.parametrize("victim", ["n01", "n07"])  # the coordinator and a member
def test_sixteen_nodes_agree_within_deadtime_plus_a_keepalive_on_a_loaded_host(
        victim: str) -> None:
    took = agreement_after_kill(3, victim, rx_cost=0.003, ipc_delay=0.015)
    assert took <= DEADTIME + KEEPALIVE, took


@pytest.mark.parametrize("keepalive", [0.1, 0.2])
def test_without_load_ccm_needs_only_a_few_milliseconds_after_the_death(
        keepalive: float) -> None:
    took = agreement_after_kill(5, "n01", rx_cost=0.0, ipc_delay=0.0, keepalive=keepalive)
    assert 5 * keepalive - keepalive <= took <= 5 * keepalive + 0.02, took


@pytest.mark.parametrize("keepalive", [0.1, 0.2])
@pytest.mark.parametrize("victim", ["n01", "n07"])
def test_sixteen_nodes_on_two_shared_cores_agree_within_deadtime_plus_a_keepalive(
        victim: str, keepalive: float) -> None:
    took = agreement_after_kill(3, victim, rx_cost=0.0003, ipc_delay=0.005,
                                keepalive=keepalive, host_cores=2)
    assert took <= 6 * keepalive, took
