"""The cib daemon's followers in a 3-node lab: attrd and stonithd.

The attribute manager (real launchers, or loopback daemons): an update on
one node is seen on the others and lands in every node's status section; the value
survives the writer's node being killed (the next writer writes on, and the dead node's
own attributes leave attrd and the CIB); a restarted node learns the values again;
dampening holds the CIB write back while attrd already has the value; crm_attribute -l
reboot goes through attrd. stonithd (namespace lab only: the loopback lab runs no
fencer): a fence device created with cibadmin is registered without any file being
touched. Conditions are waited for, never timings asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from lab_names import lab_name

from lab.cli import lab

pytestmark = [pytest.mark.lab]
LAB = lab_name("hcattrd")
BIN = Path(sys.executable).parent
TIMEOUT = 90.0
DAMPEN_S = 20  # long enough that the check right after the update runs inside the window


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(lab, ["--name", LAB, *args], catch_exceptions=False)
    return result.exit_code, result.output


def tool(state_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HACLUSTER_STATE_DIR=state_dir)
    env.pop("CIB_file", None)
    return subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def attrd_values(state_dir: str, name: str) -> str:
    """attrd_updater -Q -A output of one node ("" when it does not answer)."""
    done = tool(state_dir, "attrd_updater", "-n", name, "-Q", "-A")
    return done.stdout if done.returncode == 0 else ""


def in_status(state_dir: str, node_id: str, name: str, value: str) -> bool:
    """The node's copy of the CIB holds name=value in node `node_id`'s transient attributes."""
    done = tool(state_dir, "cibadmin", "-Q", "--xpath",
                f"/cib/status/node_state[@id='{node_id}']/transient_attributes"
                f"//nvpair[@name='{name}']")
    return done.returncode == 0 and f'value="{value}"' in done.stdout


@pytest.fixture(scope="module")
def dirs() -> Iterator[dict[str, str]]:
    cli("down")
    code, out = cli("up", "--nodes", "3", "--wait", "30")
    try:
        assert code == 0, out
        status = json.loads(cli("status", "--json")[1])
        found = {n: info["state_dir"] for n, info in status["nodes"].items()}
        for state_dir in found.values():  # attrd answers (105: it knows no such attribute)
            wait_for("attrd up", lambda d=state_dir: tool(
                d, "attrd_updater", "-n", "none", "-Q").returncode == 105)
        yield found
    finally:
        assert cli("down")[0] == 0


def test_attrd_across_nodes_writer_loss_and_dampening(dirs: dict[str, str]) -> None:
    n1, n2, n3 = dirs["n1"], dirs["n2"], dirs["n3"]
    assert tool(n1, "attrd_updater", "-n", "lab-a", "-U", "5", "-N", "n2").returncode == 0
    assert tool(n1, "attrd_updater", "-n", "lab-own", "-U", "x").returncode == 0
    wait_for("n3 sees lab-a", lambda: 'name="lab-a" host="n2" value="5"' in
             attrd_values(n3, "lab-a"))
    wait_for("lab-a in n3's status", lambda: in_status(n3, "2", "lab-a", "5"))
    wait_for("lab-own in the status", lambda: in_status(n3, "1", "lab-own", "x"))
    for node in (n2, n3):  # value++ from two nodes, expanded in turn
        assert tool(node, "attrd_updater", "-n", "lab-a", "-U", "value++", "-N",
                    "n2").returncode == 0
        wait_for("the increment reached n1", lambda node=node: '"6"' in attrd_values(
            n1, "lab-a") if node is n2 else '"7"' in attrd_values(n1, "lab-a"))
    wait_for("lab-a=7 in the status", lambda: in_status(n2, "2", "lab-a", "7"))

    assert cli("kill", "n1")[0] == 0  # n1, the lowest name, is the writer
    wait_for("n1's own attribute leaves attrd", lambda: "lab-own" not in attrd_values(
        n3, "lab-own"))
    assert 'host="n2" value="7"' in attrd_values(n3, "lab-a")
    wait_for("the new writer deletes n1's attributes", lambda: not in_status(
        n3, "1", "lab-own", "x"))
    assert tool(n3, "attrd_updater", "-n", "lab-a", "-U", "8", "-N", "n2").returncode == 0
    wait_for("the new writer writes", lambda: in_status(n3, "2", "lab-a", "8"))

    assert cli("start", "n1")[0] == 0
    wait_for("restarted n1 learns lab-a", lambda: 'host="n2" value="8"' in attrd_values(
        n1, "lab-a"))

    assert tool(n2, "attrd_updater", "-n", "lab-d", "-B", "1", "-d", f"{DAMPEN_S}s",
                "-N", "n3").returncode == 0
    wait_for("n1 sees lab-d", lambda: 'value="1"' in attrd_values(n1, "lab-d"))
    assert not in_status(n1, "3", "lab-d", "1")  # attrd has it, the CIB not yet
    wait_for("lab-d written after its dampening", lambda: in_status(n1, "3", "lab-d", "1"))


def test_crm_attribute_reboot_goes_through_attrd(dirs: dict[str, str]) -> None:
    done = tool(dirs["n2"], "crm_attribute", "-l", "reboot", "-N", "n3", "-n", "lab-c",
                "-v", "on")
    assert done.returncode == 0, done.stderr
    wait_for("attrd on n1 has lab-c", lambda: 'host="n3" value="on"' in attrd_values(
        dirs["n1"], "lab-c"))
    wait_for("lab-c in the status", lambda: in_status(dirs["n1"], "3", "lab-c", "on"))
    done = tool(dirs["n1"], "crm_attribute", "-l", "reboot", "-N", "n3", "-n", "lab-c", "-D")
    assert done.returncode == 0, done.stderr
    wait_for("lab-c deleted by attrd", lambda: 'value="on"' not in attrd_values(
        dirs["n3"], "lab-c"))
    wait_for("lab-c gone from the status", lambda: not in_status(dirs["n1"], "3", "lab-c",
                                                                  "on"))


def test_a_device_added_with_cibadmin_reaches_stonithd(dirs: dict[str, str]) -> None:
    if json.loads(cli("status", "--json")[1])["backend"] != "netns":
        pytest.skip("the loopback lab starts no stonithd")
    state = dirs["n3"]
    wait_for("stonithd has the seeded device", lambda: "fence-lab" in tool(
        state, "stonith_admin", "--list-registered").stdout)
    device = ('<primitive id="fence-extra" class="stonith" type="fence_hacluster_dummy">'
              '<instance_attributes id="fence-extra-ia"><nvpair id="fence-extra-hl" '
              'name="pcmk_host_list" value="n2"/></instance_attributes></primitive>')
    done = tool(dirs["n1"], "cibadmin", "-C", "-o", "resources", "-X", device)
    assert done.returncode == 0, done.stderr
    for state_dir in dirs.values():
        wait_for("every fencer registers fence-extra", lambda d=state_dir: "fence-extra" in
                 tool(d, "stonith_admin", "--list-registered").stdout)
    assert tool(dirs["n2"], "cibadmin", "-D", "-X",
                '<primitive id="fence-extra"/>').returncode == 0
    wait_for("and forgets it when it is deleted", lambda: "fence-extra" not in tool(
        state, "stonith_admin", "--list-registered").stdout)
