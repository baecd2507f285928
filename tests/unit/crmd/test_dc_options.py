"""What the DC writes into crm_config when it wins: dc-version and cluster-infrastructure in
cib-bootstrap-options, as Pacemaker's controller does, so that Pacemaker's crm_mon shows a
stack and a DC version for our live CIB instead of "unknown"."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from lxml import etree

from crmd.graph import CLUSTER_INFRASTRUCTURE, DC_VERSION
from lab.sim.cluster import ControllerCluster
from tests.oracle import pacemaker_tool

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "cib-3node.xml"
OPTIONS = "/cib/configuration/crm_config/cluster_property_set[@id='cib-bootstrap-options']"


def _settled_cib() -> bytes:
    cluster = ControllerCluster(EXAMPLE, results_from_cib=True)
    cluster.start_all()
    cluster.run_for(10.0)
    assert cluster.dc() is not None
    return cluster.cib_text()


def test_dc_version_carries_the_package_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # Pacemaker's form is version-build ("2.1.5-a3f44794f94")
    assert f"{project['version']}-hacluster" == DC_VERSION


def test_the_settled_cib_holds_both_options_once() -> None:
    cib = etree.fromstring(_settled_cib())
    values = {pair.get("name"): pair.get("value") for pair in cib.xpath(OPTIONS + "/nvpair")}
    assert values["dc-version"] == DC_VERSION
    assert values["cluster-infrastructure"] == CLUSTER_INFRASTRUCTURE
    assert len(cib.xpath("//nvpair[@name='dc-version']")) == 1
    assert len(cib.xpath("//nvpair[@name='cluster-infrastructure']")) == 1
    # the user's own options in the same set are kept
    assert values["no-quorum-policy"] == "stop"


@pytest.mark.oracle
def test_pacemakers_crm_mon_shows_stack_dc_version_and_last_change(tmp_path: Path) -> None:
    tool = pacemaker_tool("crm_mon")
    if tool is None:
        pytest.skip("Debian's crm_mon is not installed")
    path = tmp_path / "cib.xml"
    path.write_bytes(_settled_cib())
    done = subprocess.run([tool, "-1"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CIB_file": str(path)}, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  * Stack: hacluster" in lines
    assert any(line.startswith("  * Current DC: ") and "(version 0.1.0-hacluster)" in line
               for line in lines), done.stdout
    # cib-last-written, stamped by the cib on every configuration change, is "Last change:"
    change = [line for line in lines if line.startswith("  * Last change:")]
    assert len(change) == 1 and change[0].removeprefix("  * Last change:").strip(), lines
