"""crm (ours) beside crmsh 4.4.1 (Debian's /usr/sbin/crm): one scripted session, step by step.

Both run the same one-shot commands with CIB_file on their own copy of the same CIB; after
every step the <configuration> sections must be the same element for element (attribute
order aside; ids included) and both tools must agree on success or failure.

Accepted differences:
- Messages: crmsh prints colour codes, crm_verify's warnings after each commit ("Blind faith:
  not fencing unseen nodes") and its own INFO lines; only the exit status is compared.
- The <cib> element's bookkeeping (epoch, num_updates, cib-last-written, update-*) is not
  compared: each tool bumps it its own way.
- `node standby` is left out: crmsh 4.4.1 first pings the node by name and refuses when the
  name does not resolve (it does not here); ours writes standby=on like crm_attribute.
- `resource failcount` and `node fence/clearstate/delete` are left out: on a CIB file
  crmsh 4.4.1 asks the controller (crm_node -p, crm_failcount) and fails; ours work on the
  file (tests/unit/crmd/test_crm_shell_more.py) and on the live cluster.
- `ra classes` and `ra providers`: ours also name our own OCF provider "hacluster"
  (see test_crm_resource_agents_oracle.py); removed before comparing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from crmd.cibaccess import ENV_VAR
from tests.oracle import crmsh_tool

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "cib-3node.xml"
STEPS = [
    "configure primitive ip2 ocf:heartbeat:IPaddr2 params ip=192.0.2.20 cidr_netmask=24 "
    "meta target-role=Stopped resource-stickiness=200 op start timeout=30s interval=0 "
    "op monitor interval=15s timeout=30s OCF_CHECK_LEVEL=10 op stop timeout=60s on-fail=block",
    "configure primitive d1 Dummy",
    "configure primitive d2 ocf:pacemaker:Stateful op monitor interval=10s role=Promoted "
    "op monitor interval=11s role=Unpromoted",
    "configure primitive f1 stonith:fence_dummy params pcmk_host_list=alpha",
    "configure group g1 ip2 d1 meta target-role=Started",
    "configure clone c1 heartbeat-probe meta clone-max=2",
    "configure ms m1 d2 meta promoted-max=1",
    "configure location l1 g1 100: beta",
    "configure location l2 g1 -inf: gamma",
    "configure location l3 g1 rule 50: #uname eq beta",
    "configure location l4 g1 rule -inf: not_defined pingd or pingd lte 0",
    "configure colocation co1 inf: g1 c1",
    "configure colocation co2 500: g1:Started m1:Promoted",
    "configure order o1 Mandatory: c1 g1",
    "configure order o4 m1:promote g1:start",
    "configure primitive d3 Dummy",
    "configure primitive d4 Dummy",
    "configure colocation cs1 inf: d3 d4 g1",  # resource sets
    "configure colocation cs2 500: m1:Promoted ( d3 d4 ) g1",
    "configure colocation cs3 -inf: [ d3 d4 ] c1",
    "configure order os1 Mandatory: c1 ( d3 d4 ) g1",
    "configure order os2 Optional: [ d3 d4 ] g1 symmetrical=false",
    "configure order os3 inf: m1:promote d3:start d4:start",
    "configure colocation cs9 inf: d3 ( d4 nosuch )",  # unknown member: both refuse
    "resource promote m1",
    "resource demote m1",
    "resource promote service-ip",  # not promotable: both refuse
    "configure property maintenance-mode=false",
    "configure rsc_defaults resource-stickiness=100",
    "configure op_defaults timeout=240s",
    "configure primitive d1 Dummy",  # duplicate id: both refuse, CIB unchanged
    "configure location l9 nosuch 100: beta",  # unknown resource: both refuse
    "resource stop service-ip",
    "resource start service-ip",
    "resource unmanage service-ip",
    "resource move app beta",
    "resource ban service-ip alpha",
    "resource clear app",
    "resource param service-ip set ip 10.0.0.9",
    "resource meta service-ip set foo 1",
    "node maintenance alpha",
    "node ready alpha",
    "node attribute gamma set foo bar",
    "node utilization gamma set cpu 2",
    "configure delete l1",
    "configure rename d1 d9",
    "configure delete app",  # a group: crmsh ungroups and re-points its constraints
    "configure delete app-data",  # constraints left naming nothing go too
    "configure delete nosuch",
    "configure delete d3",  # in sets: crmsh takes it out, simplifies or drops constraints
    "configure delete d4",
    "configure primitive svc9 service:nosuch",  # no such init script: both refuse
    *(f"configure primitive svc1 service:{p.name} op monitor interval=30s"
      for p in sorted(Path("/etc/init.d").glob("*"))[:1]
      if p.is_file() and os.access(p, os.X_OK)),
]


def _configuration(path: Path) -> tuple[object, ...]:
    from crmd.shell.render import canonical

    root = etree.parse(str(path), etree.XMLParser(remove_blank_text=True,
                                                  remove_comments=True)).getroot()
    configuration = root.find("configuration")
    assert configuration is not None
    return canonical(configuration)


def _pacemaker_env(cib: Path) -> dict[str, str]:
    """crmsh runs Pacemaker's tools by name (crm_resource --show-metadata, cibadmin, ...): put
    Debian's first on PATH, ahead of ours from the virtualenv, so the oracle stays Pacemaker."""
    path = os.pathsep.join(["/usr/sbin", "/usr/bin", os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, ENV_VAR: str(cib)}


def _run(command: list[str], cib: Path) -> int:
    result = subprocess.run(command, env=_pacemaker_env(cib),
                            capture_output=True, text=True, timeout=120, check=False,
                            stdin=subprocess.DEVNULL)
    return result.returncode


@pytest.mark.oracle
@pytest.mark.timeout(1200)  # crmsh takes about a second per command, longer on a busy host
def test_scripted_session_matches_crmsh(tmp_path: Path) -> None:
    crmsh = crmsh_tool()
    if crmsh is None:
        pytest.skip("Debian's crmsh (/usr/sbin/crm) is not installed")
    theirs_cib, ours_cib = tmp_path / "theirs.xml", tmp_path / "ours.xml"
    shutil.copy(EXAMPLE, theirs_cib)
    shutil.copy(EXAMPLE, ours_cib)
    ours_cmd = [sys.executable, "-c", "from crmd.shell.cli import main; main()"]
    differing = []
    for step in STEPS:
        words = shlex.split(step)
        theirs_rc = _run([crmsh, *words], theirs_cib)
        ours_rc = _run([*ours_cmd, *words], ours_cib)
        same_outcome = (theirs_rc == 0) == (ours_rc == 0)
        if not same_outcome or _configuration(ours_cib) != _configuration(theirs_cib):
            differing.append(f"{step!r}: rc crmsh={theirs_rc} ours={ours_rc}")
            shutil.copy(theirs_cib, ours_cib)  # resynchronise so one difference shows once
    assert not differing, "steps that differ from crmsh:\n" + "\n".join(differing)
    shutil.copy(theirs_cib, ours_cib)
    show = ["configure", "show"]
    theirs_show = subprocess.run([crmsh, *show], env=_pacemaker_env(theirs_cib),
                                 capture_output=True, text=True, timeout=120, check=False)
    ours_show = subprocess.run([*ours_cmd, *show], env={**os.environ, ENV_VAR: str(ours_cib)},
                               capture_output=True, text=True, timeout=120, check=False)
    assert ours_show.stdout == theirs_show.stdout


RA_COMMANDS = ["ra classes", "ra list ocf pacemaker", "ra list ocf heartbeat", "ra list lsb",
               "ra providers Dummy", "ra info ocf:pacemaker:Dummy", "ra info IPaddr2",
               "ra meta ocf:pacemaker:Stateful", "ra info nosuch", "ra list nosuch",
               "ra list service", "ra info service:nosuch",
               *(f"ra info service:{p.name}" for p in sorted(Path("/etc/init.d").glob("*"))
                 if p.is_file() and os.access(p, os.X_OK))]


def _without_ours(text: str) -> str:
    """Our provider out; crmsh's messages (it prints its deprecation note for `ra meta`
    on stdout, ours on stderr) too."""
    lines = [line for line in text.splitlines(keepends=True)
             if "WARNING" not in line and "INFO" not in line]
    return "".join(lines).replace(" hacluster", "").replace("hacluster ", "")


@pytest.mark.oracle
@pytest.mark.timeout(600)
def test_ra_level_matches_crmsh(tmp_path: Path) -> None:
    crmsh = crmsh_tool()
    if crmsh is None:
        pytest.skip("Debian's crmsh (/usr/sbin/crm) is not installed")
    ours_cmd = [sys.executable, "-c", "from crmd.shell.cli import main; main()"]
    env = _pacemaker_env(tmp_path / "unused.xml")
    differing = []
    for command in RA_COMMANDS:
        words = command.split()
        theirs = subprocess.run([crmsh, *words], env=env, capture_output=True, text=True,
                                timeout=120, check=False, stdin=subprocess.DEVNULL)
        ours = subprocess.run([*ours_cmd, *words], env=env, capture_output=True, text=True,
                              timeout=120, check=False, stdin=subprocess.DEVNULL)
        if (_without_ours(ours.stdout), ours.returncode != 0) != (
                _without_ours(theirs.stdout), theirs.returncode != 0):
            differing.append(command)
    assert not differing, f"ra commands that differ from crmsh: {differing}"


def _in_pty(command: list[str], env: dict[str, str]) -> int:
    line = " ".join(shlex.quote(word) for word in command)
    return subprocess.run(["script", "-qec", line, "/dev/null"], env=env, capture_output=True,
                          text=True, timeout=120, check=False).returncode


@pytest.mark.oracle
@pytest.mark.timeout(600)
@pytest.mark.parametrize("target", [(), ("app-with-ip",), ("app",)])
def test_configure_edit_matches_crmsh(tmp_path: Path, target: tuple[str, ...]) -> None:
    """`configure edit` with EDITOR set to a script, through a terminal (crmsh refuses to
    edit in batch mode), on copies of the same CIB: the same configuration after."""
    crmsh = crmsh_tool()
    if crmsh is None or shutil.which("script") is None:
        pytest.skip("Debian's crmsh (/usr/sbin/crm) or util-linux script(1) is missing")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i -e 's/ inf: app service-ip/ 300: app service-ip/' "
                      "-e 's/100: alpha/150: beta/' -e 's/^group app app-data app-daemon/"
                      "group app app-daemon app-data/' -e '/^order ip-before-app/d' \"$1\"\n")
    editor.chmod(0o755)
    configurations = []
    for name, command in (("theirs", [crmsh]), ("ours", [sys.executable, "-c",
                                                         "from crmd.shell.cli import main; "
                                                         "main()"])):
        cib = tmp_path / f"{name}.xml"
        shutil.copy(EXAMPLE, cib)
        env = {**_pacemaker_env(cib), "EDITOR": str(editor)}
        assert _in_pty([*command, "configure", "edit", *target], env) == 0
        configurations.append(_configuration(cib))
    assert configurations[0] == configurations[1]


# (setup commands, sed expressions the editor applies): lines deleted in `configure edit`
# must go from the CIB (crmsh redefines a changed property set, defaults set or node).
EDIT_DELETIONS = {
    "property-line": ((), ["/cluster-name=hacluster-lab/d"]),
    "node-attribute": (("node attribute alpha set foo bar",),
                       ["/foo=bar/d", "s/^node 1: alpha \\\\$/node 1: alpha/"]),
    "node-and-default": (("configure rsc_defaults resource-stickiness=100 "
                          "migration-threshold=3",),
                         ["/^node 3: gamma/d", "s/resource-stickiness=100 \\\\$/"
                          "resource-stickiness=100/", "/migration-threshold=3/d"]),
}


@pytest.mark.oracle
@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", sorted(EDIT_DELETIONS))
def test_configure_edit_deletions_match_crmsh(tmp_path: Path, case: str) -> None:
    crmsh = crmsh_tool()
    if crmsh is None or shutil.which("script") is None:
        pytest.skip("Debian's crmsh (/usr/sbin/crm) or util-linux script(1) is missing")
    setup, expressions = EDIT_DELETIONS[case]
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i " + " ".join(f"-e {shlex.quote(e)}"
                                                     for e in expressions) + ' "$1"\n')
    editor.chmod(0o755)
    configurations = []
    for name, command in (("theirs", [crmsh]), ("ours", [sys.executable, "-c",
                                                         "from crmd.shell.cli import main; "
                                                         "main()"])):
        cib = tmp_path / f"{name}.xml"
        shutil.copy(EXAMPLE, cib)
        for step in setup:
            assert _run([*command, *shlex.split(step)], cib) == 0, step
        before = _configuration(cib)
        env = {**_pacemaker_env(cib), "EDITOR": str(editor)}
        assert _in_pty([*command, "configure", "edit"], env) == 0
        assert _configuration(cib) != before, f"{name}: the edit changed nothing"
        configurations.append(_configuration(cib))
    assert configurations[0] == configurations[1]
