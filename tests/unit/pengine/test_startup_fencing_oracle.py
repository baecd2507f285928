"""Differential: a configured node without a ``node_state`` (never seen) and the entries the
DC writes for it, read by our crm_simulate and by Debian's Pacemaker 2.1.5 crm_simulate.

Pacemaker's scheduler: no ``node_state`` is "unseen": UNCLEAN and fenced ('node is unclean')
under startup-fencing=true (the default) with quorum, nothing planned without quorum
(no-quorum-policy=stop), OFFLINE with startup-fencing=false; a ``node_state`` carrying only
``expected`` is no longer unseen but lacks ``in_ccm``, so it is fenced ('peer has not been
seen by the cluster') even under startup-fencing=false, which is why the DC writes nothing
at all for a node it never saw; the entry written after its fencing (in_ccm="false"
join="down" expected="down") is cleanly OFFLINE. Both tools must print the same node list
and transition summary.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.oracle import pacemaker_tool

REPO = Path(__file__).resolve().parents[3]
DEBIAN = pacemaker_tool("crm_simulate")
MEMBER = ('<node_state id="{0}" uname="n{0}" in_ccm="true" crmd="online" join="member" '
          'expected="member"/>')
ABSENT = {
    "none": "",
    "expected-only": '<node_state id="3" uname="n3" expected="down"/>',
    "fenced": '<node_state id="3" uname="n3" in_ccm="false" join="down" expected="down"/>',
}


def _cib(startup_fencing: str | None, quorum: bool, absent: str) -> str:
    option = ("" if startup_fencing is None else
              f'<nvpair id="o-sf" name="startup-fencing" value="{startup_fencing}"/>')
    return (
        '<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" '
        f'admin_epoch="0" have-quorum="{int(quorum)}" dc-uuid="1"><configuration><crm_config>'
        '<cluster_property_set id="opts"><nvpair id="o-st" name="stonith-enabled" value="true"/>'
        f'{option}</cluster_property_set></crm_config><nodes><node id="1" uname="n1"/>'
        '<node id="2" uname="n2"/><node id="3" uname="n3"/></nodes><resources>'
        '<primitive id="fence" class="stonith" type="fence_dummy"/>'
        '<primitive id="db" class="ocf" provider="heartbeat" type="Dummy"/></resources>'
        f'<constraints/></configuration><status>{MEMBER.format(1)}{MEMBER.format(2)}'
        f'{ABSENT[absent]}</status></cib>')


def _sections(argv: list[str], cib: Path) -> list[str]:
    """The current node list and the transition summary."""
    done = subprocess.run([*argv, "-x", str(cib), "-S"], capture_output=True, text=True,
                          check=False, cwd=REPO, timeout=120)
    lines = done.stdout.splitlines()
    nodes = lines[lines.index("  * Node List:") + 1:lines.index("  * Full List of Resources:")]
    summary = lines[lines.index("Transition Summary:") + 1:]
    return nodes + summary[:next((i for i, line in enumerate(summary) if not line.strip()),
                                 len(summary))]


@pytest.mark.oracle
@pytest.mark.skipif(DEBIAN is None, reason="Debian's crm_simulate (pacemaker-cli-utils) absent")
@pytest.mark.parametrize("startup_fencing", [None, "true", "false"])
@pytest.mark.parametrize("quorum", [True, False])
@pytest.mark.parametrize("absent", sorted(ABSENT))
def test_an_unseen_node_is_read_as_pacemaker_reads_it(
        startup_fencing: str | None, quorum: bool, absent: str, tmp_path: Path) -> None:
    assert DEBIAN is not None
    cib = tmp_path / "cib.xml"
    cib.write_text(_cib(startup_fencing, quorum, absent))
    theirs = _sections([DEBIAN], cib)
    assert _sections([sys.executable, "-m", "pengine.cli"], cib) == theirs
    fenced = any("Fence (reboot) n3" in line for line in theirs)
    unseen = absent == "none" and startup_fencing != "false"
    assert fenced == (quorum and (unseen or absent == "expected-only")), theirs
