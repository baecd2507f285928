"""The wide generator profile (gen_wide.py) gives CIBs Debian's crm_simulate takes as valid input.

A wide CIB may make Pacemaker log what scheduling it implies (a transition that cannot
finish, a resource active on several nodes, a resource stopped until its node is unfenced),
but no message about the input itself that the default profile's CIB of the same seed does
not already print (seed 8's on-fail=standby on a stop action, seed 101's mandatory
colocation with a clone of a non-colocated group were such inputs).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.differential.gen_wide import generate_wide, widen
from tests.differential.generate import generate
from tests.oracle import pacemaker_tool

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(pacemaker_tool("crm_simulate") is None,
                       reason="Debian's crm_simulate is not installed"),
]

# Messages about what was scheduled or simulated, not about the input.
_CONSEQUENCES = re.compile(
    r"log_synapse_action|log_unresolved_inputs|pcmk__log_graph|unpack_rsc_op_failure|"
    r"pe_fence_node|Detected active orphan|Transition failed|invalid transition|"
    r"can be unfenced|might be active on|Cannot (fence|shut down)|but is not")
SEEDS = (*range(12), 101)


def _messages(xml: str) -> set[str]:
    tool = pacemaker_tool("crm_simulate")
    assert tool is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cib.xml"
        path.write_text(xml)
        proc = subprocess.run([tool, "-x", str(path), "-S", "-V"], capture_output=True,
                              text=True, check=False, timeout=120,
                              env={"LC_ALL": "C", "CIB_shadow_dir": tmp,
                                   "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert "Transition Summary:" in proc.stdout
    return {re.sub(r"\S*\d\S*", "#", line) for line in proc.stderr.splitlines()
            if "error" in line and not _CONSEQUENCES.search(line)}


def test_wide_profile_is_deterministic_and_draws_its_own_features() -> None:
    assert generate_wide(7).xml == generate_wide(7).xml
    drawn = set().union(*(widen(generate(s).xml, s)[1] for s in range(20)))
    assert {"w_shutdown_lock", "w_failure_timeout", "w_location_rsc_pattern"} <= drawn


@pytest.mark.parametrize("seed", SEEDS)
def test_wide_cib_is_valid_input(seed: int) -> None:
    new = _messages(generate_wide(seed).xml) - _messages(generate(seed).xml)
    assert not new, f"seed {seed}: crm_simulate complains about the wide input: {new}"
