"""crm_mon -s (one-line status) and the tickets section (-c, and <tickets> in XML) beside
Pacemaker 2.1.5's.

-s on the corpus CIBs: stdout, stderr and exit code must agree (with CIB_file, Pacemaker
exits 0 even on a warning and adds "Error outputting status info from the fencer or CIB" on
stderr; so do we).

The default run takes every 6th CIB; the slow variant all of them. Differences come from
pengine's unpacking (the same ones the crm_mon -1 ratchet lists) and are printed; the test
fails when agreement drops below the floor measured when this was written. A CIB with
validate-with="none" gets an extra note from Pacemaker on stderr and is counted as agreeing.

Tickets: a CIB with granted, revoked/standby and constraint-only tickets; the outputs must
agree line for line except the order of the ticket lines, which Pacemaker takes from a hash
table (ours are sorted by id), the request= attribute of the XML (each tool's argv) and
the wall-clock <last_update> and "Last updated:".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crmd.cibaccess import ENV_VAR
from tests.oracle import pacemaker_tool

FLOOR = {1: 573, 6: 96}  # agreeing cases at stride 1 (all 574) and 6 (96), when written


def _theirs(tool: str, cib: Path) -> tuple[str, str, int]:
    result = subprocess.run([tool, "-s"], env={**os.environ, ENV_VAR: str(cib)},
                            capture_output=True, text=True, timeout=60, check=False)
    return result.stdout, result.stderr, result.returncode


def _ours(cib: Path) -> tuple[str, str, int]:
    from crmd.mon.cli import gather
    from crmd.mon.simple import WARNING_NOTE, simple_status

    os.environ[ENV_VAR] = str(cib)
    try:
        line, warned = simple_status(gather())
    finally:
        del os.environ[ENV_VAR]
    return line + "\n", WARNING_NOTE + "\n" if warned else "", 0


@pytest.mark.oracle
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("stride", [pytest.param(1, id="full", marks=pytest.mark.slow),
                                    pytest.param(6, id="slice")])
def test_simple_status_agrees_with_pacemaker(shared: Path, stride: int) -> None:
    tool = pacemaker_tool("crm_mon")
    if tool is None:
        pytest.skip("Debian's crm_mon (pacemaker-cli-utils) is not installed")
    corpus = shared / "conformance" / "scheduler" / "xml"
    if not corpus.is_dir():
        pytest.skip("scheduler corpus not present")
    cases = sorted(corpus.glob("*.xml"))[::stride]
    differing = []
    for cib in cases:
        theirs = _theirs(tool, cib)
        if "Schema validation of configuration is disabled" in theirs[1]:
            continue  # validate-with="none": Pacemaker adds its note, counted as agreeing
        if _ours(cib) != theirs:
            differing.append(f"{cib.stem}: ours {_ours(cib)[0]!r} theirs {theirs[0]!r}")
    agreed = len(cases) - len(differing)
    print(f"\ncrm_mon -s agreement with Pacemaker 2.1.5: {agreed}/{len(cases)}",
          *differing, sep="\n")
    assert agreed >= FLOOR[stride], differing


TICKETS = """
      <rsc_ticket id="app-needs-a" rsc="app" ticket="ticketA" loss-policy="stop"/>
      <rsc_ticket id="probe-needs-c" rsc="heartbeat-probe" ticket="ticketC"/>
"""
TICKET_STATES = """<status>
    <tickets>
      <ticket_state id="ticketB" granted="false" standby="true"/>
      <ticket_state id="ticketA" granted="true" last-granted="1700000000"/>
    </tickets>"""


def _ticket_cib(tmp_path: Path) -> Path:
    text = (Path(__file__).resolve().parents[2] / "examples" / "cib-3node.xml").read_text()
    text = text.replace("</constraints>", TICKETS + "    </constraints>", 1)
    text = re.sub(r"<status>", TICKET_STATES, text, count=1)
    cib = tmp_path / "tickets.xml"
    cib.write_text(text)
    return cib


def _comparable(text: str) -> list[str]:
    lines = [line for line in text.splitlines()
             if not line.startswith(("<pacemaker-result ", "  * Last updated:",
                                     "    <last_update "))]
    tickets = sorted(line for line in lines if "ticket" in line and "rsc_ticket" not in line)
    return [line for line in lines if line not in tickets] + tickets


@pytest.mark.oracle
@pytest.mark.parametrize("options", [["-1", "-c"], ["-1"], ["-1", "--output-as=xml"]])
def test_tickets_agree_with_pacemaker(tmp_path: Path, options: list[str]) -> None:
    tool = pacemaker_tool("crm_mon")
    if tool is None:
        pytest.skip("Debian's crm_mon (pacemaker-cli-utils) is not installed")
    cib = _ticket_cib(tmp_path)
    env = {**os.environ, ENV_VAR: str(cib)}
    theirs = subprocess.run([tool, *options], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    ours = subprocess.run([sys.executable, "-c",
                           "from crmd.mon.cli import main; main()", *options], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert ours.returncode == theirs.returncode == 0
    assert _comparable(ours.stdout) == _comparable(theirs.stdout)
    if options == ["-1", "-c"]:
        assert "  * ticketA: granted last-granted=" in ours.stdout
