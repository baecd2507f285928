"""crm_resource's agent queries beside Debian's (stdout, stderr, exit code), and crmsh 4.4.1
working with our tools first on PATH (as in a lab node), where it asks crm_resource for
agents and their meta-data.

Accepted differences:
- Our own OCF provider "hacluster" (agents/ocf, always an OCF root of ours) is listed too:
  it is removed from our answers before comparing.
- "service" (Pacemaker's alias for a systemd unit or an init script) means the init
  script for us: our executor runs no systemd units. Where systemd runs, Pacemaker's
  answers for service:NAME may differ; the host here has none.
- --list-agents stonith: Pacemaker also lists cluster-glue's legacy plugins (apcmaster,
  external/...); our fencer runs fence_* agents only. Ours must be a subset of theirs,
  apart from our own console-script agents (fence_lab, fence_hacluster_dummy).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from crmd.cibaccess import ENV_VAR
from tests.oracle import crmsh_tool, pacemaker_tool

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "cib-3node.xml"
OUR_PROVIDER = "hacluster"
OUR_FENCE_AGENTS = {"fence_lab", "fence_hacluster_dummy"}
CASES = [
    "--list-ocf-providers", "--list-agents ocf:heartbeat", "--list-agents ocf:pacemaker",
    "--list-agents lsb", "--list-ocf-alternatives IPaddr2", "--list-ocf-alternatives Dummy",
    "--list-ocf-alternatives nosuch", "--list-agents nosuch", "--list-agents ocf:nosuch",
    "--show-metadata ocf:heartbeat:Dummy", "--show-metadata ocf:pacemaker:Stateful",
    "--show-metadata ocf:heartbeat:IPaddr2", "--show-metadata ocf:heartbeat:nosuch",
    "--show-metadata nosuch", "--show-metadata stonith:fence_nosuch",
    "--list-agents service", "--show-metadata service:nosuch",
]
# Pacemaker's meta-data of each installed init script (its LSB header in a fixed layout),
# as lsb:NAME and as service:NAME.
INIT_SCRIPTS = sorted(p.name for p in Path("/etc/init.d").glob("*")
                      if p.is_file() and os.access(p, os.X_OK))
CASES += [f"--show-metadata {standard}:{name}" for name in INIT_SCRIPTS
          for standard in ("lsb", "service")]


def _run(command: list[str], env: dict[str, str] | None = None) -> tuple[str, str, int]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            check=False, env=env, stdin=subprocess.DEVNULL)
    return result.stdout, result.stderr, result.returncode


def _ours(*args: str) -> tuple[str, str, int]:
    return _run([sys.executable, "-c", "from crmd.resource.cli import main; main()", *args])


def _without_our_provider(out: str, case: str) -> str:
    if case.startswith(("--list-ocf-providers", "--list-ocf-alternatives")):
        return "".join(line for line in out.splitlines(keepends=True)
                       if line.strip() != OUR_PROVIDER)
    return out


@pytest.mark.oracle
@pytest.mark.parametrize("case", CASES)
def test_agent_query_agrees_with_pacemaker(case: str) -> None:
    theirs_tool = pacemaker_tool("crm_resource")
    if theirs_tool is None:
        pytest.skip("Debian's crm_resource (pacemaker-cli-utils) is not installed")
    theirs = _run([theirs_tool, *case.split()])
    out, err, code = _ours(*case.split())
    assert (_without_our_provider(out, case), err, code) == theirs


@pytest.mark.oracle
def test_standards_and_fence_agents_are_pacemakers_less_what_we_cannot_run() -> None:
    theirs_tool = pacemaker_tool("crm_resource")
    if theirs_tool is None:
        pytest.skip("Debian's crm_resource (pacemaker-cli-utils) is not installed")
    theirs = _run([theirs_tool, "--list-standards"])[0].split()
    assert _ours("--list-standards")[0].split() == theirs
    fence = set(_ours("--list-agents", "stonith")[0].split()) - OUR_FENCE_AGENTS
    assert fence and fence <= set(_run([theirs_tool, "--list-agents", "stonith"])[0].split())
    ocf = _ours("--list-agents", "ocf")[0].split()
    heartbeat = _run([theirs_tool, "--list-agents", "ocf"])[0].split()
    ours_own = _ours("--list-agents", f"ocf:{OUR_PROVIDER}")[0].split()
    assert ocf == ours_own + heartbeat  # providers in name order; ours sorts first


def _resources(cib: Path) -> bytes:
    root = etree.parse(str(cib), etree.XMLParser(remove_blank_text=True)).getroot()
    resources = root.find("configuration/resources")
    assert resources is not None
    return etree.tostring(resources)


@pytest.mark.oracle
@pytest.mark.timeout(600)
def test_crmsh_configures_primitives_with_our_tools_first_on_path(tmp_path: Path) -> None:
    crmsh = crmsh_tool()
    if crmsh is None or shutil.which("crm_verify", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("Debian's crmsh (/usr/sbin/crm) and Pacemaker's tools are not installed")
    ours_first = os.pathsep.join([str(Path(sys.executable).parent), "/usr/sbin", "/usr/bin",
                                  os.environ.get("PATH", "")])
    debian_first = os.pathsep.join(["/usr/sbin", "/usr/bin", os.environ.get("PATH", "")])
    steps = [("ocf:heartbeat:Dummy", "params", "fake=1", "op", "monitor", "interval=10"),
             ("ocf:pacemaker:Stateful", "params", "nosuch=1"),  # crmsh: unknown parameter
             ("ocf:heartbeat:NoAgent",)]  # crmsh: no such resource agent
    outcomes = {}
    for name, path in (("ours", ours_first), ("debian", debian_first)):
        cib = tmp_path / f"{name}.xml"
        shutil.copy(EXAMPLE, cib)
        env = {**os.environ, "PATH": path, ENV_VAR: str(cib)}
        codes = [_run([crmsh, "configure", "primitive", f"p{i}", *step], env)[2]
                 for i, step in enumerate(steps)]
        outcomes[name] = (codes, _resources(cib))
    assert outcomes["ours"][0] == [0, 1, 1]
    assert outcomes["ours"] == outcomes["debian"]
