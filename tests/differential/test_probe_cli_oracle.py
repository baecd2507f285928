"""Operator tools beside Pacemaker's on seeded command lines (tests/differential/probe_cli).

A fixed, small set of seeds (the run stays under 30 s): for each, every drawn command line of
crm_resource, crm_attribute, crm_mon and cibadmin must give the same exit code, normalised
stdout, "complained or not" on stderr and resulting CIB as Debian's Pacemaker 2.1.5 tool.
These seeds exercise the probe-found fixes (clone-child ids, --move without a node, the last
command option winning, crm_mon --include/--exclude, usage exit codes). The full survey is
`python -m tests.differential.probe_cli FIRST LAST`.
"""

from __future__ import annotations

import pytest

from tests.differential.probe_cli import TOOLS, commands, differences, probe
from tests.oracle import pacemaker_tool

SEEDS = (2, 8)

pytestmark = pytest.mark.oracle


def test_commands_are_seeded() -> None:
    assert commands(5) == commands(5)
    assert commands(5) != commands(6)
    assert {tool for tool, _ in commands(5)[1]} == set(TOOLS)


@pytest.mark.parametrize("seed", SEEDS)
def test_tools_agree_with_pacemaker(seed: int) -> None:
    if any(pacemaker_tool(tool) is None for tool in TOOLS):
        pytest.skip("Debian's pacemaker-cli-utils (crm_resource, crm_attribute, crm_mon, "
                    "cibadmin) are not installed")
    xml, lines = commands(seed)
    disagreements = []
    for tool, args in lines:
        theirs, ours = probe(tool, args, xml)
        diff = differences(theirs, ours)
        if diff:
            disagreements.append(f"{tool} {' '.join(args)!r}: {','.join(diff)} "
                                 f"(rc theirs={theirs.code} ours={ours.code})")
    assert not disagreements, f"seed {seed}: " + "; ".join(disagreements)
