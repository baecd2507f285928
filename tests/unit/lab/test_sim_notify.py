"""Clone notifications end to end in the simulator: the DC's graph carries the notify
actions, crmd hands them to lrmd, and the agent runs `notify` with the notify_* variables
in its OCF environment; the clone's notification pseudo actions complete on the DC."""

from __future__ import annotations

from pathlib import Path

from lab.sim.cluster import ControllerCluster, nodes_cib
from lrmd.agents import agent_environment
from lrmd.messages import AgentSpec

NOTIFY_CLONE = (
    '<clone id="web"><meta_attributes id="web-meta">'
    '<nvpair id="web-notify" name="notify" value="true"/></meta_attributes>'
    '<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/></clone>')


def _cib() -> bytes:
    text = nodes_cib(["alpha", "beta", "gamma"]).decode()
    return text.replace("<resources/>", f"<resources>{NOTIFY_CLONE}</resources>").encode()


def test_every_instance_is_notified_after_the_clone_starts() -> None:
    """Pacemaker's post-start notification: each started instance's agent runs `notify`
    with notify_type=post, notify_operation=start and the started instances and their
    nodes in notify_start_resource / notify_start_uname (OCF_RESKEY_CRM_meta_*)."""
    cluster = ControllerCluster(_cib())
    cluster.start_all()
    cluster.run_for(15.0)
    nodes = ["alpha", "beta", "gamma"]
    for node in nodes:
        runs = [rsc for _, rsc in cluster.agent_runs(node, "notify")]
        assert runs, f"no notify ran on {node}"
        params = cluster.agents.last_params[(node, runs[-1], "notify")]
        env = agent_environment(AgentSpec.parse("ocf:heartbeat:Dummy"), runs[-1], params,
                                Path("/usr/lib/ocf"))
        assert env["OCF_RESKEY_CRM_meta_notify_type"] == "post"
        assert env["OCF_RESKEY_CRM_meta_notify_operation"] == "start"
        assert sorted(env["OCF_RESKEY_CRM_meta_notify_start_uname"].split()) == nodes
        assert len(env["OCF_RESKEY_CRM_meta_notify_start_resource"].split()) == 3
        assert env["OCF_RESKEY_CRM_meta_notify_stop_resource"] == " "
    # the pre-start notification goes to no instance: none runs before the start
    assert all(start < notify for node in nodes
               for start, _ in cluster.agent_runs(node, "start")
               for notify, _ in cluster.agent_runs(node, "notify"))
    assert all(len(running) == 1 for running in cluster.running().values())
