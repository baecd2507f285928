"""Regression cases of the XML-output differential (tests/differential/probe_xml): each
seed's CIB through CIB_file, Debian's Pacemaker 2.1.5 tool and ours, exit code and
normalised stdout compared (probe_cli.probe). The expected output is Debian's tool's on the
same file, never ours; each case names the class of disagreement it pins (found by
`python -m tests.differential.probe_xml 0 99`).
"""

from __future__ import annotations

import pytest

from tests.differential.generate import generate
from tests.differential.probe_cli import differences, probe
from tests.differential.probe_xml import XML_COMMANDS
from tests.oracle import pacemaker_tool

pytestmark = pytest.mark.oracle

ARGS = dict(XML_COMMANDS)
CASES = [
    # <cluster_status> as crm_mon writes it: a node shutting down is not expected up
    ("expected-up-of-a-node-shutting-down", 9, "crm_simulate"),
    # a pending start is "Starting" in the current status only, not the revised one
    ("pending-start-in-current-status-only", 4, "crm_simulate"),
    # an anonymous instance's action is named as the text output names it (d3:0)
    ("anonymous-instance-action-names", 12, "crm_simulate"),
    # a pseudo action by its operation key (d2_stop_0, not d2:1_stop_0)
    ("pseudo-action-operation-key", 13, "crm_simulate"),
    # a move's attributes in the order of its words (source, dest, role)
    ("move-role-order", 14, "crm_simulate"),
    # a recovery in place names its node node= (no destination), as start and stop do
    ("recover-in-place-node", 17, "crm_simulate"),
    # clear_failcount names the graph's primitive id (d7, not d7:1)
    ("clear-failcount-primitive-id", 22, "crm_simulate"),
    # a transition that cannot complete is said in <status> only: nothing on stderr
    ("terminated-only-in-status", 10, "crm_simulate"),
    # an orphaned group instance is managed as its template, whatever its members say
    ("orphan-group-instance-managed", 97, "crm_mon"),
]


@pytest.mark.parametrize(("name", "seed", "tool"), CASES, ids=[c[0] for c in CASES])
def test_xml_output_like_pacemaker(name: str, seed: int, tool: str) -> None:
    if pacemaker_tool(tool) is None or pacemaker_tool("cibadmin") is None:
        pytest.skip("Debian's Pacemaker tools are not installed")
    theirs, ours = probe(tool, ARGS[tool], generate(seed).xml)
    assert differences(theirs, ours) == [], (name, ours.stdout)
