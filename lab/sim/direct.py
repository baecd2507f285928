"""Fencers alone, reaching each other directly: stonithd's protocol without membership.

`fencing_simulation` registers `STONITHD_DIRECT` only: every node's fencer knows every
node as a peer from the start (the service learns them from ccm), and a `Send` reaches
the peer's fencer after `latency` fake seconds (dropped if either end is down), so
fencing tests can script queries, levels, retries and timeouts without heartbeat and
ccm traffic. `set_peers` plays a new ccm view; `kill`/`start` make a fencer silent.
Everything else (fake devices, replies, trace, clock) is the whole-cluster simulator's.
"""

from __future__ import annotations

from typing import Any

from messaging.effects import Client, Send
from stonithd import api as fencing

from .agents import FenceDevices, FenceScript
from .daemons import SimConfig, fencer_boot, fencer_handlers
from .world import DaemonContext, DaemonSpec, Simulation, destination_name

LATENCY = 0.001


def _build(ctx: DaemonContext) -> Any:
    return fencing.Fencer(ctx.node, ctx.rng, peers=tuple(ctx.sim.names),
                          query_timeout=ctx.sim.config.fence_query_timeout)


def _send(ctx: DaemonContext, effect: Send) -> None:
    if isinstance(effect.destination, Client):
        ctx.sim.reply(ctx, effect.destination, effect.message)
        return
    target = destination_name(effect.destination)
    delay = 0.0 if target == ctx.node else LATENCY
    if target in ctx.sim.nodes:
        ctx.sim.deliver(target, "stonithd",
                        lambda now: fencing.PeerMessage(ctx.node, effect.message, now,
                                                        ctx.sim.scheduler.wall()),
                        ctx.now + delay)


STONITHD_DIRECT = DaemonSpec("stonithd", _build, boot=fencer_boot, handlers=fencer_handlers,
                             send=_send)


def fencing_simulation(nodes: tuple[str, ...], cib: str, *, script: FenceScript | None = None,
                       seed: int = 1) -> Simulation:
    """Fencers on `nodes`, all loading `cib`; `script(node, run) -> (Outcome, seconds)`
    answers the agents (default: every action succeeds after 0.1 s). Nodes stay powered."""
    config = SimConfig(fencing_cib=cib, fence_devices=FenceDevices(script=script, power=False))
    sim = Simulation([STONITHD_DIRECT], seed=seed, config=config)
    sim.add_nodes(nodes)
    return sim


def request(sim: Simulation, node: str, message: Any, client: str = "client:1") -> None:
    """A local client of `node`'s fencer sends `message` now."""
    sim.feed(node, "stonithd",
             fencing.ClientRequest(client, message, sim.now, sim.scheduler.wall()))


def set_peers(sim: Simulation, members: tuple[str, ...]) -> None:
    """A new view: every running member's fencer hears `PeersChanged(members)` now."""
    for node in members:
        if sim.alive(node):
            sim.feed(node, "stonithd", fencing.PeersChanged(members, sim.now,
                                                               sim.scheduler.wall()))


def fence_runs(sim: Simulation) -> list[tuple[str, Any]]:
    """(node, RunAgent) of every agent run the fence devices were asked for."""
    config = sim.config
    assert isinstance(config, SimConfig)
    return config.fence_devices.runs
