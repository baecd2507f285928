"""What a resource agent finds in its environment, end to end in the simulator, against
what Pacemaker 2.1.5 gives the same agent.

tests/unit/lab/pacemaker_env/clone-notify-dummy.env is the environment ocf:pacemaker:Dummy
dumped (its `envfile` parameter) on node1 of a real Pacemaker 2.1.5 + Corosync cluster
(/work/shared/tools/pacemaker-lab.sh) for the clone configured in `CLONE` below: its
probe, start, post-start notify, recurring monitor, and later (target-role Stopped) its
pre-stop notify and stop; only the OCF_RESKEY_* lines are kept. Pacemaker's controller
passes the graph action's <attributes> but the expected result (construct_op), so each
action's CRM_meta_* names, crm_feature_set, and the values that do not name nodes or
instances must be ours too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.sim.cluster import ControllerCluster, nodes_cib
from lrmd.agents import agent_environment
from lrmd.messages import AgentSpec

CLONE = (
    '<clone id="ec"><meta_attributes id="ec-m"><nvpair id="ec-n" name="notify" value="true"/>'
    '</meta_attributes><primitive id="e" class="ocf" provider="heartbeat" type="Dummy">'
    '<operations><op id="e-mon" name="monitor" interval="10s" timeout="25s"/>'
    '<op id="e-start" name="start" interval="0" timeout="30s"/></operations></primitive>'
    '</clone>')
RECORDED = Path(__file__).with_name("pacemaker_env") / "clone-notify-dummy.env"
OCF_ROOT = Path("/usr/lib/ocf")  # resource-agents' (Debian's package)
SHELLFUNCS = OCF_ROOT / "lib" / "heartbeat" / "ocf-shellfuncs"
# values that name nodes, instances or times: compared by name only
_PLACED = ("CRM_meta_on_node", "CRM_meta_on_node_uuid", "CRM_meta_clone",
           "CRM_meta_notify_")


def _pacemaker_runs() -> list[tuple[str, dict[str, str]]]:
    """(action, OCF_RESKEY_* table without the prefix) per recorded agent run."""
    runs: list[tuple[str, dict[str, str]]] = []
    for line in RECORDED.read_text().splitlines():
        if line.startswith("### "):
            runs.append((line.split()[1], {}))
        elif line.startswith("OCF_RESKEY_") and runs:
            name, _, value = line[len("OCF_RESKEY_"):].partition("=")
            runs[-1][1][name] = value
    return runs


def _compared(table: dict[str, str]) -> dict[str, str | None]:
    """The meta names and crm_feature_set, with values unless they are placement's."""
    return {name: None if name.startswith(_PLACED) else value
            for name, value in table.items()
            if name.startswith("CRM_meta_") or name == "crm_feature_set"}


@pytest.fixture(scope="module")
def ours() -> dict[tuple[str, int], dict[str, str]]:
    """Our agent's parameter table of the first probe, start, notify and monitor of one
    node (the simulator's fake agents keep what lrmd would export)."""
    cib = nodes_cib(["alpha", "beta", "gamma"]).decode()
    cluster = ControllerCluster(cib.replace("<resources/>", f"<resources>{CLONE}</resources>")
                                .encode())
    cluster.start_all()
    cluster.run_for(20.0)
    return {(action, interval): params
            for (node, _rsc, action, interval), params in cluster.agents.first_params.items()
            if node == "alpha"}


@pytest.mark.parametrize(("index", "action", "interval"), [
    (0, "monitor", 0), (1, "start", 0), (2, "notify", 0), (3, "monitor", 10000)],
    ids=["probe", "start", "post-start-notify", "recurring-monitor"])
def test_agent_gets_the_meta_pacemaker_gives(
        ours: dict[tuple[str, int], dict[str, str]], index: int, action: str,
        interval: int) -> None:
    recorded_action, theirs = _pacemaker_runs()[index]
    assert recorded_action == action
    assert _compared(ours[(action, interval)]) == _compared(theirs)


def test_notify_results_reach_the_dc_and_the_transition_goes_on(
        ours: dict[tuple[str, int], dict[str, str]]) -> None:
    """A notify result is not recorded in the CIB, so the node acknowledges it to the DC
    directly (process_lrm_event) even where results travel through the CIB: the
    post-start notifications confirm and the recurring monitors after them start."""
    assert ("notify", 0) in ours and ("monitor", 10000) in ours


def _ocf_is_probe(table: dict[str, str], action: str) -> bool:
    """What resource-agents' ocf_is_probe answers in the environment lrmd builds from an
    agent's parameter table (ocf-shellfuncs sourced as a shell agent does)."""
    env = agent_environment(AgentSpec.parse("ocf:heartbeat:Dummy"), "e", table, OCF_ROOT)
    script = f'. "{SHELLFUNCS}"; __OCF_ACTION={action}; ocf_is_probe'
    return subprocess.run(["/bin/sh", "-c", script], env=env, check=False,
                          capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not SHELLFUNCS.exists(), reason="resource-agents is not installed")
@pytest.mark.parametrize(("index", "interval", "probe"), [(0, 0, True), (3, 10000, False)],
                         ids=["probe", "recurring-monitor"])
def test_resource_agents_ocf_is_probe_answers_as_under_pacemaker(
        ours: dict[tuple[str, int], dict[str, str]], index: int, interval: int,
        probe: bool) -> None:
    """Pacemaker 2.1.5 gives a probe no CRM_meta_interval; resource-agents' ocf_is_probe
    still tells it from a recurring monitor (ocf-shellfuncs defaults the interval to 0).
    Our probe's and recurring monitor's environments get the same answers."""
    _action, theirs = _pacemaker_runs()[index]
    assert _ocf_is_probe(theirs, "monitor") is probe
    assert _ocf_is_probe(ours[("monitor", interval)], "monitor") is probe
