"""crm one-shot commands on a CIB file: errors name the bad token and leave the file alone,
Heartbeat v1 haresources import, load update/replace, and the status warning about
constraints left behind by move/ban.

Expected XML shapes follow crmsh 4.4.1 (ids) and Heartbeat's haresources semantics
(each line a group started left to right, preferred node, auto_failback -> stickiness).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def cib(tmp_path: Path) -> Path:
    path = tmp_path / "cib.xml"
    shutil.copy(REPO / "examples" / "cib-3node.xml", path)
    return path


def crm(cib: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from crmd.shell.cli import main; main()",
                           *words], env={**os.environ, "CIB_file": str(cib)},
                          capture_output=True, text=True, timeout=60, check=False)


def configuration(cib: Path) -> etree._Element:
    found = etree.parse(str(cib)).getroot().find("configuration")
    assert found is not None
    return found


@pytest.mark.parametrize(("words", "code", "token"), [
    (["configure", "location", "l9", "app", "often:", "beta"], 78, "often"),
    (["configure", "location", "l9", "app", "rule", "50:", "#uname", "about", "x"], 78,
     "#uname about x"),
    (["configure", "primitive", "p9", "ocf:Dummy"], 78, "ocf:Dummy"),
    (["configure", "primitive", "app-data", "Dummy"], 108, "app-data"),
    (["configure", "group", "g9", "nosuch"], 105, "nosuch"),
    (["configure", "colocation", "c9", "inf:", "app", "nosuch"], 105, "nosuch"),
    (["configure", "order", "o9", "Sometimes:", "app", "service-ip"], 78, "Sometimes:"),
    (["configure", "delete", "nosuch"], 105, "nosuch"),
    (["resource", "stop", "nosuch"], 105, "nosuch"),
    (["node", "maintenance", "nosuch"], 105, "nosuch"),
])
def test_errors_name_the_token_and_change_nothing(cib: Path, words: list[str], code: int,
                                                  token: str) -> None:
    before = cib.read_text()
    result = crm(cib, *words)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("ERROR: ") and token in result.stderr
    assert cib.read_text() == before


def test_import_haresources(cib: Path, tmp_path: Path) -> None:
    haresources = tmp_path / "haresources"
    haresources.write_text("# v1 resources\n"
                           "node1 10.0.0.10/24/eth0 Filesystem::/dev/sdb1::/data::ext4 httpd\n"
                           "NODE2 10.0.0.11 \\\n   mysql\n")
    ha_cf = tmp_path / "ha.cf"
    ha_cf.write_text("auto_failback off\nnode node1 node2\n")
    result = crm(cib, "configure", "import", "haresources", str(haresources),
                 "--ha-cf", str(ha_cf))
    assert result.returncode == 0, result.stderr
    config = configuration(cib)
    groups = {g.get("id"): [p.get("id") for p in g.iterfind("primitive")]
              for g in config.iterfind("resources/group")}
    assert groups["group_1"] == ["IPaddr_10_0_0_10", "Filesystem__dev_sdb1", "httpd"]
    assert groups["group_2"] == ["IPaddr_10_0_0_11", "mysql"]
    ip = config.find("resources/group/primitive[@id='IPaddr_10_0_0_10']")
    assert ip is not None and ip.get("type") == "IPaddr"
    assert {p.get("name"): p.get("value") for p in ip.iter("nvpair")} == {
        "ip": "10.0.0.10", "cidr_netmask": "24", "nic": "eth0"}
    httpd = config.find(".//primitive[@id='httpd']")
    assert httpd is not None and httpd.get("class") == "lsb"
    locations = {(loc.get("rsc"), loc.get("node"), loc.get("score"))
                 for loc in config.iterfind("constraints/rsc_location")}
    assert ("group_1", "node1", "100") in locations
    assert ("group_2", "node2", "100") in locations  # node names are lowercased
    stickiness = config.find("rsc_defaults/meta_attributes/nvpair[@name='resource-stickiness']")
    assert stickiness is not None and stickiness.get("value") == "INFINITY"


def test_load_update_replaces_objects_by_id(cib: Path, tmp_path: Path) -> None:
    update = tmp_path / "update.crm"
    update.write_text("primitive heartbeat-probe ocf:pacemaker:Dummy \\\n"
                      "\top monitor interval=5s\n"
                      "primitive extra Dummy\n")
    assert crm(cib, "configure", "load", "update", str(update)).returncode == 0
    config = configuration(cib)
    probe = config.find(".//primitive[@id='heartbeat-probe']")
    assert probe is not None and probe.get("provider") == "pacemaker"
    assert config.find(".//primitive[@id='extra']") is not None
    assert config.find(".//primitive[@id='service-ip']") is not None


def test_load_replace_keeps_only_the_file(cib: Path, tmp_path: Path) -> None:
    replacement = tmp_path / "replace.crm"
    replacement.write_text("node 1: alpha\nprimitive only Dummy\n"
                           "property cib-bootstrap-options: stonith-enabled=false\n")
    assert crm(cib, "configure", "load", "replace", str(replacement)).returncode == 0
    config = configuration(cib)
    assert [p.get("id") for p in config.iter("primitive")] == ["only"]
    assert [n.get("uname") for n in config.iter("node")] == ["alpha"]


def test_status_warns_about_leftover_move_constraints(cib: Path) -> None:
    assert crm(cib, "resource", "move", "app", "beta").returncode == 0
    result = crm(cib, "status")
    assert "cli-prefer-app" in result.stdout
    assert "crm resource clear app" in result.stdout
    assert crm(cib, "resource", "clear", "app").returncode == 0
    assert "WARNING" not in crm(cib, "status").stdout
