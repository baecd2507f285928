"""crm_resource edits Pacemaker cannot show us on a file: --cleanup, --refresh, --force-*.

(Debian's crm_resource 2.1.5 dry-runs and then crashes on --cleanup with CIB_file, so the
expected CIB contents here follow what the controller does on a live cluster: failed
operation records and fail-count/last-failure attributes of the resource are removed.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

CIB = """<cib epoch="3" num_updates="4" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="n1"/></nodes>
    <resources>
      <primitive id="d" class="ocf" provider="hacluster" type="Dummy">
        <instance_attributes id="d-params">
          <nvpair id="d-state" name="state" value="STATE"/>
        </instance_attributes>
      </primitive>
      <primitive id="e" class="ocf" provider="hacluster" type="Dummy"/>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="1"><instance_attributes id="status-1">
        <nvpair id="s1" name="fail-count-d#monitor_10000" value="2"/>
        <nvpair id="s2" name="last-failure-d#monitor_10000" value="1700000000"/>
        <nvpair id="s3" name="fail-count-e#start_0" value="1"/>
      </instance_attributes></transient_attributes>
      <lrm id="1"><lrm_resources>
        <lrm_resource id="d" class="ocf" provider="hacluster" type="Dummy">
          <lrm_rsc_op id="d_last_0" operation_key="d_start_0" operation="start" call-id="3"
           rc-code="0" op-status="0" interval="0"/>
          <lrm_rsc_op id="d_last_failure_0" operation_key="d_monitor_10000"
           operation="monitor" call-id="4" rc-code="7" op-status="0" interval="10000"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>
"""


def _crm_resource(cib: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from crmd.resource.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args],
                          env={**os.environ, "CIB_file": str(cib)}, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def cib(tmp_path: Path) -> Path:
    path = tmp_path / "cib.xml"
    path.write_text(CIB.replace("STATE", str(tmp_path / "d.state")))
    return path


def _names(cib: Path) -> list[str]:
    root = etree.parse(str(cib)).getroot()
    return sorted(p.get("name") or "" for p in root.iter("nvpair")
                  if p.getparent().getparent().tag == "transient_attributes")


def test_cleanup_forgets_failures_of_one_resource(cib: Path) -> None:
    result = _crm_resource(cib, "--cleanup", "-r", "d")
    assert result.returncode == 0, result.stderr
    root = etree.parse(str(cib)).getroot()
    assert [op.get("id") for op in root.iter("lrm_rsc_op")] == ["d_last_0"]
    assert _names(cib) == ["fail-count-e#start_0"]
    assert root.get("epoch") == "3"  # status-only change: num_updates moves, epoch stays
    assert root.get("num_updates") == "5"


def test_refresh_forgets_the_whole_history(cib: Path) -> None:
    assert _crm_resource(cib, "--refresh").returncode == 0
    root = etree.parse(str(cib)).getroot()
    assert list(root.iter("lrm_resource")) == []
    assert _names(cib) == []


def test_cleanup_of_unknown_resource_changes_nothing(cib: Path) -> None:
    before = cib.read_text()
    result = _crm_resource(cib, "--cleanup", "-r", "nosuch")
    assert result.returncode == 105
    assert "Resource 'nosuch' not found" in result.stderr
    assert cib.read_text() == before


def test_force_start_then_check_runs_the_agent(cib: Path, tmp_path: Path) -> None:
    check = _crm_resource(cib, "--force-check", "-r", "d")
    assert check.returncode == 7
    assert "returned 7 (not running)" in check.stdout
    assert _crm_resource(cib, "--force-start", "-r", "d").returncode == 0
    assert (tmp_path / "d.state").exists()
    assert _crm_resource(cib, "--force-check", "-r", "d").returncode == 0
    assert _crm_resource(cib, "--force-stop", "-r", "d").returncode == 0


def test_status_edits_bump_num_updates_and_configuration_edits_epoch(cib: Path) -> None:
    # The CIB manager's rule (cib_perform_op): a change of the configuration section bumps
    # epoch and zeroes num_updates, any other change bumps num_updates.
    assert _crm_resource(cib, "--cleanup", "-r", "d").returncode == 0
    root = etree.parse(str(cib)).getroot()
    assert (root.get("epoch"), root.get("num_updates")) == ("3", "5")
    assert _crm_resource(cib, "-r", "e", "-p", "x", "-v", "1").returncode == 0
    root = etree.parse(str(cib)).getroot()
    assert (root.get("epoch"), root.get("num_updates")) == ("4", "0")


def test_connection_errors_are_pacemakers(tmp_path: Path) -> None:
    # Debian's crm_resource 2.1.5: no cib daemon (no CIB_file) exits 102, an unreadable
    # CIB_file 105, each with these two lines.
    code = "import sys; from crmd.resource.cli import main; main(sys.argv[1:])"
    env = {k: v for k, v in os.environ.items() if k != "CIB_file"}
    live = subprocess.run([sys.executable, "-c", code, "--list"], capture_output=True,
                          env={**env, "HACLUSTER_STATE_DIR": str(tmp_path)}, text=True,
                          timeout=60, check=False)
    assert (live.returncode, live.stderr) == (102, (
        "crm_resource: Could not connect to the CIB: Transport endpoint is not connected\n"
        "Error performing operation: Not connected\n"))
    missing = _crm_resource(tmp_path / "absent.xml", "--list")
    assert (missing.returncode, missing.stderr) == (105, (
        "crm_resource: Could not connect to the CIB: No such device or address\n"
        "Error performing operation: No such object\n"))


@pytest.mark.parametrize("args", [["-l"], ["--list"], ["-L"], ["-W", "-r", "d"],
                                  ["--locate", "--resource", "d"], ["-W", "-r", "nope"],
                                  ["-W"], ["-a", "-r", "d"], ["-Y", "-r", "d", "-N", "n1"]])
def test_plain_queries_answer_as_the_click_command_does(cib: Path, args: list[str]) -> None:
    # -Q ("accepted for compatibility") sends the same query through the click command.
    plain, through_click = _crm_resource(cib, *args), _crm_resource(cib, *args, "-Q")
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        through_click.returncode, through_click.stdout, through_click.stderr)
    assert plain.stdout or plain.stderr or args[0] == "-a"  # d has no constraints


def test_plain_read_takes_only_spelled_out_queries() -> None:
    from crmd.resource.cli import _plain_read

    assert _plain_read(["-W", "-r", "d"]) == ("locate", {"resource": "d"})
    assert _plain_read(["--list-raw"]) == ("list_raw", {})
    for left_to_click in (["-W", "-r"], ["-W", "-r", "-N"], ["-Wr", "d"], ["-r", "d"],
                          ["-l", "-L"], ["-W", "--resource=d"], ["-W", "-r", "d", "-r", "e"],
                          ["-M", "-r", "d"], ["--help"], ["-l", "-Q"], []):
        assert _plain_read(left_to_click) is None, left_to_click


def test_list_raw_does_not_load_click(cib: Path) -> None:
    code = ("import sys; from crmd.resource.cli import main\n"
            "try:\n    main(['-l'])\nexcept SystemExit:\n    pass\n"
            "print('click loaded' if 'click' in sys.modules else 'no click', file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ,
                            "CIB_file": str(cib)}, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.stderr.strip().splitlines()[-1] == "no click"
