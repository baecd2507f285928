"""`lab heal` clears every fault the lab can set; network faults outlive a node's reboot.

Needs root, iproute2, nftables and util-linux; skipped otherwise. Only the lab's own state
(nft rules on the switch, link flags in the node namespaces, status JSON) is checked.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from lab_names import NAMESPACE_LAB_MARKS, lab_name

from lab.cli import lab

pytestmark = NAMESPACE_LAB_MARKS

NAME = lab_name("hcfault")


def cli(*args: str) -> str:
    result = CliRunner().invoke(lab, ["--name", NAME, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[None]:
    cli("down")
    cli("up", "--nodes", "2", "--links", "2", "--no-crm")
    try:
        yield
    finally:
        cli("down")


def _status() -> dict:  # type: ignore[type-arg]
    return json.loads(cli("status", "--json"))  # type: ignore[no-any-return]


def _rules(chain: str) -> str:
    return subprocess.run(["ip", "netns", "exec", f"{NAME}-sw", "nft", "list", "chain",
                           "bridge", "hclab", chain], capture_output=True, text=True,
                          check=True).stdout


def _link_up(node: str, device: str) -> bool:
    shown = subprocess.run(["ip", "-n", f"{NAME}-{node}", "-o", "link", "show", device],
                           capture_output=True, text=True, check=True).stdout
    return ",UP" in shown or "<UP" in shown


def test_loss_and_a_down_link_outlive_kill_and_start(two_nodes: None) -> None:
    cli("loss", "n2", "30")
    cli("link", "n2", "down", "--link", "1")
    cli("kill", "n2")
    cli("start", "n2")
    assert _status()["loss"] == {"n2": 30}
    assert "numgen random mod 100 < 30" in _rules("loss")
    assert not _link_up("n2", "eth1")
    cli("heal")


def test_heal_clears_partition_loss_and_links_set_down(two_nodes: None) -> None:
    cli("partition", "n1", "n2")
    cli("loss", "n1", "20")
    cli("link", "n2", "down")
    assert "drop" in _rules("partition") and "drop" in _rules("loss")
    cli("heal")
    status = _status()
    assert status["partition"] == [] and status["loss"] == {}
    assert "drop" not in _rules("partition") and "drop" not in _rules("loss")
    assert all(_link_up(node, dev) for node in ("n1", "n2") for dev in ("eth0", "eth1"))


def _addresses(node: str, device: str) -> list[str]:
    shown = subprocess.run(["ip", "-n", f"{NAME}-{node}", "-o", "-4", "addr", "show", device],
                           capture_output=True, text=True, check=True).stdout
    return [line.split()[3].split("/")[0] for line in shown.splitlines()]


def test_a_killed_node_loses_addresses_its_resources_added(two_nodes: None) -> None:
    """A node that loses power no longer answers for an IPaddr2 address: the namespace
    outlives the node's processes, so the lab removes the address itself."""
    own = _addresses("n2", "eth0")
    subprocess.run(["ip", "-n", f"{NAME}-n2", "addr", "add", "10.213.60.250/24", "dev",
                    "eth0"], check=True)
    assert "10.213.60.250" in _addresses("n2", "eth0")
    cli("kill", "n2")
    assert _addresses("n2", "eth0") == own
    subprocess.run(["ip", "-n", f"{NAME}-n2", "addr", "add", "10.213.60.251/24", "dev",
                    "eth0"], check=True)
    cli("start", "n2")  # a boot, too, starts with the configured addresses only
    assert _addresses("n2", "eth0") == own
    assert own == ["10.213.60.12"]


def test_debian_dummy_keeps_its_state_in_the_nodes_own_run(two_nodes: None) -> None:
    """Debian's Dummy writes /run/resource-agents/Dummy-<id>.state (HA_RSCTMP): each node
    boots with that directory in its private /run, and another node does not see it."""
    agent = "/usr/lib/ocf/resource.d/heartbeat/Dummy"
    if not Path(agent).exists():
        pytest.skip("Debian's resource-agents is not installed")

    def dummy(node: str, action: str) -> int:
        script = f"OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=probe-dummy {agent} {action}"
        result = CliRunner().invoke(lab, ["--name", NAME, "exec", node, "sh", "-c", script])
        return result.exit_code

    assert dummy("n1", "start") == 0
    assert dummy("n1", "monitor") == 0
    assert dummy("n2", "monitor") == 7  # OCF_NOT_RUNNING: n2's /run is its own


def test_one_start_boots_several_nodes(two_nodes: None) -> None:
    """`lab start n1 n2` powers both nodes on (as power returning to a rack): each gets a
    new holder and its daemons; an unknown name fails before any node is powered on."""
    before = _status()["nodes"]
    cli("kill", "n1")
    cli("kill", "n2")
    assert not any(node["running"] for node in _status()["nodes"].values())
    unknown = CliRunner().invoke(lab, ["--name", NAME, "start", "n1", "n9"])
    assert unknown.exit_code != 0
    assert not any(node["running"] for node in _status()["nodes"].values())
    cli("start", "n1", "n2")
    after = _status()["nodes"]
    for name in ("n1", "n2"):
        assert after[name]["running"], after[name]
        assert after[name]["pid"] != before[name]["pid"]
        assert after[name]["daemons"] and all(
            daemon["running"] for daemon in after[name]["daemons"].values())
