"""crm_mon's command line: exit codes and the layout on a small hand-made CIB.

Expected texts were checked against Debian's Pacemaker 2.1.5 crm_mon on the same file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CIB = """<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.9" epoch="5" num_updates="0"
 admin_epoch="0" have-quorum="1" dc-uuid="1" cib-last-written="Mon Jan  2 10:00:00 2023">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options">
      <nvpair id="o1" name="stonith-enabled" value="false"/>
      <nvpair id="o2" name="cluster-infrastructure" value="corosync"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources>
      <group id="web">
        <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/>
        <primitive id="www" class="ocf" provider="pacemaker" type="Dummy"/>
      </group>
      <primitive id="idle" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
          <lrm_rsc_op id="vip_last_0" operation_key="vip_start_0" operation="start"
           call-id="3" rc-code="0" op-status="0" interval="0"
           transition-magic="0:0;1:1:0:x" transition-key="1:1:0:x"/>
        </lrm_resource>
        <lrm_resource id="www" class="ocf" provider="pacemaker" type="Dummy">
          <lrm_rsc_op id="www_last_0" operation_key="www_start_0" operation="start"
           call-id="4" rc-code="0" op-status="0" interval="0"
           transition-magic="0:0;2:1:0:x" transition-key="2:1:0:x"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>
"""


def _run(args: list[str], cib: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CIB_file"}
    if cib is not None:
        env["CIB_file"] = str(cib)
    code = "import sys; from crmd.mon.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def cib(tmp_path: Path) -> Path:
    path = tmp_path / "cib.xml"
    path.write_text(CIB)
    return path


def test_one_shot_layout(cib: Path) -> None:
    result = _run(["-1"], cib)
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if "Last updated" not in line]
    assert lines == [
        "Cluster Summary:",
        "  * Stack: corosync",
        "  * Current DC: n1 (version unknown) - partition with quorum",
        "  * Last change:  Mon Jan  2 10:00:00 2023",
        "  * 2 nodes configured",
        "  * 3 resource instances configured",
        "",
        "Node List:",
        "  * Online: [ n1 n2 ]",
        "",
        "Active Resources:",
        "  * Resource Group: web:",
        "    * vip\t(ocf:heartbeat:IPaddr2):\t Started n1",
        "    * www\t(ocf:pacemaker:Dummy):\t Started n1",
    ]


def test_inactive_resources_shown_with_r(cib: Path) -> None:
    result = _run(["-1", "-r"], cib)
    assert "Full List of Resources:" in result.stdout
    assert "  * idle\t(ocf:pacemaker:Dummy):\t Stopped" in result.stdout


def test_by_node(cib: Path) -> None:
    out = _run(["-1", "-n"], cib).stdout.splitlines()
    start = out.index("Node List:")
    assert out[start:start + 7] == [
        "Node List:", "  * Node n1: online:", "    * Resources:",
        "      * vip\t(ocf:heartbeat:IPaddr2):\t Started",
        "      * www\t(ocf:pacemaker:Dummy):\t Started",
        "  * Node n2: online:", "    * Resources:"]


def test_xml_output(cib: Path) -> None:
    from lxml import etree

    result = _run(["--output-as=xml"], cib)
    root = etree.fromstring(result.stdout.encode())
    assert root.tag == "pacemaker-result"
    assert root.find("status").get("code") == "0"
    assert [n.get("name") for n in root.iterfind("nodes/node")] == ["n1", "n2"]
    assert root.find("resources/group").get("number_resources") == "2"


def test_without_cib_file_or_daemon_is_disconnect(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Live mode with no cib daemon: Debian's crm_mon 2.1.5 prints this line and exits 102.
    monkeypatch.setenv("HACLUSTER_STATE_DIR", str(tmp_path))
    result = _run(["-1"], None)
    assert result.returncode == 102
    assert result.stderr == "crm_mon: Connection to cluster failed: Connection refused\n"
    xml = _run(["-1", "--output-as=xml"], None)
    assert xml.returncode == 102
    assert '<status code="102" message="Not connected">' in xml.stdout


def test_missing_file_is_no_such_object(tmp_path: Path) -> None:
    # Debian's crm_mon prints this line too (and then exits 0); its crm_resource exits 105
    # for the same missing file, as every tool of ours does.
    result = _run(["-1"], tmp_path / "absent.xml")
    assert result.returncode == 105
    assert "Could not connect to the CIB: No such device or address" in result.stderr


def test_bad_option_is_usage(cib: Path) -> None:
    assert _run(["--no-such-option"], cib).returncode == 64


def test_fencing_sections_by_level() -> None:
    # Section names and levels as Pacemaker 2.1.5's crm_mon -m documents them; the event
    # text is stonith_admin's (stonithd.api.describe_event).
    from crmd.mon.extras import fencing_lines
    from stonithd.api import HistoryEntry, OpState

    done_old = HistoryEntry("1", "n3", "reboot", "n1", "crm", "n2", OpState.DONE, 100.0)
    done_new = HistoryEntry("2", "n3", "reboot", "n1", "crm", "n2", OpState.DONE, 200.0)
    failed = HistoryEntry("3", "n2", "off", "n1", "crm", "n1", OpState.FAILED, 150.0,
                          reason="no device")
    pending = HistoryEntry("4", "n1", "reboot", "n2", "crm", "", OpState.PENDING)
    events = (done_new, failed, done_old, pending)
    level1 = fencing_lines(events, 1, failed=True) + fencing_lines(events, 1, failed=False)
    assert level1 == [
        "", "Failed Fencing Actions:",
        "  * turning off of n2 by n1 for crm@n1 last failed (no device) at "
        "1970-01-01 00:02:30Z",
        "", "Pending Fencing Actions:", "  * reboot of n1 for crm@n2 last pending"]
    level2 = fencing_lines(events, 2, failed=False)
    assert level2[:2] == ["", "Fencing History:"] and len(level2) == 5  # old done reduced
    assert len(fencing_lines(events, 3, failed=False)) == 6
    assert fencing_lines(events, 0, failed=True) == []
    assert fencing_lines(None, 2, failed=False) == []


def _without_clock(text: str) -> list[str]:
    return [line for line in text.splitlines() if "Last updated" not in line
            and "last_update" not in line and "request=" not in line]


@pytest.mark.parametrize("flags", [["-1"], ["-1rf"], ["-1", "-A", "-n", "-c"],
                                   ["--one-shot", "--inactive"], ["--output-as=xml"],
                                   ["-1", "-s"]])
def test_plain_flags_print_what_the_click_command_prints(cib: Path, flags: list[str]) -> None:
    # `-i 5` (the default interval, a value option) sends the same request through click.
    fast, through_click = _run(flags, cib), _run([*flags, "-i", "5"], cib)
    assert (fast.returncode, _without_clock(fast.stdout), fast.stderr) == (
        through_click.returncode, _without_clock(through_click.stdout), through_click.stderr)
    assert fast.stdout.strip()


def test_one_shot_does_not_load_click(cib: Path) -> None:
    code = ("import sys; from crmd.mon.cli import main\n"
            "try:\n    main(['-1'])\nexcept SystemExit:\n    pass\n"
            "print('click loaded' if 'click' in sys.modules else 'no click', file=sys.stderr)")
    env = dict(os.environ, CIB_file=str(cib))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.stderr.strip().splitlines()[-1] == "no click"


def test_plain_flags_reads_only_on_off_flags() -> None:
    from crmd.mon.cli import _plain_flags

    assert _plain_flags(["-1rf"]) == {"one_shot": True, "inactive": True, "failcounts": True}
    assert _plain_flags(["--output-as=console"]) == {"output_as": "console"}
    for left_to_click in (["-1i5"], ["-h"], ["--output-as=json"], ["-m", "2"], ["-"],
                          ["--one"], ["-1", "extra"]):
        assert _plain_flags(left_to_click) is None, left_to_click
