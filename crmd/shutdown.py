"""A node's clean departure, the controller's two steps of it (Pacemaker's
handle_shutdown_request and do_shutdown's bookkeeping).

- `shutdown_request`: the DC records a node's request as its ``shutdown`` attribute (epoch
  seconds), so the scheduler moves the node's resources away and plans ``do_shutdown``;
  any other node forwards the request to the DC.
- `expect_down`: sending ``do_shutdown`` makes the node expected down, so its departure is
  clean (not fenced).

Invariants: pure; nothing is recorded unless this node is DC.
"""

from __future__ import annotations

from collections.abc import Mapping

from crmd.join import JoinCoordinator, node_state_xml
from crmd.messages import (
    CrmdEffect,
    ExecuteClusterAction,
    ExecuteResourceAction,
    ModifyCib,
    ShutdownRequested,
    UpdateAttribute,
)
from messaging.effects import Log, Node, Send


def shutdown_request(event: ShutdownRequested, is_dc: bool, dc: str | None, wall: float,
                     now: float) -> list[CrmdEffect]:
    """`wall`: epoch seconds now, used when the request carries none."""
    if is_dc:
        return [UpdateAttribute(event.node, "shutdown", str(int(event.wall or wall)))]
    if dc is None:
        return [Log("shutdown_deferred", "warning", (("reason", "no DC"),))]
    return [Send(Node(dc), ShutdownRequested(event.node, now, event.wall or wall))]


def expect_down(effect: ExecuteResourceAction | ExecuteClusterAction,
                coordinator: JoinCoordinator | None,
                node_ids: Mapping[str, str]) -> list[CrmdEffect]:
    """The DC sends `effect`: a ``do_shutdown`` makes its node expected down."""
    if effect.action.operation != "do_shutdown":
        return []
    if coordinator is not None:
        coordinator.expected[effect.node] = "down"
    return [ModifyCib("status", node_state_xml(
        node_ids.get(effect.node, effect.node), effect.node, "execute_cluster_action",
        expected="down"))]
