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
