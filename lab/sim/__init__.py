"""The whole-cluster simulator: every daemon core of every node, one fake clock, one queue.

    from lab.sim import ALL_DAEMONS, SimConfig, Simulation
    sim = Simulation(ALL_DAEMONS, seed=7, config=SimConfig(keepalive=0.2, deadtime=1.0))
    sim.add_nodes(["n1", "n2", "n3"])
    sim.run_for(3.0)
    sim.kill("n2")

Pieces: `world` (Simulation, DaemonSpec, the runners on messaging.runtime's FakeScheduler),
`network` (loss, delay, partition, cuts, per-datagram receive cost), `daemons` (the specs
of heartbeat, ccm, lrmd and stonithd, and `SimConfig`), `agents` (fake resource agents and
fence devices), `checks` (partitions and agreement), `script` (scenario scripts),
`controller` (crmd and an in-memory CIB holder standing in for the cib daemon: `CRMD`,
`CIB`) and `cluster` (`ControllerCluster`: a CIB's nodes with every daemon, audited for
double runs after every event). Import those two modules by name: they bring crmd and
pengine, which the membership-only simulations do not need.

Adding a daemon (cib, crmd): write a `DaemonSpec` and pass it in the registry list (or
`sim.register(spec)`) before `add_nodes`; daemons boot in registry order. For example::

    CIB = DaemonSpec(
        "cib",
        build=lambda ctx: CibCore(ctx.node, ctx.memory.get("cib.xml", EMPTY)),  # one boot
        boot=lambda ctx: ctx.feed(CibStarted(ctx.now)),
        send=lambda ctx, effect: send_to_peers(ctx, effect.destination, "cib",
                                               encode(effect.message)),
        subscriptions={
            "message": lambda ctx, e: [PeerUpdate(e.src, decode(e.payload), ctx.now)]
                       if e.channel == "cib" and e.src != ctx.node else [],
            MEMBERSHIP_TOPIC: lambda ctx, e: [PeersChanged(e.members, ctx.now, ctx.wall)],
        },
        handlers=lambda ctx: {WriteCib: lambda eff: ctx.memory.__setitem__("cib.xml", eff.xml)},
    )
    sim = Simulation([*ALL_DAEMONS, CIB], config=SimConfig(extra={"cib": ...}))

- `build(ctx)` returns the pure core for one boot of `ctx.node`; `ctx.memory` survives
  restarts (what the daemon keeps on disk; the runner's `Persist` effects land there too),
  `ctx.state` is per boot, `ctx.rng` is seeded per (seed, node, daemon, incarnation).
- `subscriptions[topic](ctx, event)` turns a publication of any daemon on the same node
  (heartbeat "status"/"message", ccm's membership, lrmd "op", stonithd "fence", and the
  new daemon's own topics) into events for this core.
- `send(ctx, effect)` carries its `Send`: `send_to_peers` goes through the node's
  heartbeat (channel per daemon); the default records replies to local clients.
- `handlers(ctx)` performs its own effect types; `ctx.request(daemon, make_event)` asks
  another daemon of the node (one request at a time, `ipc_delay` each).
- Settings go in `SimConfig.extra`; client requests come in with `sim.feed(node, daemon,
  event)`, replies land in `sim.replies`, publications in `sim.trace`.
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
    inject_datagram,
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
    "inject_datagram",
    "membership_events",
    "send_to_peers",
    "stabilize",
    "view",
]
