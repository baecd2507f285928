"""The whole-cluster simulator: every daemon core of every node, one fake clock, one queue.

    from lab.sim import ALL_DAEMONS, SimConfig, Simulation
    sim = Simulation(ALL_DAEMONS, seed=7, config=SimConfig(keepalive=0.2, deadtime=1.0))
    sim.add_nodes(["n1", "n2", "n3"])
    sim.run_for(3.0)
    sim.kill("n2")

Pieces: `world` (Simulation, DaemonSpec, the runners on messaging.runtime's FakeScheduler),
`network` (loss, delay, partition, cuts, per-datagram receive cost), `daemons` (the specs
of heartbeat, ccm, lrmd and stonithd, and `SimConfig`), `agents` (fake resource agents and
fence devices), `checks` (partitions and agreement), `script` (scenario scripts).

Adding a daemon (cib, crmd): write a `DaemonSpec(name, build, boot=..., handlers=...,
send=..., subscriptions={topic: translate})` and `sim.register(spec)` (or pass it in the
registry list) before `add_nodes`. `build(ctx)` returns the pure core for one boot of
`ctx.node`; `subscriptions` turn another local daemon's publications into this core's
events; `send` carries its `Send` effects (e.g. `daemons.send_to_peers` over heartbeat);
`handlers` perform its own effect types. Settings go in `SimConfig.extra`.
"""

from .agents import FenceDevices, ResourceAgents
from .checks import agreement_problems, components, membership_events, stabilize, view
from .daemons import (
    ALL_DAEMONS,
    CCM,
    HEARTBEAT,
    LRMD,
    MEMBERSHIP,
    STONITHD,
    SimConfig,
    heartbeat_simulation,
    send_to_peers,
)
from .network import LinkModel, Network
from .world import DaemonContext, DaemonSpec, Simulation, TraceEntry

__all__ = [
    "ALL_DAEMONS",
    "CCM",
    "HEARTBEAT",
    "LRMD",
    "MEMBERSHIP",
    "STONITHD",
    "DaemonContext",
    "DaemonSpec",
    "FenceDevices",
    "LinkModel",
    "Network",
    "ResourceAgents",
    "SimConfig",
    "Simulation",
    "TraceEntry",
    "agreement_problems",
    "components",
    "heartbeat_simulation",
    "membership_events",
    "send_to_peers",
    "stabilize",
    "view",
]
