"""Unit tests of the engine's building blocks (values from scheduler.md / Pacemaker docs)."""

from __future__ import annotations

import datetime

import networkx as nx
import pytest

from messaging.errors import ValidationError
from messaging.types import Role
from pengine.api import FALLBACK_NOW, schedule, unpack_status
from pengine.colocation import add_matching
from pengine.digests import digest
from pengine.rules import parse_iso
from pengine.scores import INF, add, char2score, score2str
from pengine.unpack_nodes import node_sort_key
from pengine.xmlin import duration_ms, nvpairs, parse
from tests.unit.pengine.scenarios import build


def test_score_arithmetic_saturates_and_minus_infinity_wins() -> None:
    assert add(INF, -INF) == -INF
    assert add(INF, 5) == INF
    assert add(600000, 600000) == INF
    assert char2score("-INFINITY") == -INF
    assert char2score("+INFINITY") == INF
    assert char2score("12abc") == 12
    assert char2score("garbage") == 0
    assert score2str(-INF) == "-INFINITY"


def test_durations() -> None:
    assert duration_ms("10") == 10000
    assert duration_ms("10s") == 10000
    assert duration_ms("500ms") == 500
    assert duration_ms("2min") == 120000
    assert duration_ms("1h") == 3600000
    assert duration_ms("PT1M30S") == 90000


def test_iso_dates_include_ordinal_and_offsets() -> None:
    assert parse_iso("2005-020") == datetime.datetime(2005, 1, 20, tzinfo=datetime.UTC)
    assert parse_iso("2019-09-23 11:00:00 -05:00") == datetime.datetime(
        2019, 9, 23, 16, tzinfo=datetime.UTC)


def test_node_names_sort_digit_aware() -> None:
    assert sorted(["node10", "node2", "Node1"], key=node_sort_key) == ["Node1", "node2", "node10"]


def test_equal_score_blocks_last_in_document_wins() -> None:
    root = parse('<cib><configuration/><x><meta_attributes id="a"><nvpair id="1" name="k" '
                 'value="first"/></meta_attributes><meta_attributes id="b"><nvpair id="2" '
                 'name="k" value="second"/></meta_attributes></x></cib>')
    blocks = root.findall("x/meta_attributes")
    assert nvpairs(blocks, lambda _r: True)["k"] == "second"


def test_parameter_digest_matches_pacemaker_format() -> None:
    # The op-digest Pacemaker recorded for an empty parameter set (corpus params-4).
    assert digest({}) == "f2317cad3d54cec5d7d7aa7d0bf35cf8"


def test_colocation_factor_rounds_with_floor_of_one() -> None:
    from pengine.unpack_nodes import NodeWork
    nodes = {n: NodeWork(n, n, "member", 0, {}, online=True, unseen=False)
             for n in ("n1", "n2")}
    merged = add_matching({"n1": 0, "n2": 0}, {"n1": 0, "n2": 100}, "#uname", 500 / INF, nodes)
    assert merged == {"n1": 0, "n2": 1}
    banned = add_matching({"n1": 0, "n2": 0}, {"n1": -INF, "n2": 0}, "#uname", 500 / INF, nodes)
    assert banned == {"n1": -500, "n2": 0}


def test_bad_xml_is_a_validation_error_with_a_line() -> None:
    with pytest.raises(ValidationError) as info:
        schedule("<cib>\n<configuration>\n</cib>")
    assert info.value.location is not None and info.value.location.line is not None


def test_not_a_cib_is_rejected() -> None:
    with pytest.raises(ValidationError, match="expected a <cib>"):
        schedule("<nodes/>")


def test_resource_without_id_is_rejected() -> None:
    text = build()["fresh_start_balances"].replace('<primitive id="r1"', "<primitive")
    with pytest.raises(ValidationError, match="without an id"):
        schedule(text)


def test_execution_date_pins_now_and_explicit_now_overrides() -> None:
    text = build()["fresh_start_balances"]
    assert schedule(text).now == datetime.datetime.fromtimestamp(2000, tz=datetime.UTC)
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    assert schedule(text, when).now == when
    assert schedule(text.replace('execution-date="2000"', "")).now == FALLBACK_NOW


def test_status_reports_roles_failures_and_orphans() -> None:
    status = unpack_status(build()["orphan_is_stopped"])
    by_id = {r.id: r for r in status.resources}
    assert by_id["r1"].role == Role.STARTED and by_id["r1"].running_on == ("node1",)
    assert by_id["ghost"].orphan
    failed = unpack_status(build()["failed_monitor_recovers_in_place"])
    assert [f.task for f in failed.failed_operations] == ["monitor"]
    assert failed.resources[0].failed


def test_graph_orders_fencing_before_recovery() -> None:
    transition = schedule(build()["fencing_lost_node"])
    graph = transition.graph
    assert isinstance(graph, nx.DiGraph)
    keys = {graph.nodes[n]["action"].key: n for n in graph}
    assert "stonith-node2-reboot" in keys and "r1_start_0" in keys
    assert nx.has_path(graph, keys["stonith-node2-reboot"], keys["r1_start_0"])
    assert nx.is_directed_acyclic_graph(graph)
    stop = graph.nodes[keys["r1_stop_0"]]["action"]
    assert stop.pseudo


def test_schedule_is_deterministic() -> None:
    text = build()["group_location_moves_all"]
    first, second = schedule(text), schedule(text)
    assert first.summary == second.summary
    assert [a.key for a in first.actions] == [a.key for a in second.actions]
