"""The transition engine executes real graphs: pengine's and Pacemaker's own (.exp).

Edges are checked against the source graph (networkx graph of pengine's Transition, or the
<trigger> elements of Pacemaker's XML read here with lxml), never against the engine's view.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from crmd.graph import ActionKind, action_kind, graph_from_xml, graph_of, target_rc
from crmd.messages import (
    AbortTransition,
    ActionResult,
    ExecuteClusterAction,
    ExecuteFencing,
    ExecuteResourceAction,
    NodeLeft,
    RecordActionTimeout,
    TransitionFinished,
    UpdateAttribute,
)
from crmd.transition import TransitionEngine
from messaging.effects import ArmTimer, TimerFired
from pengine.api import GraphAction, GraphResource, GraphSynapse, TransitionGraph, schedule

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "conformance" / "scheduler"
UUID = "dc-uuid-1"
DISPATCH = (ExecuteResourceAction, ExecuteFencing, ExecuteClusterAction)


def _key(effect: object) -> str:
    assert isinstance(effect, DISPATCH)
    return effect.transition_key


def run_to_completion(graph: TransitionGraph, seed: int) -> tuple[list[int], dict[int, int],
                                                                     TransitionFinished]:
    """Answer every dispatched action with success in a random order.

    Returns (fire order, completion step per action id, the finish effect)."""
    rng = random.Random(seed)
    engine = TransitionEngine(UUID)
    step = 0
    fired_at: dict[int, int] = {}
    done_at: dict[int, int] = {}
    outstanding: list[object] = []
    finished: list[TransitionFinished] = []

    def absorb(effects: list[object]) -> None:
        for effect in effects:
            if isinstance(effect, DISPATCH):
                action_id = int(_key(effect).split(":")[0])
                fired_at[action_id] = step
                outstanding.append(effect)
            elif isinstance(effect, TransitionFinished):
                finished.append(effect)

    absorb(engine.start(graph, 0.0))
    while outstanding:
        step += 1
        effect = outstanding.pop(rng.randrange(len(outstanding)))
        action_id = int(_key(effect).split(":")[0])
        done_at[action_id] = step
        target = graph.actions()[action_id]
        absorb(engine.handle(ActionResult(_key(effect), target.on_node or "", target_rc(target),
                                          0, float(step))))
    assert len(finished) == 1
    return engine.fired_order, done_at, finished[0]


def _check_order(edges: list[tuple[int, int]], graph: TransitionGraph, order: list[int],
                 done_at: dict[int, int]) -> None:
    """Every edge first -> then: `first` completed before `then` was fired."""
    position = {action_id: index for index, action_id in enumerate(order)}
    actions = graph.actions()
    assert set(position) == set(actions), "every action fired exactly once"
    pseudo = {i for i, a in actions.items() if action_kind(a) is ActionKind.PSEUDO}
    for first, then in edges:
        assert position[first] < position[then], (first, then)
        if first not in pseudo:
            assert first in done_at


def _corpus_cases(limit: int) -> list[Any]:
    """A sample of `limit` cases (plus fencing ones); the rest run under the slow mark."""
    if not (CORPUS / "xml").is_dir():
        return []
    names = sorted(p.stem for p in (CORPUS / "xml").glob("*.xml"))
    fencing = [n for n in names if "fenc" in n or "stonith" in n]
    sample = set(names[::max(1, len(names) // limit)] + fencing[:10])
    return [name if name in sample else pytest.param(name, marks=pytest.mark.slow)
            for name in names]


@pytest.mark.parametrize("case", _corpus_cases(40) or ["<absent>"])
def test_pengine_graph_of_corpus_cib_completes_in_edge_order(case: str) -> None:
    if case == "<absent>":
        pytest.skip(f"scheduler corpus not found at {CORPUS}")
    transition = schedule((CORPUS / "xml" / f"{case}.xml").read_bytes())
    graph = graph_of(transition)
    order, done_at, finish = run_to_completion(graph, seed=len(case))
    assert finish.outcome == "complete" and not finish.replan
    _check_order(list(transition.graph.edges), graph, order, done_at)


def _exp_edges(text: bytes) -> list[tuple[int, int]]:
    root = etree.fromstring(text)
    edges = []
    for synapse in root.iter("synapse"):
        then = int(synapse.xpath("action_set/*/@id")[0])
        edges += [(int(first), then) for first in synapse.xpath("inputs/trigger/*/@id")]
    return edges


@pytest.mark.parametrize("case", _corpus_cases(60) or ["<absent>"])
def test_pacemaker_exp_graph_completes_in_edge_order(case: str) -> None:
    if case == "<absent>":
        pytest.skip(f"scheduler corpus not found at {CORPUS}")
    path = CORPUS / "exp" / f"{case}.exp"
    if not path.exists():
        pytest.skip(f"no Pacemaker graph for {case}")
    text = path.read_bytes()
    graph = graph_from_xml(text, str(path))
    order, done_at, finish = run_to_completion(graph, seed=3)
    assert finish.outcome == "complete"
    _check_order(_exp_edges(text), graph, order, done_at)


def test_own_example_cib_graph_completes() -> None:
    transition = schedule((ROOT / "examples" / "cib-3node.xml").read_bytes())
    graph = graph_of(transition)
    assert graph.synapses, "the example starts resources"
    order, done_at, finish = run_to_completion(graph, seed=7)
    assert finish.outcome == "complete"
    _check_order(list(transition.graph.edges), graph, order, done_at)


# --- hand-made graphs -------------------------------------------------------------------


def rsc_op(action_id: int, key: str, task: str, node: str, attributes: dict[str, str],
           resource: str | None = None) -> GraphAction:
    """A resource action as Pacemaker's graph describes it (Dummy agent)."""
    primitive = GraphResource(resource or key.split("_")[0], None, "ocf", "heartbeat", "Dummy")
    return GraphAction(id=action_id, kind="rsc_op", operation=task, operation_key=key,
                       on_node=node, on_node_uuid=node, resource=primitive,
                       attributes=tuple(sorted(attributes.items())))


def synapse(action: GraphAction, inputs: tuple[int, ...] = (), priority: int = 0) -> GraphSynapse:
    return GraphSynapse(action.id, priority, action, inputs)


def rsc(action_id: int, inputs: tuple[int, ...] = (), node: str = "n1", task: str = "start",
        timeout: int = 20000, priority: int = 0) -> GraphSynapse:
    action = rsc_op(action_id, f"r{action_id}_{task}_0", task, node,
                    {"CRM_meta_timeout": str(timeout)})
    return synapse(action, inputs, priority)


def graph_of_synapses(transition_id: int, synapses: tuple[GraphSynapse, ...], *,
                      cluster_delay: str = "60s", stonith_timeout: str = "60s",
                      batch_limit: int = 0, migration_limit: int = -1) -> TransitionGraph:
    return TransitionGraph(transition_id, cluster_delay, stonith_timeout, "INFINITY",
                           "INFINITY", batch_limit, migration_limit, synapses)


def test_batch_limit_caps_actions_in_flight() -> None:
    graph = graph_of_synapses(1, tuple(rsc(i) for i in range(6)), batch_limit=2)
    engine = TransitionEngine(UUID)
    effects = engine.start(graph, 0.0)
    sent = [e for e in effects if isinstance(e, ExecuteResourceAction)]
    assert [int(e.transition_key.split(":")[0]) for e in sent] == [0, 1]
    effects = engine.handle(ActionResult(sent[0].transition_key, "n1", 0, 0, 1.0))
    more = [e for e in effects if isinstance(e, ExecuteResourceAction)]
    assert [e.action.id for e in more] == [2]
    assert len(engine.in_flight) == 2


def test_transition_key_is_pacemakers_shape() -> None:
    engine = TransitionEngine("5f1b2c")
    effects = engine.start(graph_of_synapses(7, (rsc(3),)), 0.0)
    sent = [e for e in effects if isinstance(e, ExecuteResourceAction)]
    assert sent[0].transition_key == "3:7:0:" + "5f1b2c".ljust(36)


def test_timeout_is_action_timeout_plus_cluster_delay_and_aborts() -> None:
    graph = graph_of_synapses(1, (rsc(0, timeout=20000), rsc(1, inputs=(0,))),
                              cluster_delay="60s")
    engine = TransitionEngine(UUID)
    effects = engine.start(graph, 100.0, wall=5000.0)
    timers = [e for e in effects if isinstance(e, ArmTimer)]
    assert timers[0].deadline == pytest.approx(180.0)
    effects = engine.handle(TimerFired(timers[0].key, 180.0))
    recorded = [e for e in effects if isinstance(e, RecordActionTimeout)]
    assert recorded[0].exit_reason == "Controller on n1 did not return result in time"
    assert recorded[0].wall == pytest.approx(5080.0)
    finish = [e for e in effects if isinstance(e, TransitionFinished)]
    assert finish[0].replan and finish[0].failed == (0,)
    assert not [e for e in effects if isinstance(e, ExecuteResourceAction)]


def test_a_timeout_is_stamped_with_the_wall_time_its_timer_carries() -> None:
    graph = graph_of_synapses(1, (rsc(0, timeout=20000),), cluster_delay="60s")
    engine = TransitionEngine(UUID)
    timers = [e for e in engine.start(graph, 100.0, wall=5000.0) if isinstance(e, ArmTimer)]
    effects = engine.handle(TimerFired(timers[0].key, 180.0, wall=90000.0))  # clock was set
    recorded = [e for e in effects if isinstance(e, RecordActionTimeout)]
    assert recorded[0].wall == pytest.approx(90000.0)
    assert UpdateAttribute("n1", "last-failure-r0#start_0", "90000") in effects


def test_failed_result_aborts_but_in_flight_actions_complete() -> None:
    graph = graph_of_synapses(1, (rsc(0), rsc(1), rsc(2, inputs=(0,)), rsc(3, inputs=(1,))))
    engine = TransitionEngine(UUID)
    sent = [e for e in engine.start(graph, 0.0) if isinstance(e, ExecuteResourceAction)]
    effects = engine.handle(ActionResult(sent[0].transition_key, "n1", 1, 0, 1.0, wall=77.0))
    assert UpdateAttribute("n1", "fail-count-r0#start_0", "INFINITY") in effects
    assert UpdateAttribute("n1", "last-failure-r0#start_0", "77") in effects
    assert not [e for e in effects if isinstance(e, (ExecuteResourceAction,
                                                     TransitionFinished))]
    effects = engine.handle(ActionResult(sent[1].transition_key, "n1", 0, 0, 2.0))
    assert not [e for e in effects if isinstance(e, ExecuteResourceAction)], "aborted"
    finish = [e for e in effects if isinstance(e, TransitionFinished)]
    assert finish == [TransitionFinished(1, "stopped", True, (0,))]


def test_probe_failure_does_not_count_and_degraded_rc_is_success() -> None:
    probe = rsc_op(0, "r_monitor_0", "monitor", "n1", {"CRM_meta_op_target_rc": "7"})
    engine = TransitionEngine(UUID)
    sent = engine.start(graph_of_synapses(1, (synapse(probe), rsc(1))), 0.0)
    keys = [e.transition_key for e in sent if isinstance(e, ExecuteResourceAction)]
    effects = engine.handle(ActionResult(keys[0], "n1", 0, 0, 1.0))  # running: unexpected
    assert not [e for e in effects if isinstance(e, UpdateAttribute)]
    effects = engine.handle(ActionResult(keys[1], "n1", 190, 0, 1.0))
    finish = [e for e in effects if isinstance(e, TransitionFinished)]
    assert finish[0].failed == (0,)


@pytest.mark.parametrize(("key", "reason"), [
    ("0:9:0:" + UUID.ljust(36), "Old event"),
    ("0:1:0:" + "someone-else".ljust(36), "Foreign event"),
    ("-1:12:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "Unexpected event"),
])
def test_results_outside_the_graph_abort(key: str, reason: str) -> None:
    engine = TransitionEngine(UUID)
    engine.start(graph_of_synapses(1, (rsc(0), rsc(1, inputs=(0,)))), 0.0)
    effects = engine.handle(ActionResult(key, "n1", 0, 0, 1.0))
    assert engine.abort_reason == reason
    assert not [e for e in effects if isinstance(e, TransitionFinished)]


def test_abort_stops_new_actions_then_replans() -> None:
    graph = graph_of_synapses(1, (rsc(0), rsc(1, inputs=(0,))))
    engine = TransitionEngine(UUID)
    sent = [e for e in engine.start(graph, 0.0) if isinstance(e, ExecuteResourceAction)]
    engine.handle(AbortTransition("Configuration change", 0.5))
    effects = engine.handle(ActionResult(sent[0].transition_key, "n1", 0, 0, 1.0))
    assert not [e for e in effects if isinstance(e, ExecuteResourceAction)]
    assert [e for e in effects if isinstance(e, TransitionFinished)] == [
        TransitionFinished(1, "stopped", True, ())]


def test_node_left_fails_its_actions_but_not_fencing() -> None:
    fence = GraphAction(id=5, kind="crm_event", operation="stonith",
                        operation_key="stonith-n2-reboot", on_node="n2", on_node_uuid="n2",
                        resource=None, attributes=(), downed=("n2",))
    graph = graph_of_synapses(1, (rsc(0, node="n2"), synapse(fence), rsc(1, node="n1")),
                              stonith_timeout="90s")
    engine = TransitionEngine(UUID)
    effects = engine.start(graph, 0.0)
    fencing = [e for e in effects if isinstance(e, ExecuteFencing)]
    assert fencing[0].target == "n2" and fencing[0].action == "reboot"
    assert fencing[0].timeout_s == 90.0
    engine.handle(NodeLeft("n2", 1.0))
    assert engine.progress[0].value == "failed" and engine.progress[5].value == "in_flight"


def test_copies_of_a_known_result_are_ignored_but_a_changed_one_replans() -> None:
    monitor = rsc_op(0, "r0_monitor_10000", "monitor", "n1",
                     {"CRM_meta_interval": "10000", "CRM_meta_timeout": "20000"})
    engine = TransitionEngine(UUID)
    sent = [e for e in engine.start(graph_of_synapses(4, (synapse(monitor),)), 0.0)
            if isinstance(e, ExecuteResourceAction)]
    key = sent[0].transition_key
    first = ActionResult(key, "n1", 0, 0, 1.0, interval_ms=10000, resource="r0",
                         task="monitor")
    assert [e for e in engine.handle(first) if isinstance(e, TransitionFinished)]
    assert engine.handle(first) == [] and engine.unmatched == 0
    changed = ActionResult(key, "n1", 1, 0, 9.0, interval_ms=10000, resource="r0",
                           task="monitor", wall=1234.0)
    effects = engine.handle(changed)
    assert engine.unmatched == 1 and engine.abort_reason == "Change in recurring result"
    assert UpdateAttribute("n1", "fail-count-r0#monitor_10000", "value++") in effects
    assert UpdateAttribute("n1", "last-failure-r0#monitor_10000", "1234") in effects


def test_migration_limit_counts_source_and_target() -> None:
    def migrate(action_id: int, task: str, source: str, target: str) -> GraphSynapse:
        return synapse(rsc_op(action_id, f"m{action_id}_{task}_0", task,
                              source if task == "migrate_to" else target,
                              {"CRM_meta_migrate_source": source,
                               "CRM_meta_migrate_target": target}))
    graph = graph_of_synapses(1, (migrate(0, "migrate_to", "n1", "n2"),
                                  migrate(1, "migrate_to", "n3", "n1"),
                                  migrate(2, "migrate_to", "n3", "n4")), migration_limit=1)
    engine = TransitionEngine(UUID)
    sent = [e.action.id for e in engine.start(graph, 0.0)
            if isinstance(e, ExecuteResourceAction)]
    assert sent == [0, 2], "1 shares n1 with 0; 2 touches neither n1 nor n2"


def test_the_graph_knows_the_nodes_it_takes_down() -> None:
    """Pacemaker's match_down_event, for abort_unless_down: a removal of node 2's history
    or attributes is expected while (and after) the graph fences it; node 3's is not."""
    fence = GraphAction(id=1, kind="crm_event", operation="stonith",
                        operation_key="stonith-n2-reboot", on_node="n2", on_node_uuid="2",
                        resource=None,
                        attributes=(("CRM_meta_stonith_action", "reboot"),), downed=("2",))
    engine = TransitionEngine(UUID)
    assert not engine.takes_down("2"), "no graph yet"
    engine.start(graph_of_synapses(1, (synapse(fence), rsc(2, (1,), node="n1"))), 0.0)
    assert engine.takes_down("2") and not engine.takes_down("3")


def test_an_anonymous_instances_failure_counts_under_its_operation_keys_name() -> None:
    """update_failcount names the fail count after the resource of the result's operation
    key: an anonymous clone instance (long-id d:0) runs and records as "d"."""
    start = GraphAction(id=0, kind="rsc_op", operation="start", operation_key="d_start_0",
                        on_node="n1", on_node_uuid="n1",
                        resource=GraphResource("d", "d:0", "ocf", "heartbeat", "Dummy"),
                        attributes=(("CRM_meta_clone", "0"), ("CRM_meta_timeout", "20000")))
    engine = TransitionEngine(UUID)
    sent = [e for e in engine.start(graph_of_synapses(1, (synapse(start),)), 0.0)
            if isinstance(e, ExecuteResourceAction)]
    effects = engine.handle(ActionResult(sent[0].transition_key, "n1", 1, 0, 1.0, wall=77.0))
    assert UpdateAttribute("n1", "fail-count-d#start_0", "INFINITY") in effects
    assert UpdateAttribute("n1", "last-failure-d#start_0", "77") in effects
