"""The CIB `lab up` seeds for each node's fencer loads into a usable fencing config."""

from __future__ import annotations

from lxml import etree

from lab.cib_seed import cib_xml
from lab.layout import NODE_PDU_SOCKET, LabSpec, ha_cf
from stonithd.devices import load_config


def test_seeded_cib_has_one_fence_lab_device_for_every_node() -> None:
    spec = LabSpec("t1", nodes=4)
    config = load_config(cib_xml(spec), source="seed", local_node="n2")
    device = config.devices["fence-lab"]
    assert device.agent == "fence_lab"
    assert device.host_list == ("n1", "n2", "n3", "n4")
    assert ("pdu_socket", NODE_PDU_SOCKET) in device.params
    root = etree.fromstring(cib_xml(spec))
    enabled = root.xpath("//cluster_property_set/nvpair[@name='stonith-enabled']/@value")
    assert enabled == ["true"]
    assert root.xpath("//nodes/node/@uname") == ["n1", "n2", "n3", "n4"]


def test_crm_respawn_only_when_asked() -> None:
    assert "crm respawn" in ha_cf(LabSpec("t1"), "/var/lib/hacluster").splitlines()
    assert not any(line.startswith("crm") for line in
                   ha_cf(LabSpec("t1", crm=False), "/var/lib/hacluster").splitlines())


def test_demo_is_the_default_a_group_of_an_ip_on_the_lab_subnet_and_a_service() -> None:
    import ipaddress

    from lab.layout import address

    spec = LabSpec("t1", nodes=16)
    root = etree.fromstring(cib_xml(spec))
    assert root.xpath("//group/@id") == ["demo"]
    members = root.xpath("//group[@id='demo']/primitive")
    assert [(p.get("id"), p.get("type")) for p in members] == [
        ("demo-ip", "IPaddr2"), ("demo-service", "Dummy")]
    ip_path = "//primitive[@id='demo-ip']//nvpair[@name='ip']/@value"
    ip = ipaddress.ip_address(root.xpath(ip_path)[0])
    subnet = ipaddress.ip_network(f"{address(spec, 1)}/24", strict=False)
    assert ip in subnet
    assert str(ip) not in {address(spec, i) for i in range(1, 17)}
    properties = dict(zip(root.xpath("//crm_config//nvpair/@name"),
                          root.xpath("//crm_config//nvpair/@value"), strict=True))
    assert properties == {"stonith-enabled": "true", "no-quorum-policy": "stop",
                          "cluster-name": "t1"}


def test_empty_config_keeps_only_the_fence_device() -> None:
    root = etree.fromstring(cib_xml(LabSpec("t1", cib="empty")))
    assert root.xpath("//resources/*/@id") == ["fence-lab"]
    assert root.xpath("//nvpair[@name='stonith-enabled']/@value") == ["true"]


def test_unknown_config_is_refused_with_the_choices() -> None:
    import pytest

    from messaging.errors import UsageError

    with pytest.raises(UsageError, match="demo, empty"):
        LabSpec("t1", cib="web")
