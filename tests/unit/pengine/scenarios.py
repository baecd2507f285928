"""Hand-written scheduler scenarios, one per rule (inputs only; see test_engine_rules.py)."""

from __future__ import annotations

from tests.unit.pengine.cibgen import cib, node_state, op, primitive, running, stopped

N2 = ["node1", "node2"]
STONITH = {"stonith-enabled": "true"}


def _two(h1: dict[str, list[str]], h2: dict[str, list[str]], **kw: object) -> dict[str, str]:
    return {"node1": node_state("node1", h1, **kw), "node2": node_state("node2", h2)}  # type: ignore[arg-type]


def _probed(*rids: str) -> dict[str, list[str]]:
    return {r: [stopped(r)] for r in rids}


def build() -> dict[str, str]:
    s: dict[str, str] = {}
    three = primitive("r1") + primitive("r2") + primitive("r3")
    s["fresh_start_balances"] = cib(N2, three, "".join(_two(_probed("r1", "r2", "r3"),
                                                            _probed("r1", "r2", "r3")).values()))
    s["tie_break_current_node_no_stickiness"] = cib(
        N2, primitive("r1") + primitive("r2"),
        node_state("node1", _probed("r1", "r2"))
        + node_state("node2", {"r1": [running("r1")], "r2": [running("r2")]}))
    s["stickiness_beats_location"] = cib(
        N2, primitive("r1", {"resource-stickiness": "100"}),
        node_state("node1", _probed("r1")) + node_state("node2", {"r1": [running("r1")]}),
        constraints='<rsc_location id="l1" rsc="r1" node="node1" score="50"/>')
    s["location_infinity_moves"] = cib(
        N2, primitive("r1", {"resource-stickiness": "100"}),
        node_state("node1", _probed("r1")) + node_state("node2", {"r1": [running("r1")]}),
        constraints='<rsc_location id="l1" rsc="r1" node="node1" score="INFINITY"/>')
    s["standby_moves"] = cib(
        N2, primitive("r1"),
        node_state("node1", {"r1": [running("r1")]}, attrs={"standby": "on"})
        + node_state("node2", _probed("r1")))
    mon = '<op id="r1-mon" name="monitor" interval="10s"/>'
    failed = [running("r1"), op("r1", "monitor", interval=10000, rc=1, call=11)]
    s["failed_monitor_recovers_in_place"] = cib(
        N2, primitive("r1", ops=mon),
        node_state("node1", {"r1": failed}) + node_state("node2", _probed("r1")))
    s["migration_threshold_moves"] = cib(
        N2, primitive("r1", {"migration-threshold": "1"}, ops=mon),
        node_state("node1", {"r1": failed}, attrs={"fail-count-r1#monitor_10000": "1",
                                                    "last-failure-r1#monitor_10000": "1000"})
        + node_state("node2", _probed("r1")))
    s["failure_timeout_expired"] = cib(
        N2, primitive("r1", {"migration-threshold": "1", "failure-timeout": "60s"}, ops=mon),
        node_state("node1", {"r1": [running("r1")]},
                   attrs={"fail-count-r1#monitor_10000": "1",
                          "last-failure-r1#monitor_10000": "1000"})
        + node_state("node2", _probed("r1")), execution_date=5000)
    quorum_status = node_state("node1", {"r1": [running("r1")], "r2": [stopped("r2")]})
    for policy in ("stop", "freeze", "ignore"):
        s[f"no_quorum_{policy}"] = cib(
            ["node1"], primitive("r1") + primitive("r2"), quorum_status, quorum=False,
            options={"no-quorum-policy": policy})
    s["target_role_stopped"] = cib(
        N2, primitive("r1", {"target-role": "Stopped"}),
        node_state("node1", {"r1": [running("r1")]}) + node_state("node2", _probed("r1")))
    s["unmanaged_prints_nothing"] = cib(
        N2, primitive("r1", {"is-managed": "false"}),
        node_state("node1", {"r1": [running("r1")]}) + node_state("node2", _probed("r1")),
        constraints='<rsc_location id="l1" rsc="r1" node="node1" score="-INFINITY"/>')
    s["maintenance_mode_prints_nothing"] = cib(
        N2, primitive("r1") + primitive("r2"),
        node_state("node1", {"r1": [running("r1")], "r2": [stopped("r2")]})
        + node_state("node2", _probed("r1", "r2")),
        options={"maintenance-mode": "true"},
        constraints='<rsc_location id="l1" rsc="r1" node="node1" score="-INFINITY"/>')
    group = ('<group id="g">' + primitive("a") + primitive("b") + primitive("c") + "</group>")
    s["group_starts_together"] = cib(
        N2, primitive("x") + group,
        "".join(_two(_probed("a", "b", "c", "x"), _probed("a", "b", "c", "x")).values()))
    s["group_location_moves_all"] = cib(
        N2, group,
        node_state("node1", {r: [running(r)] for r in "abc"})
        + node_state("node2", _probed("a", "b", "c")),
        constraints='<rsc_location id="l1" rsc="g" node="node2" score="100"/>')
    s["group_member_banned_stops_later_members"] = cib(
        N2, group,
        node_state("node1", {r: [running(r)] for r in "abc"})
        + node_state("node2", _probed("a", "b", "c")),
        constraints=('<rsc_location id="l1" rsc="b" node="node1" score="-INFINITY"/>'
                     '<rsc_location id="l2" rsc="b" node="node2" score="-INFINITY"/>'))
    ab = primitive("A") + primitive("B")
    s["order_mandatory_restarts_then"] = cib(
        N2, ab,
        node_state("node1", {"A": [running("A")], "B": [running("B")]})
        + node_state("node2", _probed("A", "B")),
        constraints=('<rsc_order id="o1" first="A" then="B"/>'
                     '<rsc_location id="l1" rsc="A" node="node2" score="100"/>'))
    s["order_unrunnable_first_blocks_then"] = cib(
        N2, ab, "".join(_two(_probed("A", "B"), _probed("A", "B")).values()),
        constraints=('<rsc_order id="o1" first="A" then="B"/>'
                     '<rsc_location id="l1" rsc="A" node="node1" score="-INFINITY"/>'
                     '<rsc_location id="l2" rsc="A" node="node2" score="-INFINITY"/>'))
    s["order_optional_ignored"] = cib(
        N2, ab, "".join(_two(_probed("A", "B"), _probed("A", "B")).values()),
        constraints=('<rsc_order id="o1" first="A" then="B" kind="Optional"/>'
                     '<rsc_location id="l1" rsc="A" node="node1" score="-INFINITY"/>'
                     '<rsc_location id="l2" rsc="A" node="node2" score="-INFINITY"/>'))
    s["colocation_follows_primary"] = cib(
        N2, ab,
        node_state("node1", _probed("A", "B")) + node_state("node2", {"A": [running("A")],
                                                                      "B": [stopped("B")]}),
        constraints='<rsc_colocation id="c1" rsc="B" with-rsc="A" score="INFINITY"/>')
    s["anti_colocation_separates"] = cib(
        N2, ab,
        node_state("node1", _probed("A", "B")) + node_state("node2", {"A": [running("A")],
                                                                      "B": [running("B")]}),
        constraints='<rsc_colocation id="c1" rsc="B" with-rsc="A" score="-INFINITY"/>')
    s["colocation_dependent_preference_moves_primary"] = cib(
        ["node1", "node2", "node3"], ab,
        "".join(node_state(n, _probed("A", "B")) for n in ("node1", "node2", "node3")),
        constraints=('<rsc_colocation id="c1" rsc="A" with-rsc="B" score="500"/>'
                     '<rsc_location id="l1" rsc="A" node="node2" score="100"/>'))
    fence_dev = primitive("fencer", cls="stonith")
    s["fencing_lost_node"] = cib(
        N2, fence_dev + primitive("r1"),
        node_state("node1", {"fencer": [running("fencer")], "r1": [stopped("r1")]})
        + node_state("node2", {"r1": [running("r1")]}, in_ccm="false", crmd="offline"),
        options=STONITH)
    s["fencing_action_off"] = cib(
        N2, fence_dev + primitive("r1"),
        node_state("node1", {"fencer": [running("fencer")], "r1": [stopped("r1")]})
        + node_state("node2", {"r1": [running("r1")]}, in_ccm="false", crmd="offline"),
        options={**STONITH, "stonith-action": "poweroff"})
    s["fencing_unseen_node"] = cib(
        ["node1", "node2", "node3"], fence_dev,
        node_state("node1", {"fencer": [stopped("fencer")]})
        + node_state("node3", {"fencer": [stopped("fencer")]}), options=STONITH)
    s["stonith_without_device_blocks"] = cib(
        N2, primitive("r1"),
        node_state("node1", _probed("r1")) + node_state("node2", _probed("r1")), options=STONITH)
    s["orphan_is_stopped"] = cib(
        N2, primitive("r1"),
        node_state("node1", {"r1": [running("r1")], "ghost": [running("ghost")]})
        + node_state("node2", _probed("r1")))
    rule = ('<rsc_location id="l1" rsc="r1"><rule id="l1-r" score="-INFINITY" boolean-op="or">'
            '<expression id="l1-e1" attribute="site" operation="ne" value="a"/>'
            '<expression id="l1-e2" attribute="#uname" operation="eq" value="node1"/>'
            "</rule></rsc_location>")
    s["location_rule_node_attributes"] = cib(
        ["node1", "node2", "node3"], primitive("r1"),
        "".join(node_state(n, _probed("r1")) for n in ("node1", "node2", "node3")),
        constraints=rule,
        node_attrs={"node1": {"site": "a"}, "node2": {"site": "b"}, "node3": {"site": "a"}})
    date_rule = ('<rsc_location id="l1" rsc="r1"><rule id="l1-r" score="100">'
                 '<expression id="l1-n" attribute="#uname" operation="eq" value="node2"/>'
                 '<date_expression id="l1-d" operation="gt" start="2020-01-01"/>'
                 '</rule></rsc_location>'
                 '<rsc_location id="l2" rsc="r1"><rule id="l2-r" score="200">'
                 '<expression id="l2-n" attribute="#uname" operation="eq" value="node1"/>'
                 '<date_expression id="l2-d" operation="lt" end="2020-01-01"/>'
                 '</rule></rsc_location>')
    s["date_rule_in_effect"] = cib(
        N2, primitive("r1"),
        node_state("node1", _probed("r1")) + node_state("node2", _probed("r1")),
        constraints=date_rule, execution_date=1700000000)
    s["date_rule_not_yet"] = cib(
        N2, primitive("r1"),
        node_state("node1", _probed("r1")) + node_state("node2", _probed("r1")),
        constraints=date_rule.replace("2020-01-01", "2030-01-01"), execution_date=1700000000)
    for policy in ("ignore", "block", "stop", "standby"):
        ops = (f'<op id="r1-mon" name="monitor" interval="10s" on-fail="{policy}"/>')
        s[f"on_fail_{policy}"] = cib(
            N2, primitive("r1", ops=ops) + primitive("r2"),
            node_state("node1", {"r1": failed, "r2": [running("r2")]})
            + node_state("node2", _probed("r1", "r2")))
    s["multiply_active_restarts"] = cib(
        N2, primitive("r1"),
        node_state("node1", {"r1": [running("r1")]}) + node_state("node2", {"r1": [running("r1")]}))
    s["definition_change_restarts"] = cib(
        N2, primitive("r1", params={"state": "/tmp/x"}),
        node_state("node1", {"r1": [running("r1")]}) + node_state("node2", _probed("r1")))
    s["asymmetric_cluster_needs_location"] = cib(
        N2, primitive("r1") + primitive("r2"),
        "".join(_two(_probed("r1", "r2"), _probed("r1", "r2")).values()),
        options={"symmetric-cluster": "false"},
        constraints='<rsc_location id="l1" rsc="r1" node="node2" score="0"/>')
    s["pending_node_blocks_starts"] = cib(
        N2, primitive("r1"),
        node_state("node1", _probed("r1")) + node_state("node2", {}, join="down",
                                                       expected="down"),
        options=STONITH)
    s["shutdown_node_moves_resources"] = cib(
        N2, primitive("r1"),
        node_state("node1", {"r1": [running("r1")]}, attrs={"shutdown": "1234"})
        + node_state("node2", _probed("r1")))
    s["priority_orders_assignment"] = cib(
        ["node1"], primitive("low") + primitive("high", {"priority": "10"}),
        node_state("node1", _probed("low", "high")),
        constraints='<rsc_colocation id="c1" rsc="low" with-rsc="high" score="-INFINITY"/>')
    s.update(_collectives())
    s.update(_more())
    return s


def _more() -> dict[str, str]:
    s: dict[str, str] = {}
    three = ["node1", "node2", "node3"]
    abc = primitive("A") + primitive("B") + primitive("C")
    probed = "".join(node_state(n, _probed("A", "B", "C")) for n in three)
    s["order_set_chains_members"] = cib(
        three, abc, probed,
        constraints=('<rsc_order id="o1"><resource_set id="s1">'
                     '<resource_ref id="A"/><resource_ref id="B"/><resource_ref id="C"/>'
                     '</resource_set></rsc_order>'
                     '<rsc_location id="l1" rsc="A" node="node1" score="-INFINITY"/>'
                     '<rsc_location id="l2" rsc="A" node="node2" score="-INFINITY"/>'
                     '<rsc_location id="l3" rsc="A" node="node3" score="-INFINITY"/>'))
    s["order_set_require_all_false"] = cib(
        three, abc, probed,
        constraints=('<rsc_order id="o1"><resource_set id="s1" sequential="false" '
                     'require-all="false"><resource_ref id="A"/><resource_ref id="B"/>'
                     '</resource_set><resource_set id="s2"><resource_ref id="C"/>'
                     '</resource_set></rsc_order>'
                     '<rsc_location id="l1" rsc="A" node="node1" score="-INFINITY"/>'
                     '<rsc_location id="l2" rsc="A" node="node2" score="-INFINITY"/>'
                     '<rsc_location id="l3" rsc="A" node="node3" score="-INFINITY"/>'))
    s["colocation_set_keeps_members_together"] = cib(
        three, abc, probed,
        constraints=('<rsc_colocation id="c1" score="INFINITY"><resource_set id="s1">'
                     '<resource_ref id="A"/><resource_ref id="B"/><resource_ref id="C"/>'
                     '</resource_set></rsc_colocation>'
                     '<rsc_location id="l1" rsc="C" node="node3" score="100"/>'))
    s["colocation_blocks_dependent"] = cib(
        N2, primitive("A", {"target-role": "Stopped"}) + primitive("B"),
        node_state("node1", {"A": [running("A")], "B": [running("B")]})
        + node_state("node2", _probed("A", "B")),
        constraints='<rsc_colocation id="c1" rsc="B" with-rsc="A" score="INFINITY"/>')
    s["node_health_red_moves"] = cib(
        N2, primitive("r1"),
        node_state("node1", {"r1": [running("r1")]}, attrs={"#health-disk": "red"})
        + node_state("node2", _probed("r1")),
        options={"node-health-strategy": "migrate-on-red"})
    fence = primitive("fencer", cls="stonith").replace(
        "</primitive>", '<meta_attributes id="fencer-m"><nvpair id="fencer-m1" '
        'name="provides" value="unfencing"/></meta_attributes></primitive>')
    s["unfencing_before_probes"] = cib(
        N2, fence + primitive("r1"),
        node_state("node1", {"fencer": [stopped("fencer")], "r1": [stopped("r1")]},
                   attrs={"#node-unfenced": "1"})
        + node_state("node2", {}), options=STONITH)
    inter = ('<clone id="c1">' + primitive("p1") + '</clone><clone id="c2">'
             '<meta_attributes id="c2-m"><nvpair id="c2-m1" name="interleave" value="true"/>'
             '</meta_attributes>' + primitive("p2") + "</clone>")
    s["interleaved_clone_order"] = cib(
        N2, inter,
        node_state("node1", {"p1": [running("p1")], "p2": [running("p2")]})
        + node_state("node2", {"p1": [stopped("p1")], "p2": [stopped("p2")]}),
        constraints='<rsc_order id="o1" first="c1" then="c2"/>')
    return s


def _collectives() -> dict[str, str]:
    s: dict[str, str] = {}
    three = ["node1", "node2", "node3"]
    clone = '<clone id="c">' + primitive("r") + "</clone>"
    s["clone_starts_one_per_node"] = cib(
        three, clone, "".join(node_state(n, {"r": [stopped("r")]}) for n in three))
    s["clone_max_limits_instances"] = cib(
        three, clone.replace('<clone id="c">', '<clone id="c"><meta_attributes id="c-m">'
                             '<nvpair id="c-m1" name="clone-max" value="2"/></meta_attributes>'),
        "".join(node_state(n, {"r": [stopped("r")]}) for n in three))
    s["clone_instance_stays_on_standby_free_nodes"] = cib(
        three, clone,
        node_state("node1", {"r": [running("r")]}, attrs={"standby": "on"})
        + node_state("node2", {"r": [running("r")]}) + node_state("node3", {"r": [stopped("r")]}))
    s["order_clone_then_primitive"] = cib(
        three, clone + primitive("x"),
        "".join(node_state(n, {"r": [stopped("r")], "x": [stopped("x")]}) for n in three),
        constraints=('<rsc_order id="o1" first="c" then="x"/>'
                     '<rsc_colocation id="c1" rsc="x" with-rsc="c" score="INFINITY"/>'
                     '<rsc_location id="l1" rsc="c" node="node1" score="-INFINITY"/>'))
    ms = ('<clone id="ms"><meta_attributes id="ms-m"><nvpair id="ms-m1" name="promotable" '
          'value="true"/></meta_attributes>' + primitive("s") + "</clone>")
    s["promotable_promotes_best_score"] = cib(
        N2, ms,
        node_state("node1", {"s": [running("s")]}, attrs={"master-s": "5"})
        + node_state("node2", {"s": [running("s")]}, attrs={"master-s": "10"}))
    s["promotable_demotes_on_score_change"] = cib(
        N2, ms,
        node_state("node1", {"s": [running("s"), op("s", "promote", call=11)]},
                   attrs={"master-s": "5"})
        + node_state("node2", {"s": [running("s")]}, attrs={"master-s": "10"}))
    s["migration_with_allow_migrate"] = cib(
        N2, primitive("vm", {"allow-migrate": "true"}),
        node_state("node1", {"vm": [running("vm")]}, attrs={"standby": "on"})
        + node_state("node2", {"vm": [stopped("vm")]}))
    util = '<utilization id="{0}-u"><nvpair id="{0}-u1" name="cpu" value="{1}"/></utilization>'
    big = primitive("big").replace("</primitive>", util.format("big", 2) + "</primitive>")
    small = primitive("small").replace("</primitive>", util.format("small", 1) + "</primitive>")
    node_xml = cib(N2, big + small, "".join(node_state(n, {"big": [stopped("big")],
                                                           "small": [stopped("small")]})
                                             for n in N2),
                   options={"placement-strategy": "utilization"})
    s["utilization_capacity_separates"] = node_xml.replace(
        '<node id="node1" uname="node1"></node>',
        '<node id="node1" uname="node1">' + util.format("node1", 2) + "</node>").replace(
        '<node id="node2" uname="node2"></node>',
        '<node id="node2" uname="node2">' + util.format("node2", 2) + "</node>")
    # a + b (b with a) fit on no node: a goes to the node with most spare capacity.
    pair = primitive("a").replace("</primitive>", util.format("a", 2) + "</primitive>") + \
        primitive("b").replace("</primitive>", util.format("b", 2) + "</primitive>")
    pair_xml = cib(N2, pair, "".join(node_state(n, {"a": [stopped("a")], "b": [stopped("b")]})
                                     for n in N2),
                   options={"placement-strategy": "utilization"},
                   constraints='<rsc_colocation id="c1" rsc="b" with-rsc="a" score="INFINITY"/>')
    s["utilization_colocated_prefers_most_capable"] = pair_xml.replace(
        '<node id="node1" uname="node1"></node>',
        '<node id="node1" uname="node1">' + util.format("node1", 2) + "</node>").replace(
        '<node id="node2" uname="node2"></node>',
        '<node id="node2" uname="node2">' + util.format("node2", 3) + "</node>")
    # Sorting for a strategy puts the standby node last: r2 (sticky on node2) goes first.
    sticky = "".join(primitive(r, {"resource-stickiness": "100"}).replace(
        "</primitive>", util.format(r, 1) + "</primitive>") for r in ("r1", "r2"))
    standby_xml = cib(N2, sticky, node_state("node1", {"r1": [running("r1")],
                                                       "r2": [stopped("r2")]},
                                             attrs={"standby": "on"})
                      + node_state("node2", {"r1": [stopped("r1")], "r2": [running("r2")]}),
                      options={"placement-strategy": "balanced"})
    s["utilization_sort_skips_standby_node"] = standby_xml.replace(
        '<node id="node1" uname="node1"></node>',
        '<node id="node1" uname="node1">' + util.format("node1", 1) + "</node>").replace(
        '<node id="node2" uname="node2"></node>',
        '<node id="node2" uname="node2">' + util.format("node2", 1) + "</node>")
    # A clone instance refused on its current node (no capacity) gives the capacity back.
    cap = {"x": primitive("x", {"priority": "2"}).replace(
        "</primitive>", util.format("x", 1) + "</primitive>"),
        "p": primitive("p").replace("</primitive>", util.format("p", 1) + "</primitive>")}
    roll_xml = cib(N2, cap["x"] + '<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" '
                   'name="priority" value="1"/></meta_attributes>' + cap["p"] + "</clone>",
                   "".join(node_state(n, {"x": [stopped("x")], "p": [running("p")]})
                           for n in N2),
                   options={"placement-strategy": "utilization"})
    s["utilization_clone_rollback_frees_capacity"] = roll_xml.replace(
        '<node id="node1" uname="node1"></node>',
        '<node id="node1" uname="node1">' + util.format("node1", 1) + "</node>").replace(
        '<node id="node2" uname="node2"></node>',
        '<node id="node2" uname="node2">' + util.format("node2", 1) + "</node>")
    # Extra instance histories of an anonymous clone on one node: each is a new orphan.
    one = ('<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" name="clone-max" '
           'value="1"/></meta_attributes>' + primitive("r") + "</clone>")
    s["anonymous_clone_orphans_numbered_on"] = cib(
        N2, one, node_state("node1", {f"r:{i}": [running(f"r:{i}")] for i in range(3)})
        + node_state("node2", {"r": [stopped("r")]}))
    # requires=quorum, clone not on every node: a lost node's history is an orphan.
    lost = (primitive("fencer", cls="stonith") + '<clone id="c"><meta_attributes id="c-m">'
            '<nvpair id="c-m1" name="clone-max" value="2"/></meta_attributes>'
            + primitive("r", {"requires": "quorum"}) + "</clone>")
    s["clone_lost_node_history_is_orphan"] = cib(
        ["node1", "node2", "node3"], lost,
        node_state("node3", {"r": [running("r")]}, in_ccm="false", crmd="offline")
        + node_state("node1", {"fencer": [running("fencer")], "r": [running("r")]})
        + node_state("node2", {"r": [running("r")]}), options=STONITH)
    # Cloned group: extra histories fill one orphan instance, stopped even though
    # stop-orphan-resources is false (that option is for removed resources only).
    cg = ('<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" name="clone-max" '
          'value="1"/></meta_attributes><group id="g">' + primitive("a") + primitive("b")
          + "</group></clone>")
    s["cloned_group_orphans_share_instance"] = cib(
        N2, cg, node_state("node1", {r: [running(r)] for r in ("b:1", "b:0", "a:1", "a:0")})
        + node_state("node2", {"a": [stopped("a")], "b": [stopped("b")]}),
        options={"stop-orphan-resources": "false"})
    # Instance attributes of a group are parameters of its members (digest changes).
    inherit = ('<group id="g"><instance_attributes id="g-ia"><nvpair id="g-ia1" name="x" '
               'value="1"/></instance_attributes>' + primitive("r") + "</group>")
    s["group_params_inherited"] = cib(
        N2, inherit, node_state("node1", {"r": [running("r")]})
        + node_state("node2", {"r": [stopped("r")]}))
    # A unique clone's instance does not stick to its current node on a tie.
    uniq = ('<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" name="globally-unique" '
            'value="true"/><nvpair id="c-m2" name="clone-max" value="2"/><nvpair id="c-m3" '
            'name="clone-node-max" value="2"/><nvpair id="c-m4" name="resource-stickiness" '
            'value="0"/></meta_attributes>' + primitive("p") + "</clone>")
    s["unique_clone_rebalances"] = cib(
        N2, uniq, node_state("node1", {"p:0": [running("p:0")], "p:1": [running("p:1")]})
        + node_state("node2", {"p:0": [stopped("p:0")], "p:1": [stopped("p:1")]}),
        constraints='<rsc_location id="l1" rsc="c" node="node1" score="100"/>'
                    '<rsc_location id="l2" rsc="c" node="node2" score="100"/>')
    # Interleaved mandatory order: no then-instance where the first clone cannot run.
    unpaired = ('<clone id="c1">' + primitive("p1") + '</clone><clone id="c2">'
                '<meta_attributes id="c2-m"><nvpair id="c2-m1" name="interleave" value="true"/>'
                '</meta_attributes>' + primitive("p2") + "</clone>")
    s["interleave_without_partner_stays_stopped"] = cib(
        ["node1", "node2", "node3"], unpaired,
        "".join(node_state(n, {"p1": [stopped("p1")], "p2": [stopped("p2")]})
                for n in ("node1", "node2", "node3")),
        constraints='<rsc_order id="o1" first="c1" then="c2"/>'
                    '<rsc_location id="l1" rsc="c1" node="node1" score="-INFINITY"/>')
    # Inactive clone instances: the one with the better node scores is placed first.
    ms = ('<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" name="promotable" '
          'value="true"/><nvpair id="c-m2" name="globally-unique" value="true"/><nvpair '
          'id="c-m3" name="clone-max" value="2"/><nvpair id="c-m4" name="clone-node-max" '
          'value="1"/><nvpair id="c-m5" name="promoted-max" value="1"/></meta_attributes>'
          + primitive("p") + "</clone>")
    probes = {"p:0": [stopped("p:0")], "p:1": [stopped("p:1")]}
    s["instances_sorted_by_scores"] = cib(
        N2, ms, node_state("node1", probes, attrs={"master-p:0": "10", "master-p:1": "100"})
        + node_state("node2", probes, attrs={"master-p:0": "30", "master-p:1": "300"}))
    # A demote failing with on-fail=block leaves the instance promoted (and blocked).
    blk = ('<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" name="promotable" '
           'value="true"/></meta_attributes>'
           + primitive("p", ops='<op id="p-dem" name="demote" interval="0" on-fail="block"/>')
           + "</clone>")
    s["failed_demote_block_stays_promoted"] = cib(
        N2, blk, node_state("node1", {"p": [op("p", "monitor", rc=8, call=2),
                                            op("p", "demote", rc=1, call=4)]},
                            attrs={"master-p": "10"})
        + node_state("node2", {"p": [running("p")]}, attrs={"master-p": "5"}))
    s["failed_demote_block_on_standby_node"] = cib(
        N2, blk, node_state("node1", {"p": [op("p", "monitor", rc=8, call=2),
                                            op("p", "demote", rc=1, call=4)]},
                            attrs={"master-p": "10", "standby": "on"})
        + node_state("node2", {"p": [running("p")]}, attrs={"master-p": "5"}))
    # A clone's "with" primaries (here a later group) are assigned before the clone.
    colo = ('<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" name="promotable" '
            'value="true"/></meta_attributes>' + primitive("p") + '</clone><group id="g">'
            + primitive("a") + "</group>")
    s["promoted_with_later_group"] = cib(
        N2, colo, node_state("node1", {"p": [running("p")], "a": [stopped("a")]})
        + node_state("node2", {"p": [running("p")], "a": [running("a")]}),
        constraints='<rsc_colocation id="cg" rsc="c" rsc-role="Promoted" with-rsc="g" '
                    'score="INFINITY"/>')
    # A failed clone instance is first offered its current node like any active one.
    mon10 = '<op id="q-mon" name="monitor" interval="10s"/>'
    fc = ('<clone id="c"><meta_attributes id="c-m"><nvpair id="c-m1" name="clone-max" '
          'value="2"/></meta_attributes>' + primitive("q", ops=mon10) + "</clone>")
    s["failed_instance_recovers_in_place"] = cib(
        ["node1", "node2", "node3"], fc,
        node_state("node1", {"q": [running("q"), op("q", "monitor", interval=10000, rc=1,
                                                    call=11)]})
        + node_state("node2", {"q": [running("q")]})
        + node_state("node3", {"q": [stopped("q")]}),
        constraints='<rsc_location id="l3" rsc="c" node="node3" score="50"/>')
    pc = ('<clone id="pc"><meta_attributes id="pc-m"><nvpair id="pc-m1" name="promotable" '
          'value="true"/></meta_attributes>' + primitive("q", ops=mon10) + "</clone>")
    s["failed_promotable_instance_recovers_in_place"] = cib(
        N2, pc, node_state("node1", {"q": [running("q")]}, attrs={"master-q": "5"})
        + node_state("node2", {"q": [running("q"), op("q", "monitor", interval=10000, rc=1,
                                                      call=11)]}, attrs={"master-q": "100"}))
    return s
