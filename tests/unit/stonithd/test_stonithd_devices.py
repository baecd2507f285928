"""devices.load_config and Device rules, from CIB XML written in the tests."""

from __future__ import annotations

import random

import pytest

from messaging.errors import ConfigError, Location
from stonithd.devices import HostCheck, load_config, parse_duration, parse_host_map

W = Location("t")


def cib(resources: str = "", topology: str = "", extra: str = "") -> str:
    return (f"<cib><configuration><crm_config>{extra}</crm_config><nodes>"
            '<node id="1" uname="n1"><instance_attributes id="na">'
            '<nvpair id="r" name="rack" value="r1"/></instance_attributes></node>'
            '<node id="2" uname="n2"/></nodes>'
            f"<resources>{resources}</resources>"
            '<constraints><rsc_location id="ban" rsc="d2" node="n1" score="-INFINITY"/>'
            f"</constraints><fencing-topology>{topology}</fencing-topology>"
            "</configuration><status/></cib>")


def device(rid: str, agent: str = "fence_x", **attrs: str) -> str:
    pairs = "".join(f'<nvpair id="{rid}-{k}" name="{k}" value="{v}"/>' for k, v in attrs.items())
    return (f'<primitive id="{rid}" class="stonith" type="{agent}">'
            f'<instance_attributes id="{rid}-ia">{pairs}</instance_attributes></primitive>')


@pytest.mark.parametrize(("text", "seconds"), [("60", 60), ("60s", 60), ("500ms", 0.5),
                                               ("2min", 120), ("1m", 60), ("1h", 3600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, W) == seconds


def test_bad_duration_names_location() -> None:
    with pytest.raises(ConfigError, match="'5 parsecs' is not a duration") as info:
        parse_duration("5 parsecs", Location("cib.xml", 3))
    assert "cib.xml:3" in str(info.value)


def test_host_map_and_ports() -> None:
    assert parse_host_map("n1:1;n2:2,3 n3=4", W) == (("n1", "1"), ("n2", "2,3"), ("n3", "4"))
    with pytest.raises(ConfigError, match="not node:port"):
        parse_host_map("n1:1;n2", W)
    config = load_config(cib(device("d1", pcmk_host_map="n1:plug1;n2:plug2")))
    d1 = config.devices["d1"]
    assert d1.port_for("n1") == "plug1"
    assert d1.port_for("n9") == "n9"
    assert d1.in_static_list("n2") and not d1.in_static_list("n9")


def test_default_host_check_follows_pacemaker() -> None:
    config = load_config(cib(device("a", pcmk_host_list="n1,n2") + device("b")
                             + device("c", pcmk_host_check="none")))
    a, b, c = (config.devices[x] for x in "abc")
    assert a.host_list == ("n1", "n2")
    assert a.resolved_host_check(None) is HostCheck.STATIC_LIST
    assert b.resolved_host_check(frozenset({"list", "status"})) is HostCheck.DYNAMIC_LIST
    assert b.resolved_host_check(frozenset({"status"})) is HostCheck.STATUS
    assert b.resolved_host_check(frozenset({"off"})) is HostCheck.NONE
    assert c.resolved_host_check(frozenset({"list"})) is HostCheck.NONE


def test_agent_input_maps_action_port_and_drops_pcmk_params() -> None:
    config = load_config(cib(device("d1", pcmk_host_map="n1:7", pcmk_reboot_action="off",
                                    ipaddr="10.0.0.1")
                             + device("d3", pcmk_host_argument="none", pcmk_host_list="n1")))
    assert config.devices["d1"].agent_input("reboot", "n1") == (
        ("action", "off"), ("ipaddr", "10.0.0.1"), ("nodename", "n1"), ("port", "7"))
    assert config.devices["d1"].agent_input("list", None) == (
        ("action", "list"), ("ipaddr", "10.0.0.1"))
    assert ("port", "n1") not in config.devices["d3"].agent_input("off", "n1")


def test_delays_stay_within_base_and_max() -> None:
    config = load_config(cib(device("d1", pcmk_delay_base="2s", pcmk_delay_max="5s")
                             + device("d2", pcmk_delay_base="n1:0s;n2:7s")))
    rng = random.Random(4)
    delays = [config.devices["d1"].delay_for("n1", rng) for _ in range(200)]
    assert min(delays) >= 2 and max(delays) <= 5 and max(delays) - min(delays) > 2
    assert config.devices["d2"].delay_for("n2", rng) == 7
    assert config.devices["d2"].delay_for("n1", rng) == 0


def test_timeouts_retries_and_cluster_options() -> None:
    extra = ('<cluster_property_set id="o"><nvpair id="t" name="stonith-timeout" value="90s"/>'
             "</cluster_property_set>")
    config = load_config(cib(device("d1", pcmk_reboot_timeout="30s", pcmk_off_retries="0"),
                             extra=extra))
    d1 = config.devices["d1"]
    assert (d1.timeout_for("reboot", 60), d1.timeout_for("off", 60)) == (30, 60)
    assert (d1.retries_for("off"), d1.retries_for("reboot")) == (0, 2)
    assert config.stonith_timeout == 90


def test_banned_and_disabled_devices_are_not_runnable_there() -> None:
    disabled = ('<primitive id="d3" class="stonith" type="fence_x"><meta_attributes id="m">'
                '<nvpair id="m1" name="target-role" value="Stopped"/></meta_attributes>'
                "</primitive>")
    xml = cib(device("d1") + device("d2") + disabled)
    assert load_config(xml, local_node="n1").runnable == {"d1"}
    assert load_config(xml, local_node="n2").runnable == {"d1", "d2"}
    assert set(load_config(xml, local_node="n1").devices) == {"d1", "d2", "d3"}


def test_topology_exact_beats_pattern_beats_attribute_and_sorts_by_index() -> None:
    topology = ('<fencing-level id="p1" target-pattern="^n[0-9]$" index="1" devices="pat"/>'
                '<fencing-level id="e2" target="n1" index="2" devices="b,c"/>'
                '<fencing-level id="e1" target="n1" index="1" devices="a"/>'
                '<fencing-level id="a1" target-attribute="rack" target-value="r1" index="1" '
                'devices="rack"/>')
    config = load_config(cib(topology=topology))
    assert [lvl.devices for lvl in config.levels_for("n1")] == [("a",), ("b", "c")]
    assert [lvl.devices for lvl in config.levels_for("n2")] == [("pat",)]
    assert config.levels_for("other") == ()
    only_attr = load_config(cib(topology='<fencing-level id="a1" target-attribute="rack" '
                                         'target-value="r1" index="1" devices="rack"/>'))
    assert [lvl.devices for lvl in only_attr.levels_for("n1")] == [("rack",)]


@pytest.mark.parametrize(("xml", "message"), [
    ("<cib><configuration>", "not well-formed XML"),
    ("<notcib/>", "expected <cib>"),
    (cib(device("d1", pcmk_host_check="maybe")), "pcmk_host_check='maybe'"),
    (cib(device("d1", agent="stonith_x")), "fence_\\* type"),
    (cib(device("d1") + device("d1")), "duplicate stonith device id 'd1'"),
    (cib(topology='<fencing-level id="l" target="n1" index="0" devices="a"/>'), "1..9"),
    (cib(topology='<fencing-level id="l" target="n1" index="1" devices=""/>'), "no devices"),
    (cib(topology='<fencing-level id="l" target="n1" target-pattern="n" index="1" devices="a"/>'),
     "exactly one of"),
    (cib(topology='<fencing-level id="l" target-pattern="(" index="1" devices="a"/>'),
     "target-pattern"),
])
def test_bad_cib_is_rejected_with_location(xml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(xml, source="cib.xml")
    assert str(info.value).startswith("cib.xml")
