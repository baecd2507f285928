"""The CIB every lab node starts from: the demo configuration (lab/demo.xml) or no resources.

`lab/demo.xml` is the one demo configuration of both labs (the namespace lab and
docker-compose.yml): a virtual IP and a service in a group, stonith-enabled=true,
no-quorum-policy=stop and the fence_lab device. `seed_cib` fits it to a cluster: its
<nodes> and the device's `pcmk_host_list` become the cluster's node names, `cluster-name`
the cluster's name; with ``config="empty"`` every resource but the fence device is dropped
(fencing stays on, so stonithd still has a device). The device reaches the lab's power
switch at `pdu_socket` (lab.pdu in the namespace lab, lab.docker_pdu in Docker).

`lab up` writes the result, signed, into each node's cib daemon store (STATE/cib/, see
`seed_store`), so every node's cib starts from the same copy; stonithd follows the cib
daemon, so devices, levels and constraints added with cibadmin reach it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lxml import etree

from cib.api import FEATURE_SET
from messaging.errors import UsageError

from .layout import CIB_CONFIGS, LabSpec

FENCE_DEVICE = "fence-lab"


def demo_xml() -> bytes:
    """The demo configuration exactly as shipped (lab/demo.xml)."""
    return (resources.files("lab") / "demo.xml").read_bytes()


def seed_cib(nodes: list[str], cluster_name: str, config: str = "demo") -> bytes:
    """The demo CIB fitted to `nodes` and `cluster_name`; `config` is one of CIB_CONFIGS."""
    if config not in CIB_CONFIGS:
        raise UsageError(f"the seed configuration is one of {', '.join(CIB_CONFIGS)}, "
                         f"not {config!r}")
    root = etree.fromstring(demo_xml(), etree.XMLParser(remove_comments=True))
    # the CIB manager's feature set: Debian's Pacemaker 2.1.5 tools refuse a CIB file of a
    # newer one ("Protocol not supported"), and crm_simulate aborts on it
    root.set("crm_feature_set", FEATURE_SET)
    _find(root, ".//nvpair[@name='cluster-name']").set("value", cluster_name)
    node_list = _find(root, "configuration/nodes")
    for old in list(node_list):
        node_list.remove(old)
    for index, name in enumerate(nodes, start=1):
        etree.SubElement(node_list, "node", id=str(index), uname=name)
    device = _find(root, f".//primitive[@id='{FENCE_DEVICE}']")
    _find(device, ".//nvpair[@name='pcmk_host_list']").set("value", " ".join(nodes))
    if config == "empty":
        section = _find(root, "configuration/resources")
        for child in list(section):
            if child is not device:
                section.remove(child)
    etree.indent(root)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data + b"\n"


def _find(parent: etree._Element, path: str) -> etree._Element:
    found = parent.find(path)
    if found is None:  # lab/demo.xml ships with the package: a missing part is our bug
        raise AssertionError(f"lab/demo.xml has no {path}")
    return found


def cib_xml(spec: LabSpec) -> bytes:
    """The seed CIB of a lab made from `spec` (its nodes, its name, its `cib` choice)."""
    return seed_cib(spec.node_names(), spec.name, spec.cib)


def seed_store(state_dir: Path, spec: LabSpec) -> None:
    """Write `cib_xml` as the live copy of the cib daemon's store in `state_dir`."""
    from cib.api import seed_store as install

    install(state_dir, cib_xml(spec))


__all__ = ["cib_xml", "demo_xml", "seed_cib", "seed_store"]
