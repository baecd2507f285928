"""A node's lrmd replaced under a running controller: forget, fail what was in flight, rejoin.

Issue 10 asks for "recovery of crmd or lrmd on a node that stays in the view (re-probe, no
needless restarts)". Pacemaker's controller treats a lost executor connection as fatal: it
exits and is respawned, and the DC then either fences the node or lets it rejoin. Here a
controller that left gets its node fenced (`crmd.presence`), so the controller stays and
does the rejoin itself:

- the node (`lrmd_replaced`): its history of the old lrmd's operations and the transition
  keys of its running ones are forgotten (the executor and the join read the same
  `Recorder`), and it tells the DC (`LrmdLost`; the DC's own node addresses itself);
- the DC (`lrmd_lost`): the node's in-flight and pending actions of the running transition
  fail at once, as Pacemaker's `fail_incompletable_actions` does for a node whose
  controller is lost, so the transition ends and replans instead of waiting for their
  timeouts; the caller then offers the node a join (`Controller._rejoin`).

The join writes the node's empty history, so the scheduler probes every resource there; a
probe that finds a resource still running (its agent's state outlived the lrmd) is
recorded as running and its recurring monitor re-armed: nothing stops or starts, nothing
is fenced.

Invariants: pure; no failure is counted for the lost actions (their outcome is unknown,
the probes decide); nothing is sent when no DC is known (the next join carries the empty
history anyway).
"""

from __future__ import annotations

from crmd.join import JoinClient
from crmd.messages import CrmdEffect, LrmdLost, NodeLeft
from crmd.node_actions import NodeExecutor
from crmd.transition import TransitionEngine
from messaging.effects import Log, Node, Send


def lrmd_replaced(executor: NodeExecutor, client: JoinClient, dc: str | None
                  ) -> list[CrmdEffect]:
    """This node's lrmd was replaced: forget what the old one ran, ask the DC to rejoin."""
    executor.recorder.resources.clear()
    executor.keys.clear()
    client.joined = False
    log = Log("lrmd_replaced", "warning", (("node", executor.name), ("dc", dc or "")))
    if dc is None:
        return [log]
    return [log, Send(Node(dc), LrmdLost(executor.name))]


def lrmd_lost(engine: TransitionEngine, node: str, now: float) -> list[CrmdEffect]:
    """The DC's part before the rejoin: `node`'s actions of the running transition can
    never be answered (the old lrmd took them along)."""
    return [Log("lrmd_lost", "warning", (("node", node),)),
            *engine.handle(NodeLeft(node, now))]
