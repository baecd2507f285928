"""The frozen transition graph: same content as the graph XML, lossless round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from messaging.errors import RemoteProtocolError, ValidationError
from pengine.api import read_transition_graph, schedule
from pengine.graph_xml import synapses, to_xml
from pengine.transition_graph import TransitionGraph, build, from_xml, render_xml

CORPUS = "conformance/scheduler"
# primitives, groups, fencing, clones, promotable, migration, remote nodes, shutdown locks
CASES = ["simple2", "group1", "rec-node-1", "stonith-0", "clone-no-shuffle", "promoted-0",
         "migrate-begin", "a-promote-then-b-migrate", "shutdown-lock", "order-optional",
         "bug-5186-partial-migrate", "notify-0"]


def _graph(shared: Path, name: str) -> TransitionGraph:
    cib = (shared / CORPUS / f"xml/{name}.xml").read_bytes()
    return build(schedule(cib))


@pytest.mark.parametrize("name", CASES)
def test_value_equals_exported_xml(shared: Path, name: str) -> None:
    """Reading back what `crm_simulate -G` writes gives the value `build` made."""
    transition = schedule((shared / CORPUS / f"xml/{name}.xml").read_bytes())
    graph = build(transition)
    assert from_xml(to_xml(transition, synapses(transition))) == graph
    assert [s.id for s in graph.synapses] == list(range(len(graph.synapses)))


def test_models_every_pacemaker_graph(shared: Path) -> None:
    """Every corpus .exp survives read -> write -> read: nothing Pacemaker writes is lost."""
    lost = []
    for path in sorted((shared / CORPUS / "exp").glob("*.exp")):
        graph = from_xml(path.read_bytes())
        if from_xml(render_xml(graph)) != graph:
            lost.append(path.stem)
    assert lost == []


def test_pacemaker_graph_fields(shared: Path) -> None:
    graph = from_xml((shared / CORPUS / "exp/rec-node-1.exp").read_bytes())
    assert graph.cluster_delay == "60s" and graph.batch_limit == 0
    keys = {s.action.operation_key for s in graph.synapses}
    assert "rsc1_start_0" in keys
    start = next(s for s in graph.synapses if s.action.operation_key == "rsc1_start_0")
    assert start.action.kind == "rsc_op" and start.action.resource is not None
    assert start.action.resource.type == "apache"


@pytest.mark.parametrize("name", ["rec-node-1", "clone-no-shuffle", "migrate-begin"])
def test_dict_and_msgpack_round_trips(shared: Path, name: str) -> None:
    graph = _graph(shared, name)
    plain = json.loads(json.dumps(graph.to_dict()))
    assert TransitionGraph.from_dict(plain) == graph
    assert TransitionGraph.unpack(graph.pack()) == graph


def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        TransitionGraph.unpack(b"\x93\x01\x02")
    with pytest.raises(RemoteProtocolError):
        TransitionGraph.from_dict({"transition_id": "one", "synapses": []})


def test_public_entry_for_crmd(shared: Path) -> None:
    from pengine import api

    transition = schedule((shared / CORPUS / "xml/group1.xml").read_bytes())
    graph = api.transition_graph(transition)
    assert isinstance(graph, api.TransitionGraph) and graph == build(transition)
    assert isinstance(graph.synapses[0], api.GraphSynapse)


def test_networkx_view_has_the_scheduler_edges(shared: Path) -> None:
    transition = schedule((shared / CORPUS / "xml/rec-node-1.xml").read_bytes())
    view = build(transition).to_networkx()
    assert set(view.edges) == set(transition.edges)
    assert set(view.nodes) == {a.id for a in transition.actions if a.in_graph}


_ONE_SYNAPSE = ('<transition_graph cluster-delay="60s" stonith-timeout="60s" '
                'failed-stop-offset="INFINITY" failed-start-offset="INFINITY" batch-limit="0" '
                'transition_id="4"><synapse id="0"><action_set><pseudo_event id="2" '
                'operation="all_stopped" operation_key="all_stopped"><attributes/>'
                '</pseudo_event></action_set><inputs>{inputs}</inputs></synapse>'
                '</transition_graph>')


def test_read_transition_graph_reads_a_graph() -> None:
    graph = read_transition_graph(_ONE_SYNAPSE.format(inputs=""), "t.xml")
    assert graph.transition_id == 4
    assert [s.action.operation for s in graph.synapses] == ["all_stopped"]


def test_read_transition_graph_keeps_a_trigger_outside_the_graph_as_held() -> None:
    """Pacemaker's graph keeps a required input it left out of the graph as a trigger
    (crm_simulate -G, seed 10 of tests/differential: load_stopped_node2 <- r13_stop_0)."""
    trigger = ('<trigger><rsc_op id="9" operation="stop" operation_key="r13_stop_0" '
               'on_node="node2" on_node_uuid="node2"/></trigger>')
    graph = read_transition_graph(_ONE_SYNAPSE.format(inputs=trigger), "t.xml")
    (synapse,) = graph.synapses
    assert synapse.inputs == ()
    assert [(a.id, a.operation_key, a.on_node) for a in synapse.held] == [
        (9, "r13_stop_0", "node2")]
    assert trigger in render_xml(graph).replace("\n", "").replace("  ", "")


@pytest.mark.parametrize(("text", "words"), [
    ("<transition_graph", "not XML"),
    ("<cib/>", "expected <transition_graph>"),
    ('<transition_graph><synapse id="x"/></transition_graph>', "malformed"),
])
def test_read_transition_graph_names_the_source_of_bad_input(text: str, words: str) -> None:
    with pytest.raises(ValidationError, match=r"t\.xml") as raised:
        read_transition_graph(text, "t.xml")
    assert words in str(raised.value)
