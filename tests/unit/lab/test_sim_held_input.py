"""A graph action waiting on a required action left out of the graph (a held input) never
fires in the running cluster, as in Pacemaker: the transition ends "terminated", the DC goes
idle without replanning, and the next transition comes with the next cluster change.

The configuration is the one `crm_simulate -S` (Debian's and ours) ends with "Transition
failed: terminated" on: with a placement strategy, B's start on alpha waits for
load_stopped_alpha, which waits for A's stop there; that stop is required (A may run
nowhere) but blocked behind X's start, itself blocked by Y that may run nowhere. Pacemaker
keeps the blocked stop as an input of load_stopped_alpha (a load ordering can change
actions), so B is never started.
"""

from __future__ import annotations

from cib.api import WireRequest
from cib.replication_messages import ClientWrite
from crmd.api import FsaState
from lab.sim.cluster import ControllerCluster


def _utilization(owner: str, cpu: int) -> str:
    return (f'<utilization id="{owner}-u"><nvpair id="{owner}-u-cpu" name="cpu" '
            f'value="{cpu}"/></utilization>')


def _primitive(rsc: str, role: str = "Started") -> str:
    return (f'<primitive id="{rsc}" class="ocf" provider="heartbeat" type="Dummy">'
            f'<meta_attributes id="{rsc}-meta"><nvpair id="{rsc}-role" name="target-role" '
            f'value="{role}"/></meta_attributes>{_utilization(rsc, 1)}</primitive>')


CIB = (
    '<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" '
    'admin_epoch="0"><configuration><crm_config><cluster_property_set '
    'id="cib-bootstrap-options"><nvpair id="opt-stonith-enabled" name="stonith-enabled" '
    'value="false"/><nvpair id="opt-placement" name="placement-strategy" value="balanced"/>'
    '</cluster_property_set></crm_config><nodes>'
    f'<node id="1" uname="alpha">{_utilization("alpha", 4)}</node>'
    f'<node id="2" uname="beta">{_utilization("beta", 4)}</node></nodes>'
    f'<resources>{_primitive("A")}{_primitive("X")}{_primitive("Y", "Stopped")}'
    f'{_primitive("B", "Stopped")}</resources><constraints>'
    '<rsc_location id="A-alpha" rsc="A" node="alpha" score="100"/>'
    '<rsc_location id="B-alpha" rsc="B" node="alpha" score="100"/>'
    '<rsc_location id="Y-not-alpha" rsc="Y" node="alpha" score="-INFINITY"/>'
    '<rsc_location id="Y-not-beta" rsc="Y" node="beta" score="-INFINITY"/>'
    '<rsc_order id="Y-then-X" first="Y" first-action="start" then="X" then-action="start" '
    'kind="Mandatory"/></constraints></configuration><status/></cib>').encode()
# A may run nowhere, and its stop must wait for X's start (blocked: Y runs nowhere)
HOLD_A = ('<constraints><rsc_location id="A-not-alpha" rsc="A" node="alpha" score="-INFINITY"/>'
          '<rsc_location id="A-not-beta" rsc="A" node="beta" score="-INFINITY"/>'
          '<rsc_order id="X-then-A-stop" first="X" first-action="start" then="A" '
          'then-action="stop" kind="Mandatory"/></constraints>')


def _write(cluster: ControllerCluster, node: str, request: WireRequest, name: str) -> None:
    wall = cluster.sim.scheduler.wall()
    cluster.sim.deliver(node, "cib", lambda now: ClientWrite(now, name, request, wall),
                        cluster.now)


def _settled() -> tuple[ControllerCluster, str]:
    cluster = ControllerCluster(CIB)
    cluster.start_all()
    cluster.run_for(10.0)
    dc = cluster.dc()
    assert dc is not None and cluster.controller(dc).state is FsaState.IDLE
    return cluster, dc


def test_an_action_behind_a_held_input_never_fires_and_the_dc_goes_idle() -> None:
    cluster, dc = _settled()
    assert cluster.placement() == {("A", "alpha")}  # X's start is blocked from the outset
    _write(cluster, dc, WireRequest("modify", HOLD_A, "constraints"), "hold")
    _write(cluster, dc, WireRequest("modify", _primitive("B"), "resources"), "b")
    cluster.run_for(5.0)
    controller = cluster.controller(dc)
    assert controller.engine.finished and controller.state is FsaState.IDLE
    held = controller.engine.graph
    assert held is not None and any(s.held for s in held.synapses)
    transitions = controller.transition_id
    cluster.run_for(60.0)  # no replanning of the same stuck graph
    assert controller.transition_id == transitions
    assert ("B", "alpha") not in cluster.placement() and ("A", "alpha") in cluster.placement()
    # the next change is planned: without the order, A stops and B starts on alpha
    _write(cluster, dc, WireRequest("delete", '<rsc_order id="X-then-A-stop"/>',
                                    "constraints"), "release")
    cluster.run_for(5.0)
    assert controller.transition_id > transitions
    assert ("B", "alpha") in cluster.placement() and ("A", "alpha") not in cluster.placement()
    assert cluster.violations == []
