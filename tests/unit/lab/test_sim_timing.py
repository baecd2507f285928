"""Timing of heartbeat, lrmd and stonithd, exact on the whole-cluster simulator's clock.

These replace the wall-clock bounds the integration tests used to assert (which a loaded
machine breaks): detection at warntime/deadtime after the last heartbeat, recurring
monitors every interval after the previous run, timeouts killing agents at the timeout
and SIGKILL one kill-grace later, fencing queries ending at the query timeout.
"""

from __future__ import annotations

import pytest

from lab.sim import ALL_DAEMONS, SimConfig, Simulation, stabilize
from lrmd.api import AgentSpec, ExecRequest, OpCompleted, Submit
from messaging.heartbeat.api import NodeState, NodeStatusChanged
from messaging.heartbeat.events import Stopping
from messaging.types import OpStatus
from stonithd import api as fencing

LATENCY = 0.001  # the simulated LAN's one-way delay
CIB = ('<cib><configuration><resources><primitive id="d1" class="stonith" type="fence_sim">'
       '<instance_attributes id="d1-ia"><nvpair id="d1-h" name="pcmk_host_list" '
       'value="n1 n2 n3"/></instance_attributes></primitive></resources>'
       '</configuration></cib>')


def cluster(**settings: object) -> Simulation:
    config = SimConfig(fencing_cib=CIB, lrmd_kill_grace=1.0, **settings)  # type: ignore[arg-type]
    sim = Simulation(ALL_DAEMONS, seed=3, config=config)
    sim.add_nodes(["n1", "n2", "n3"])
    assert stabilize(sim, 5) is not None
    return sim


def statuses(sim: Simulation, observer: str, node: str) -> list[tuple[NodeState, float]]:
    return [(e.event.status, e.when) for e in sim.trace if e.node == observer
            and isinstance(e.event, NodeStatusChanged) and e.event.node == node]


def test_heartbeat_says_late_at_warntime_and_dead_at_deadtime_after_the_last_beat() -> None:
    sim = cluster(keepalive=0.2, deadtime=1.0, warntime=0.5)
    sim.run_for(1.0)
    sim.kill("n3")
    last_sent = max(when for when, node, _, _ in sim.wire_log if node == "n3")
    sim.run_for(2.0)
    for observer in ("n1", "n2"):
        (late, late_at), (dead, dead_at) = statuses(sim, observer, "n3")[-2:]
        assert (late, dead) == (NodeState.LATE, NodeState.DEAD)
        assert late_at == pytest.approx(last_sent + LATENCY + 0.5, abs=1e-9)
        assert dead_at == pytest.approx(last_sent + LATENCY + 1.0, abs=1e-9)


def test_a_clean_stop_is_dead_for_the_peers_one_network_delay_later() -> None:
    sim = cluster()
    stopped = sim.now
    sim.feed("n2", "heartbeat", Stopping(sim.now))
    sim.kill("n2")
    sim.run_for(0.1)
    assert statuses(sim, "n1", "n2")[-1] == (NodeState.DEAD, pytest.approx(stopped + LATENCY))


def submit(sim: Simulation, node: str, resource: str, action: str, *, interval_ms: int = 0,
           timeout_ms: int = 20000) -> None:
    request = ExecRequest(resource, AgentSpec("ocf", "Dummy", "heartbeat"), action,
                          interval_ms=interval_ms, timeout_ms=timeout_ms)
    sim.feed(node, "lrmd", Submit(request, sim.now, "client:t", sim.scheduler.wall()))


def results(sim: Simulation, node: str, resource: str) -> list[tuple[float, OpCompleted]]:
    return [(e.when, e.event) for e in sim.trace
            if e.node == node and isinstance(e.event, OpCompleted)
            and e.event.resource == resource]


def agents(sim: Simulation) -> object:
    config = sim.config
    assert isinstance(config, SimConfig)
    return config.resource_agents


def test_a_recurring_monitor_runs_one_interval_after_the_previous_run_ended() -> None:
    sim = cluster()
    submit(sim, "n1", "A", "start")
    sim.run_for(1.0)
    begun = sim.now
    submit(sim, "n1", "A", "monitor", interval_ms=2000)
    sim.run_for(7.0)
    starts = [when for when, node, rsc, action, _ in agents(sim).runs  # type: ignore[attr-defined]
              if (node, rsc, action) == ("n1", "A", "monitor")]
    duration = agents(sim).default_duration  # type: ignore[attr-defined]
    assert starts == pytest.approx([begun, begun + duration + 2.0,
                                    begun + 2 * (duration + 2.0), begun + 3 * (duration + 2.0)])


def test_a_failed_resource_is_reported_by_the_next_monitor_once() -> None:
    # later runs failing the same way are not reported again (Pacemaker's executor reports
    # recurring results to its controller on change only)
    sim = cluster()
    submit(sim, "n2", "B", "start")
    submit(sim, "n2", "B", "monitor", interval_ms=2000)
    sim.run_for(1.0)
    failed_at = sim.now
    agents(sim).fail(sim.daemon("n2", "lrmd"), "B")  # type: ignore[attr-defined]
    sim.run_for(5.0)
    failures = [(when, r.rc) for when, r in results(sim, "n2", "B") if r.rc != 0]
    assert [rc for _, rc in failures] == [7]
    assert failures[0][0] <= failed_at + 2.0 + agents(sim).default_duration  # type: ignore[attr-defined]


@pytest.mark.parametrize(("ignores_term", "ends_after"), [(False, 0.5), (True, 1.5)])
def test_a_hung_agent_is_killed_at_its_timeout_then_sigkill_after_the_grace(
        ignores_term: bool, ends_after: float) -> None:
    sim = cluster()
    agents(sim).hang.add(("n1", "H", "start"))  # type: ignore[attr-defined]
    agents(sim).ignore_term = ignores_term  # type: ignore[attr-defined]
    begun = sim.now
    submit(sim, "n1", "H", "start", timeout_ms=500)
    submit(sim, "n1", "Q", "start")  # another resource is not held up by the hung one
    sim.run_for(3.0)
    (when, hung), = results(sim, "n1", "H")
    assert hung.status == OpStatus.TIMEOUT and when == pytest.approx(begun + ends_after)
    assert hung.exec_time_ms == round(ends_after * 1000)
    (quick_at, quick), = results(sim, "n1", "Q")
    assert quick.rc == 0 and quick_at == pytest.approx(begun + 0.05)


def test_a_fencing_query_waits_for_a_silent_peer_exactly_the_query_timeout() -> None:
    sim = cluster(deadtime=10.0, fence_query_timeout=5.0)  # ccm keeps n3 in the view
    sim.network.groups = [frozenset({"n1", "n2"}), frozenset({"n3"})]
    asked = sim.now
    request = fencing.FenceRequest("n2", "off", 60)
    sim.feed("n1", "stonithd", fencing.ClientRequest("client:f", request, sim.now, 0.0))
    sim.run_for(8.0)
    config = sim.config
    assert isinstance(config, SimConfig)
    (node,) = [n for n, r in config.fence_devices.runs if r.run_id.startswith("fence")]
    (off_at,) = [e.when for e in sim.trace if e.node == "n2" and e.event == "killed"]
    # the device ran on n1 once the query gave up on n3, and switched n2 off when done
    assert node == "n1"
    assert off_at == pytest.approx(asked + 5.0 + config.fence_devices.default_duration)
