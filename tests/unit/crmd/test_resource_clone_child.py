"""crm_resource names a clone's child by its configured id (probe6 finding: ours said
"Resource 'd4' not found", exit 105, where Pacemaker resolves it to the clone's instances).

Golden lines are Pacemaker 2.1.5's crm_resource on this CIB (CIB_file): --locate of the
child lists every instance, last instance first; --why names the first instance.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CIB = """<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0"
 admin_epoch="0" have-quorum="1" dc-uuid="n1"><configuration><crm_config/><nodes>
<node id="n1" uname="n1"/><node id="n2" uname="n2"/></nodes><resources>
<clone id="c"><primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></clone>
</resources><constraints/></configuration><status>
<node_state id="n1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="n1"><lrm_resources><lrm_resource id="d" class="ocf" provider="pacemaker" type="Dummy">
<lrm_rsc_op id="d_last_0" operation_key="d_start_0" operation="start" call-id="2" rc-code="0"
 op-status="0" interval="0" crm-debug-origin="x" transition-key="1:1:0:x"
 transition-magic="0:0;1:1:0:x" exec-time="1" queue-time="0" last-rc-change="1"/>
</lrm_resource></lrm_resources></lrm></node_state>
<node_state id="n2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="n2"><lrm_resources><lrm_resource id="d" class="ocf" provider="pacemaker" type="Dummy">
<lrm_rsc_op id="d_last_0" operation_key="d_start_0" operation="start" call-id="2" rc-code="0"
 op-status="0" interval="0" crm-debug-origin="x" transition-key="1:1:0:x"
 transition-magic="0:0;1:1:0:x" exec-time="1" queue-time="0" last-rc-change="1"/>
</lrm_resource></lrm_resources></lrm></node_state></status></cib>
"""


def _crm_resource(tmp_path: Path, *args: str, text: str = CIB
                  ) -> subprocess.CompletedProcess[str]:
    cib = tmp_path / "cib.xml"
    cib.write_text(text)
    return subprocess.run([sys.executable, "-c", "from crmd.resource.cli import main; main()",
                           *args], env={"CIB_file": str(cib), "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60, check=False)


def test_locate_clone_child_lists_every_instance(tmp_path: Path) -> None:
    done = _crm_resource(tmp_path, "--locate", "-r", "d")
    assert (done.returncode, done.stdout) == (
        0, "resource d is running on: n2\nresource d is running on: n1\n")


def test_why_clone_child_names_first_instance(tmp_path: Path) -> None:
    done = _crm_resource(tmp_path, "--why", "-r", "d")
    assert (done.returncode, done.stdout) == (0, "Resource d:0 is running\n")


def test_why_on_host_checks_that_host(tmp_path: Path) -> None:
    """--why -r R -N N (probe finding, seed 3: ours ignored -N)."""
    assert _crm_resource(tmp_path, "--why", "-r", "c", "-N", "n1").stdout == \
        "Resource c is running on host n1\n"
    assert _crm_resource(tmp_path, "--why", "-r", "d", "-N", "n2").stdout == \
        "Resource d:0 is not running on host n2\n"


def test_why_on_unknown_host_is_not_found(tmp_path: Path) -> None:
    done = _crm_resource(tmp_path, "--why", "-r", "c", "-N", "ghost")
    assert done.returncode == 105 and "Node 'ghost' not found" in done.stderr


def test_unique_clone_child_is_not_found_by_configured_id(tmp_path: Path) -> None:
    """Probe finding (seed 2): only an anonymous clone's child resolves by its bare id."""
    unique = CIB.replace('<clone id="c">', '<clone id="c"><meta_attributes id="c-m"><nvpair '
                         'id="c-m-u" name="globally-unique" value="true"/></meta_attributes>')
    unique = unique.replace('lrm_resource id="d"', 'lrm_resource id="d:0"', 1)
    unique = unique.replace('lrm_resource id="d" ', 'lrm_resource id="d:1" ', 1)
    done = _crm_resource(tmp_path, "--locate", "-r", "d", text=unique)
    assert done.returncode == 105 and "Resource 'd' not found" in done.stderr


def test_list_raw_names_clone_instances(tmp_path: Path) -> None:
    """Probe finding (seeds 4, 5, 33, 38): ours listed configured ids; Pacemaker 2.1.5
    lists each instance ("d:0", "d:1") in the scheduler's resource order."""
    done = _crm_resource(tmp_path, "--list-raw")
    assert (done.returncode, done.stdout) == (0, "d:0\nd:1\n")
