"""The fencer core in lab.sim (fencers alone, lab.sim.direct): fake clock, scripted agents."""

from __future__ import annotations

from lab.sim import Simulation
from lab.sim.direct import fence_runs as device_runs
from lab.sim.direct import fencing_simulation, request
from messaging.errors import ErrorReply
from stonithd.api import (
    ConfirmRequest,
    DeviceActionRequest,
    DeviceList,
    FenceRequest,
    FenceResult,
    HistoryReply,
    HistoryRequest,
    ListDevicesRequest,
    ListRegisteredRequest,
    OpState,
)
from stonithd.devices import load_config
from stonithd.events import ConfigChanged
from stonithd.executor import RunAgent
from stonithd.results import Outcome

NODES = ("n1", "n2", "n3")


def published(sim: Simulation) -> list[tuple[str, object]]:
    return [(e.node, e.event) for e in sim.trace if e.daemon == "stonithd"]


def cib(resources: str, topology: str = "", constraints: str = "") -> str:
    return (f"<cib><configuration><resources>{resources}</resources>"
            f"<constraints>{constraints}</constraints>"
            f"<fencing-topology>{topology}</fencing-topology></configuration></cib>")


def device(rid: str, **attrs: str) -> str:
    pairs = "".join(f'<nvpair id="{rid}-{k}" name="{k}" value="{v}"/>' for k, v in attrs.items())
    return (f'<primitive id="{rid}" class="stonith" type="fence_dummy">'
            f'<instance_attributes id="{rid}-ia">{pairs}</instance_attributes></primitive>')


def only_on(rid: str, node: str) -> str:
    """Constraints that let only `node` run device `rid`."""
    return "".join(f'<rsc_location id="{rid}-{n}" rsc="{rid}" node="{n}" score="-INFINITY"/>'
                   for n in NODES if n != node)


def script(failing: set[str] = frozenset(), slow: dict[str, float] | None = None):  # type: ignore[assignment]
    """Agents that fail for devices in `failing` and take `slow[device]` seconds."""
    def run(node: str, agent: RunAgent) -> tuple[Outcome, float]:
        duration = (slow or {}).get(agent.device, 0.2)
        if agent.device in failing:
            return Outcome(False, f"{agent.device} broke"), duration
        return Outcome(True, powered_on=True), duration
    return run


def fence_runs(sim: Simulation) -> list[tuple[str, str, str]]:
    return [(node, run.device, run.action) for node, run in device_runs(sim)
            if run.run_id.startswith("fence:")]


def result(sim: Simulation, client: str = "client:1") -> FenceResult:
    replies = sim.replies_to(client)
    assert len(replies) == 1, replies
    assert isinstance(replies[0], FenceResult)
    return replies[0]


def test_reboot_is_executed_by_another_node_and_every_node_learns_the_result() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3")))
    request(sim, "n2", FenceRequest("n2", "reboot", 30))
    sim.run_until_idle()
    done = result(sim)
    assert done.ok and done.executioner != "n2" and done.exit_code == 0
    assert fence_runs(sim) == [(done.executioner, "d1", "reboot")]
    assert {node for node, event in published(sim) if event.op_id == done.op_id} == set(NODES)
    for fencer in (sim.core(n, "stonithd") for n in sim.names):
        entry = fencer.history.get(done.op_id)
        assert entry is not None and entry.state == OpState.DONE
        assert entry.executioner == done.executioner and entry.origin == "n2"


def test_the_origin_is_not_preferred_a_fencer_other_than_the_target_runs_the_device() -> None:
    # Pacemaker ranks replies, not the origin: with nothing verified, the fencer other than
    # the target whose reply came last (n3's own reply is delivered first) runs the device.
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3")))
    request(sim, "n3", FenceRequest("n1", "off", 30))
    sim.run_until_idle()
    assert fence_runs(sim) == [("n2", "d1", "off")]


def test_the_target_fences_itself_only_when_nobody_else_can_and_never_for_on() -> None:
    xml = cib(device("d1", pcmk_host_list="n1"), constraints=only_on("d1", "n1"))
    sim = fencing_simulation(NODES, xml)
    request(sim, "n2", FenceRequest("n1", "reboot", 30))
    sim.run_until_idle()
    assert result(sim).ok and fence_runs(sim) == [("n1", "d1", "reboot")]
    sim = fencing_simulation(NODES, xml)
    request(sim, "n2", FenceRequest("n1", "on", 30))
    sim.run_until_idle()
    assert not result(sim).ok and fence_runs(sim) == []
    assert "no fencer can run device d1" in result(sim).reason


def test_node_without_device_asks_the_one_that_has_it() -> None:
    xml = cib(device("d1", pcmk_host_list="n1 n2 n3"), constraints=only_on("d1", "n3"))
    sim = fencing_simulation(NODES, xml)
    request(sim, "n1", FenceRequest("n2", "reboot", 30))
    sim.run_until_idle()
    assert result(sim).executioner == "n3"
    assert fence_runs(sim) == [("n3", "d1", "reboot")]


def test_failing_first_level_falls_through_to_second() -> None:
    topology = ('<fencing-level id="l1" target="n2" index="1" devices="ipmi"/>'
                '<fencing-level id="l2" target="n2" index="2" devices="pdu1,pdu2"/>')
    resources = "".join(device(d, pcmk_host_list="n2") for d in ("ipmi", "pdu1", "pdu2"))
    sim = fencing_simulation(NODES, cib(resources, topology), script=script({"ipmi"}))
    request(sim, "n1", FenceRequest("n2", "reboot", 60))
    sim.run_until_idle()
    done = result(sim)
    assert done.ok and done.device == "pdu2"
    # ipmi: the first run plus Pacemaker's default 2 retries; then the two-supply level as
    # off on every device, then on on every device (a reboot of each would never cut power)
    assert [(d, a) for _, d, a in fence_runs(sim)] == [
        ("ipmi", "reboot"), ("ipmi", "reboot"), ("ipmi", "reboot"),
        ("pdu1", "off"), ("pdu2", "off"), ("pdu1", "on"), ("pdu2", "on")]


def test_every_device_of_a_level_must_succeed_and_all_levels_failing_is_reported() -> None:
    topology = ('<fencing-level id="l1" target="n2" index="1" devices="a,b"/>'
                '<fencing-level id="l2" target="n2" index="2" devices="c"/>')
    resources = "".join(device(d, pcmk_host_list="n2", pcmk_reboot_retries="0",
                               pcmk_off_retries="0") for d in "abc")
    sim = fencing_simulation(NODES, cib(resources, topology), script=script({"b", "c"}))
    request(sim, "n1", FenceRequest("n2", "reboot", 60))
    sim.run_until_idle()
    failed = result(sim)
    assert not failed.ok and failed.exit_code == 1
    assert failed.reason.startswith("All topology levels failed")
    assert "b on n3: b broke" in failed.reason and "c on n3: c broke" in failed.reason
    assert [d for _, d, _ in fence_runs(sim)] == ["a", "b", "c"]


def test_failed_on_phase_of_a_remapped_reboot_is_reported_not_fatal() -> None:
    def agents(node: str, run: RunAgent) -> tuple[Outcome, float]:
        if run.device == "pdu2" and run.action == "on":
            return Outcome(False, "stuck"), 0.1
        return Outcome(True), 0.1
    topology = '<fencing-level id="l1" target="n2" index="1" devices="pdu1,pdu2"/>'
    resources = "".join(device(d, pcmk_host_list="n2") for d in ("pdu1", "pdu2"))
    sim = fencing_simulation(NODES, cib(resources, topology), script=agents)
    request(sim, "n1", FenceRequest("n2", "reboot", 60))
    sim.run_until_idle()
    done = result(sim)
    assert done.ok and "pdu2 on n3 (on): stuck" in done.reason
    assert [a for _, _, a in fence_runs(sim)][:3] == ["off", "off", "on"]


def test_without_topology_each_capable_device_is_tried_in_turn() -> None:
    resources = (device("a", pcmk_host_list="n2", pcmk_off_retries="0")
                 + device("b", pcmk_host_list="n2"))
    sim = fencing_simulation(NODES, cib(resources), script=script({"a"}))
    request(sim, "n1", FenceRequest("n2", "off", 60))
    sim.run_until_idle()
    assert result(sim).ok and result(sim).device == "b"


def test_no_device_for_target_is_nosuch() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1")))
    request(sim, "n1", FenceRequest("n9", "reboot", 30))
    sim.run_until_idle()
    assert result(sim).exit_code == 105 and fence_runs(sim) == []


def test_hanging_device_times_out_then_the_next_level_runs() -> None:
    topology = ('<fencing-level id="l1" target="n2" index="1" devices="slow"/>'
                '<fencing-level id="l2" target="n2" index="2" devices="fast"/>')
    resources = (device("slow", pcmk_host_list="n2", pcmk_reboot_timeout="10s")
                 + device("fast", pcmk_host_list="n2"))
    sim = fencing_simulation(NODES, cib(resources, topology),
                              script=script(slow={"slow": 1e9}))
    request(sim, "n1", FenceRequest("n2", "reboot", 100))
    sim.run_until_idle()
    assert result(sim).ok and result(sim).device == "fast"
    assert 10 <= sim.now < 20


def test_total_timeout_ends_the_operation() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")),
                              script=script(slow={"d1": 1e9}))
    request(sim, "n1", FenceRequest("n2", "reboot", 30))
    sim.run_until_idle()
    timed_out = result(sim)
    assert timed_out.exit_code == 124 and "total timeout of 30s" in timed_out.reason
    assert sim.core("n1", "stonithd").history.get(timed_out.op_id).state == OpState.FAILED  # type: ignore[union-attr]


def test_silent_peer_delays_the_query_until_its_timeout_only() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")))
    sim.kill("n3")
    request(sim, "n1", FenceRequest("n2", "reboot", 60))
    sim.run_until(4.9)
    assert fence_runs(sim) == []
    sim.run_until_idle()
    assert result(sim).ok and fence_runs(sim)[0][0] == "n1"


def test_identical_requests_share_one_operation() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")))
    request(sim, "n1", FenceRequest("n2", "reboot", 60), client="client:a")
    request(sim, "n1", FenceRequest("n2", "reboot", 60), client="client:b")
    sim.run_until_idle()
    assert result(sim, "client:a") == result(sim, "client:b")
    assert len(fence_runs(sim)) == 1


def test_tolerance_answers_from_history() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")))
    request(sim, "n1", FenceRequest("n2", "off", 60), client="client:a")
    sim.run_until_idle()
    sim.run_until(sim.now + 10)
    request(sim, "n1", FenceRequest("n2", "off", 60, tolerance=30), client="client:b")
    request(sim, "n1", FenceRequest("n2", "off", 60, tolerance=5), client="client:c")
    sim.run_until_idle()
    assert result(sim, "client:b").op_id == result(sim, "client:a").op_id
    assert result(sim, "client:c").op_id != result(sim, "client:a").op_id
    assert len(fence_runs(sim)) == 2


def test_manual_confirmation_completes_a_pending_operation() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")),
                              script=script(slow={"d1": 1e9}))
    request(sim, "n1", FenceRequest("n2", "reboot", 300), client="client:a")
    sim.run_until(1.0)
    request(sim, "n3", ConfirmRequest("n2"), client="client:b")
    sim.run_until(2.0)
    assert result(sim, "client:b").executioner == "a human"
    request(sim, "n1", ConfirmRequest("n2"), client="client:c")
    sim.run_until(3.0)
    assert result(sim, "client:a").ok and result(sim, "client:a").executioner == "a human"
    entries = sim.core("n2", "stonithd").history.for_target("n2")
    assert any(e.device == "manual_ack" and e.state == OpState.DONE for e in entries)


def test_delay_base_and_max_postpone_the_agent_and_minus_one_disables_them() -> None:
    xml = cib(device("d1", pcmk_host_list="n2", pcmk_delay_base="3s", pcmk_delay_max="8s"))
    starts = []
    for seed in range(5):
        sim = fencing_simulation(NODES, xml, seed=seed)
        request(sim, "n1", FenceRequest("n2", "reboot", 60))
        sim.run_until(2.9)
        assert fence_runs(sim) == []
        sim.run_until_idle()
        starts.append(sim.now)
        assert result(sim).ok
    assert min(starts) >= 3 and max(starts) <= 8.5 and len(set(starts)) > 1
    sim = fencing_simulation(NODES, xml)
    request(sim, "n1", FenceRequest("n2", "reboot", 60, delay=-1))
    sim.run_until(1.0)
    assert len(fence_runs(sim)) == 1


def test_dynamic_list_is_asked_once_and_cached() -> None:
    def agents(node: str, run: RunAgent) -> tuple[Outcome, float]:
        if run.action == "list":
            return Outcome(True, ports=("n2", "n3")), 0.1
        return Outcome(True), 0.1
    xml = cib(device("d1"), constraints=only_on("d1", "n1"))
    sim = fencing_simulation(NODES, xml, script=agents)
    request(sim, "n2", FenceRequest("n3", "off", 60), client="client:a")
    request(sim, "n2", ListDevicesRequest("n2", 60), client="client:b")
    sim.run_until_idle()
    assert result(sim, "client:a").ok and result(sim, "client:a").executioner == "n1"
    assert sim.replies_to("client:b") == [DeviceList(("d1",))]
    request(sim, "n3", ListDevicesRequest("n1", 60), client="client:c")
    sim.run_until_idle()
    assert sim.replies_to("client:c") == [DeviceList(())]
    assert [r.action for _, r in device_runs(sim)].count("list") == 1


def test_a_static_host_list_fences_with_the_one_reboot_run_and_nothing_before_it() -> None:
    # The lab's device (pcmk_host_list): Pacemaker's fencer knows it can fence the target
    # without asking the agent, so the only agent run on the failover's path is the reboot.
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n1 n2 n3")))
    request(sim, "n1", FenceRequest("n2", "reboot", 30))
    sim.run_until_idle()
    assert result(sim).ok
    assert [(node, run.action) for node, run in device_runs(sim)] == [("n3", "reboot")]


def test_a_cib_change_elsewhere_keeps_the_cached_list_a_device_change_drops_it() -> None:
    # Pacemaker's fencer keeps an identical re-registered device and the host list it learnt:
    # a CIB write during a failover must not put a `list` run before the next fencing action.
    def agents(node: str, run: RunAgent) -> tuple[Outcome, float]:
        if run.action == "list":
            return Outcome(True, ports=("n2", "n3")), 0.1
        return Outcome(True), 0.1
    xml = cib(device("d1"), constraints=only_on("d1", "n1"))
    sim = fencing_simulation(NODES, xml, script=agents)

    def reload(text: str) -> None:
        sim.feed("n1", "stonithd", ConfigChanged(load_config(text, local_node="n1"), {}, sim.now))

    def fence(target: str, client: str) -> list[str]:
        request(sim, "n2", FenceRequest(target, "off", 60), client=client)
        sim.run_until_idle()
        assert result(sim, client).ok
        return [r.action for node, r in device_runs(sim) if node == "n1"]

    assert fence("n3", "client:a") == ["list", "off"]
    reload(cib(device("d1") + device("d2", pcmk_host_list="n9"), constraints=only_on("d1", "n1")))
    assert fence("n2", "client:b") == ["list", "off", "off"]  # no second list
    reload(cib(device("d1", ipaddr="10.0.0.9"), constraints=only_on("d1", "n1")))
    assert fence("n3", "client:c") == ["list", "off", "off", "list", "off"]


def test_status_host_check_runs_status_with_the_port() -> None:
    def agents(node: str, run: RunAgent) -> tuple[Outcome, float]:
        if run.action == "status":
            port = dict(run.pairs)["port"]
            return (Outcome(True, powered_on=False) if port == "7"
                    else Outcome(False, "unknown plug")), 0.1
        return Outcome(True), 0.1
    xml = cib(device("d1", pcmk_host_check="status", pcmk_host_map="n2:7"))
    sim = fencing_simulation(NODES, xml, script=agents)
    request(sim, "n1", FenceRequest("n2", "off", 60), client="client:a")
    request(sim, "n1", FenceRequest("n3", "off", 60), client="client:b")
    sim.run_until_idle()
    assert result(sim, "client:a").ok and result(sim, "client:b").exit_code == 105


def test_local_queries_history_and_device_actions() -> None:
    xml = cib(device("d1", pcmk_host_list="n2") + device("d2", pcmk_host_list="n2"),
              constraints=only_on("d2", "n3"))
    sim = fencing_simulation(NODES, xml)
    request(sim, "n1", ListRegisteredRequest(), client="client:a")
    request(sim, "n1", ListDevicesRequest("n2", 60), client="client:b")
    request(sim, "n1", DeviceActionRequest("d2", "monitor"), client="client:c")
    request(sim, "n1", DeviceActionRequest("d1", "reboot"), client="client:d")
    request(sim, "n1", FenceRequest("n2", "explode", 60), client="client:e")
    request(sim, "n1", FenceRequest("n2", "off", 60), client="client:f")
    sim.run_until_idle()
    request(sim, "n3", HistoryRequest("n2"), client="client:g")
    assert sim.replies_to("client:a") == [DeviceList(("d1",))]
    assert sim.replies_to("client:b") == [DeviceList(("d1", "d2"))]
    assert [type(r).__name__ for r in sim.replies_to("client:c")] == ["ErrorReply"]
    assert sim.replies_to("client:c")[0].exit_code == 105
    assert sim.replies_to("client:d")[0].exit_code == 2
    assert isinstance(sim.replies_to("client:e")[0], ErrorReply)
    reply = sim.replies_to("client:g")[0]
    assert isinstance(reply, HistoryReply) and reply.entries[0].executioner == "n3"
    request(sim, "n3", HistoryRequest("n2", cleanup=True), client="client:h")
    request(sim, "n1", HistoryRequest("*"), client="client:i")
    assert sim.replies_to("client:h") == [HistoryReply(())]
    assert len(sim.replies_to("client:i")[0].entries) == 1  # other nodes keep theirs
    request(sim, "n3", HistoryRequest("*", broadcast=True), client="client:j")
    sim.run_until_idle()
    merged = sim.replies_to("client:j")[0].entries
    assert [(e.target, e.state) for e in merged] == [("n2", OpState.DONE)]


def test_history_broadcast_answers_after_the_query_timeout_without_a_silent_peer() -> None:
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")))
    request(sim, "n1", FenceRequest("n2", "off", 60))
    sim.run_until_idle()
    sim.core("n3", "stonithd").history.cleanup("*")
    sim.kill("n2")
    request(sim, "n3", HistoryRequest("n2", broadcast=True), client="client:h")
    sim.run_until(sim.now + 4.0)
    assert sim.replies_to("client:h") == []  # still waiting for n2
    sim.run_until_idle()
    assert len(sim.replies_to("client:h")[0].entries) == 1  # n1's copy arrived


def test_device_delays_apply_only_to_the_first_device_of_an_operation() -> None:
    topology = ('<fencing-level id="l1" target="n2" index="1" devices="a"/>'
                '<fencing-level id="l2" target="n2" index="2" devices="b"/>')
    resources = "".join(device(d, pcmk_host_list="n2", pcmk_delay_base="5s",
                               pcmk_reboot_retries="0") for d in "ab")
    sim = fencing_simulation(NODES, cib(resources, topology), script=script({"a"}))
    request(sim, "n1", FenceRequest("n2", "reboot", 60))
    sim.run_until_idle()
    assert result(sim).ok and result(sim).device == "b"
    assert 5.4 <= sim.now < 6


def test_a_late_execute_request_never_fences() -> None:
    from stonithd.api import DeviceResult, ExecuteFence
    from stonithd.events import PeerMessage

    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")))
    fencer = sim.core("n3", "stonithd")
    late = ExecuteFence("n1-9", "n1", "d1", "n2", "off", 20.0, expires=1000.0)
    effects = fencer.handle(PeerMessage("n1", late, now=50.0, wall=1001.0))
    results = [e.message for e in effects if isinstance(getattr(e, "message", None),
                                                         DeviceResult)]
    assert len(results) == 1 and not results[0].ok and "expired" in results[0].reason
    assert not any(isinstance(e, RunAgent) for e in effects)
    in_time = fencer.handle(PeerMessage("n1", late, now=50.0, wall=999.0))
    assert any(isinstance(e, RunAgent) for e in in_time)


def test_a_stepped_wall_clock_stamps_a_timed_out_operation_with_the_new_time() -> None:
    """The total timeout is a timer: its result is stamped with the wall time the timer
    carries, not with a time derived from the last message before the clock was set."""
    sim = fencing_simulation(NODES, cib(device("d1", pcmk_host_list="n2")),
                             script=script(slow={"d1": 1e9}))
    asked = sim.scheduler.wall()
    request(sim, "n1", FenceRequest("n2", "reboot", 30))
    sim.scheduler.call_at(29.9, lambda: sim.scheduler.clock.step_wall(86400.0))
    sim.run_until_idle()
    timed_out = result(sim)
    assert "total timeout of 30s" in timed_out.reason
    assert 86400.0 + 29.9 <= timed_out.completed - asked <= 86400.0 + 31.0
