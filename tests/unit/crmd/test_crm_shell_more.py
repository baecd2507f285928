"""crm: resource sets in colocation/order, configure edit, the ra level, resource
promote/demote/failcount and node delete, on a CIB file.

Expected XML and texts are what crmsh 4.4.1 wrote and printed for the same commands on
examples/cib-3node.xml plus primitives a..d (Dummy) and e (Stateful), recorded from
Debian's crmsh (tests/conformance/test_crm_shell_oracle.py runs the live comparison).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from crmd.shell import syntax
from crmd.shell.ra import columns
from crmd.shell.render import canonical, render_object

REPO = Path(__file__).resolve().parents[3]

# crmsh 4.4.1: command -> the constraint it wrote (ids included) and `configure show` text.
SET_CASES = {
    "colocation c2 inf: a ( b c )":
        '<rsc_colocation id="c2" score="INFINITY"><resource_set id="c2-0">'
        '<resource_ref id="a"/></resource_set><resource_set sequential="false" id="c2-1">'
        '<resource_ref id="b"/><resource_ref id="c"/></resource_set></rsc_colocation>',
    "colocation c3 500: e:Promoted ( a b ) c":
        '<rsc_colocation id="c3" score="500"><resource_set role="Promoted" id="c3-0">'
        '<resource_ref id="e"/></resource_set><resource_set sequential="false" id="c3-1">'
        '<resource_ref id="a"/><resource_ref id="b"/></resource_set>'
        '<resource_set id="c3-2"><resource_ref id="c"/></resource_set></rsc_colocation>',
    "colocation c4 inf: [ a b ] c":
        '<rsc_colocation id="c4" score="INFINITY"><resource_set require-all="false" '
        'sequential="false" id="c4-0"><resource_ref id="a"/><resource_ref id="b"/>'
        '</resource_set><resource_set id="c4-1"><resource_ref id="c"/></resource_set>'
        '</rsc_colocation>',
    "colocation c6 inf: a b:Started c":
        '<rsc_colocation id="c6" score="INFINITY"><resource_set id="c6-0">'
        '<resource_ref id="a"/></resource_set><resource_set role="Started" id="c6-1">'
        '<resource_ref id="b"/></resource_set><resource_set id="c6-2">'
        '<resource_ref id="c"/></resource_set></rsc_colocation>',
    "order o1 Mandatory: a b c":
        '<rsc_order id="o1" kind="Mandatory"><resource_set id="o1-0"><resource_ref id="a"/>'
        '<resource_ref id="b"/><resource_ref id="c"/></resource_set></rsc_order>',
    "order o3 Optional: [ a b ] c":
        '<rsc_order id="o3" kind="Optional"><resource_set require-all="false" '
        'sequential="false" id="o3-0"><resource_ref id="a"/><resource_ref id="b"/>'
        '</resource_set><resource_set id="o3-1"><resource_ref id="c"/></resource_set>'
        '</rsc_order>',
    "order o5 Mandatory: a b c symmetrical=false":
        '<rsc_order id="o5" kind="Mandatory" symmetrical="false"><resource_set id="o5-0">'
        '<resource_ref id="a"/><resource_ref id="b"/><resource_ref id="c"/></resource_set>'
        '</rsc_order>',
    "order o6 Mandatory: a:start b:start c":
        '<rsc_order id="o6" kind="Mandatory"><resource_set action="start" id="o6-0">'
        '<resource_ref id="a"/><resource_ref id="b"/></resource_set>'
        '<resource_set id="o6-1"><resource_ref id="c"/></resource_set></rsc_order>',
    "order o7 Serialize: ( a b ) ( c d )":
        '<rsc_order id="o7" kind="Serialize"><resource_set sequential="false" id="o7-0">'
        '<resource_ref id="a"/><resource_ref id="b"/></resource_set>'
        '<resource_set sequential="false" id="o7-1"><resource_ref id="c"/>'
        '<resource_ref id="d"/></resource_set></rsc_order>',
}


@pytest.mark.parametrize("command", sorted(SET_CASES))
def test_resource_sets_are_written_and_shown_as_crmsh_does(command: str) -> None:
    word, *args = command.split()
    built = (syntax.colocation if word == "colocation" else syntax.order)(args)
    expected = etree.fromstring(SET_CASES[command])
    assert canonical(built) == canonical(expected)
    assert [b.get("id") for b in built] == [b.get("id") for b in expected]
    assert render_object(expected, expected.tag) == command


def test_order_score_form_is_a_kind() -> None:
    # crmsh 4.4.1: "order o inf: a b" writes kind="Mandatory"
    assert syntax.order(["o", "inf:", "a", "b"]).get("kind") == "Mandatory"


@pytest.mark.parametrize("args", [["c", "inf:", "(", "a", "b"], ["c", "inf:", "a", ")"],
                                  ["c", "inf:", "(", ")"], ["c", "inf:", "(", "a:Started",
                                                                     "b", ")"]])
def test_malformed_sets_are_refused(args: list[str]) -> None:
    from messaging.errors import ValidationError

    with pytest.raises(ValidationError):
        syntax.colocation(args)


def test_unusual_sets_are_shown_as_xml() -> None:
    element = etree.fromstring('<rsc_order id="o" kind="Mandatory"><resource_set id="o-0" '
                               'sequential="true"><resource_ref id="a"/></resource_set>'
                               '<resource_set id="o-1"><resource_ref id="b"/>'
                               '</resource_set></rsc_order>')
    assert render_object(element, "rsc_order").startswith("xml <rsc_order")


def test_ra_list_columns_are_crmshs() -> None:
    # crmsh 4.4.1 `ra list ocf pacemaker` (not on a terminal: 80 columns)
    names = ["ClusterMon", "Dummy", "HealthCPU", "HealthIOWait", "HealthSMART", "Stateful",
             "SysInfo", "attribute", "controld", "ifspeed", "o2cb", "ping", "remote"]
    assert columns(names) == [
        "ClusterMon      Dummy           HealthCPU       HealthIOWait    HealthSMART",
        "Stateful        SysInfo         attribute       controld        ifspeed",
        "o2cb            ping            remote          "]


@pytest.fixture
def cib(tmp_path: Path) -> Path:
    path = tmp_path / "cib.xml"
    shutil.copy(REPO / "examples" / "cib-3node.xml", path)
    return path


def crm(cib: Path, *words: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from crmd.shell.cli import main; main()",
                           *words], env={**os.environ, "CIB_file": str(cib), **env},
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


def test_promote_and_demote_write_crmsh_roles(cib: Path) -> None:
    assert crm(cib, "configure", "primitive", "d2", "ocf:pacemaker:Stateful").returncode == 0
    assert crm(cib, "configure", "ms", "m1", "d2").returncode == 0
    promoted = crm(cib, "resource", "promote", "m1")
    assert promoted.stdout == ("Set 'm1' option: id=m1-meta_attributes-target-role "
                               "set=m1-meta_attributes name=target-role value=Master\n")
    assert crm(cib, "resource", "demote", "m1").returncode == 0
    assert crm(cib, "configure", "show", "m1").stdout == "ms m1 d2 \\\n\tmeta target-role=Slave\n"
    before = cib.read_bytes()
    refused = crm(cib, "resource", "promote", "app")
    assert (refused.returncode, refused.stderr) == (1, "ERROR: app is not a promotable "
                                                       "resource\n")
    assert cib.read_bytes() == before


def test_failcount_set_show_delete(cib: Path) -> None:
    assert crm(cib, "resource", "failcount", "app-data", "set", "alpha", "3").returncode == 0
    shown = crm(cib, "resource", "failcount", "app-data", "show", "alpha")
    assert shown.stdout == "scope=status  name=fail-count-app-data value=3\n"
    assert crm(cib, "resource", "failcount", "app-data", "delete", "alpha").returncode == 0
    shown = crm(cib, "resource", "failcount", "app-data", "show", "alpha")
    assert shown.stdout == "scope=status  name=fail-count-app-data value=0\n"
    assert crm(cib, "resource", "failcount", "nosuch", "show", "alpha").returncode == 105


def test_node_delete_refuses_online_nodes(cib: Path) -> None:
    root = etree.parse(str(cib)).getroot()
    online = {s.get("uname") for s in root.iterfind("status/node_state")
              if s.get("crmd") == "online" and s.get("in_ccm") == "true"}
    offline = {n.get("uname") for n in root.iterfind("configuration/nodes/node")} - online
    if online:
        name = sorted(online)[0]
        assert crm(cib, "node", "delete", name).returncode == 1
    for state in root.iterfind("status/node_state"):
        state.set("crmd", "offline")
    cib.write_bytes(etree.tostring(root))
    target = sorted(offline or online)[0]
    assert crm(cib, "node", "delete", target).returncode == 0
    after = etree.parse(str(cib)).getroot()
    assert not [n for n in after.iter("node", "node_state") if n.get("uname") == target]


def _in_pty(command: list[str], env: dict[str, str]) -> int:
    """Run with a terminal on stdin (crmsh and ours refuse `edit` in batch mode)."""
    if shutil.which("script") is None:
        pytest.skip("util-linux script(1) is needed to give the command a terminal")
    import shlex

    line = " ".join(shlex.quote(word) for word in command)
    return subprocess.run(["script", "-qec", line, "/dev/null"], env=env,
                          capture_output=True, text=True, timeout=60, check=False).returncode


def test_configure_edit_goes_through_the_editor(cib: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i -e 's/100: alpha/150: beta/' "
                      "-e '/^order ip-before-app/d' \"$1\"\n")
    editor.chmod(0o755)
    ours = [sys.executable, "-c", "from crmd.shell.cli import main; main()"]
    env = {**os.environ, "CIB_file": str(cib), "EDITOR": str(editor)}
    assert _in_pty([*ours, "configure", "edit"], env) == 0
    shown = crm(cib, "configure", "show").stdout
    assert "location probe-prefers-alpha heartbeat-probe 150: beta" in shown
    assert "ip-before-app" not in shown
    batch = crm(cib, "configure", "edit", EDITOR=str(editor))
    assert (batch.returncode, batch.stderr) == (1, "INFO: edit not allowed in batch mode\n")


def test_configure_edit_of_one_object_deletes_it_when_its_line_goes(cib: Path,
                                                                    tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\n: > \"$1\"\n")
    editor.chmod(0o755)
    ours = [sys.executable, "-c", "from crmd.shell.cli import main; main()"]
    env = {**os.environ, "CIB_file": str(cib), "EDITOR": str(editor)}
    assert _in_pty([*ours, "configure", "edit", "app-avoids-gamma"], env) == 0
    assert "app-avoids-gamma" not in crm(cib, "configure", "show").stdout


# crmsh 4.4.1 on examples/cib-3node.xml with d3..d6 (Dummy) and these constraints, after
# `configure delete d3` and `configure delete d5` (recorded with Debian's /usr/sbin/crm):
# resources leave the sets, a two-resource remainder becomes a plain constraint (a
# one-set colocation the other way round), one naming a single resource is deleted.
SET_CONSTRAINTS = ["colocation cs1 inf: d3 d4 app", "order os1 Mandatory: d5 ( d3 d4 ) app",
                   "colocation cs2 inf: ( d5 d6 ) d3", "order os2 Mandatory: d6 d5"]
CRMSH_AFTER_DELETES = [
    '<rsc_colocation id="cs1" score="INFINITY" rsc="app" with-rsc="d4"/>',
    '<rsc_order id="os1" kind="Mandatory" first="d4" then="app"/>',
]


def test_deleting_set_members_updates_or_drops_constraints_as_crmsh_does() -> None:
    from crmd.shell.configure import apply
    from crmd.shell.edits import delete

    root = etree.parse(str(Path(__file__).resolve().parents[3] / "examples" / "cib-3node.xml"),
                       etree.XMLParser(remove_blank_text=True)).getroot()
    for name in ("d3", "d4", "d5", "d6"):
        apply(root, "primitive", [name, "Dummy"])
    for command in SET_CONSTRAINTS:
        word, *args = command.replace("(", " ( ").replace(")", " ) ").split()
        apply(root, word, args)
    notes = delete(root, ["d3"]) + delete(root, ["d5"])
    assert notes == ["INFO: constraint colocation:cs1 updated",
                     "INFO: constraint order:os1 updated",
                     "INFO: constraint colocation:cs2 updated",
                     "INFO: constraint order:os1 updated",
                     "INFO: hanging colocation:cs2 deleted", "INFO: hanging order:os2 deleted"]
    kept = [canonical(etree.fromstring(text)) for text in CRMSH_AFTER_DELETES]
    found = [canonical(c) for c in root.iterfind("configuration/constraints/*")
             if c.get("id") in ("cs1", "os1", "cs2", "os2")]
    assert found == kept
