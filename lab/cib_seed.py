"""The CIB a lab node's fencer starts from: fencing enabled, one fence_lab device.

`lab up` writes it to each node's state directory (STATE/cib.xml, which stonithd follows
when the launcher starts it) and, signed, into the cib daemon's store (STATE/cib/, see
`seed_store`), so every node's cib starts from the same copy. The device `fence-lab` may
fence every lab node (`pcmk_host_list`) through the lab's power switch (`pdu_socket`, see
lab.pdu). stonithd still polls STATE/cib.xml (edit it to add devices, levels or
constraints; it is re-read within a second); changes made through cibadmin reach the cib
daemon's copy only.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from cib.model import FEATURE_SET

from .layout import NODE_PDU_SOCKET, LabSpec


def _nvpair(parent: etree._Element, prefix: str, name: str, value: str) -> None:
    etree.SubElement(parent, "nvpair", id=f"{prefix}-{name}", name=name, value=value)


def cib_xml(spec: LabSpec, pdu_socket: str = NODE_PDU_SOCKET) -> bytes:
    """A minimal Pacemaker-schema CIB with stonith-enabled=true and a fence_lab device."""
    # the CIB manager's feature set: Debian's Pacemaker 2.1.5 tools refuse to write a CIB
    # file of a newer one ("Protocol not supported")
    root = etree.Element("cib", {"validate-with": "pacemaker-3.9", "crm_feature_set": FEATURE_SET,
                                 "epoch": "1", "num_updates": "0", "admin_epoch": "0"})
    config = etree.SubElement(root, "configuration")
    options = etree.SubElement(etree.SubElement(config, "crm_config"), "cluster_property_set",
                               id="cib-bootstrap-options")
    _nvpair(options, "cib-bootstrap-options", "stonith-enabled", "true")
    _nvpair(options, "cib-bootstrap-options", "cluster-name", spec.name)
    nodes = etree.SubElement(config, "nodes")
    for index, name in enumerate(spec.node_names(), start=1):
        etree.SubElement(nodes, "node", id=str(index), uname=name)
    resources = etree.SubElement(config, "resources")
    device = etree.SubElement(resources, "primitive", id="fence-lab", type="fence_lab")
    device.set("class", "stonith")
    attrs = etree.SubElement(device, "instance_attributes", id="fence-lab-ia")
    _nvpair(attrs, "fence-lab-ia", "pcmk_host_list", " ".join(spec.node_names()))
    _nvpair(attrs, "fence-lab-ia", "pdu_socket", pdu_socket)
    ops = etree.SubElement(device, "operations")
    etree.SubElement(ops, "op", id="fence-lab-monitor-60s", name="monitor", interval="60s")
    etree.SubElement(config, "constraints")
    etree.SubElement(root, "status")
    data: bytes = etree.tostring(root, pretty_print=True, xml_declaration=True,
                                 encoding="UTF-8")
    return data


def seed_store(state_dir: Path, spec: LabSpec) -> None:
    """Write `cib_xml` as the live copy of the cib daemon's store in `state_dir`."""
    from cib.api import seed_store as install

    install(state_dir, cib_xml(spec))


__all__ = ["cib_xml", "seed_store"]
