"""The daemons the simulator runs today: heartbeat, ccm, lrmd and stonithd as `DaemonSpec`s.

Each spec glues a real pure core exactly like its service shell does:
- heartbeat: `Started` at boot, `SendDatagram` onto the `Network`, datagrams back in as
  `PacketReceived`; publishes `NodeStatusChanged` ("status") and `MessageReceived`
  ("message"); reads back at boot the replay marks its last boot persisted (`hb_peers`,
  as the service does from its state directory), so `kill`/`start` is a real restart
  and `forget` a lost disk. `inject_datagram` hands it a datagram from any address.
- ccm: "status" -> `PeerStatusChanged` (late counts as up), "message" on channel "ccm" ->
  `PeerMessageReceived`; `Send` -> heartbeat `SendRequest` (msgpack of the protocol wire
  form); remembers the last view id across restarts (the service's `ccm.view_id` file).
- lrmd: client requests in (`Submit`), agents run by the fake `ResourceAgents`, replies
  to clients recorded.
- stonithd: peers over heartbeat channel "stonith" (stonithd's codec), the peer set from
  ccm's membership and fencer hellos (`PeerSet`, like `HeartbeatPeers`), `Send` to itself
  looped back, agents run by the fake `FenceDevices`, which really power nodes off.

`SimConfig` holds what ha.cf, authkeys, the CIB and the agents would give them. Register a
new daemon with `Simulation.register(DaemonSpec(...))`; see `lab.sim` for the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccm.api import CHANNEL as CCM_CHANNEL
from ccm.api import (
    MEMBERSHIP_TOPIC,
    VIEW_ID_FILE,
    CcmNode,
    MembershipChanged,
    PeerMessageReceived,
    PeerStatusChanged,
    QuorumSettings,
    Timing,
    protocol_from_wire,
    protocol_to_wire,
)
from lrmd.api import CoreRunAgent, KillProcessGroup, LrmdCore
from messaging.auth import KeyRing
from messaging.authkeys import parse_authkeys
from messaging.config import DEFAULT_PORT
from messaging.effects import ALL_NODES, AllNodes, Client, Node, Send
from messaging.errors import InternalError
from messaging.heartbeat.api import MessageReceived, NodeState, NodeStatusChanged
from messaging.heartbeat.core import PEERS, CoreSettings, HeartbeatCore
from messaging.heartbeat.events import PacketReceived, SendDatagram, SendRequest, Started
from messaging.heartbeat.liveness import Timing as HeartbeatTiming
from messaging.heartbeat.peers import decode_marks
from stonithd import api as fencing

from .agents import FenceDevices, ResourceAgents
from .world import DaemonContext, DaemonSpec, Simulation, destination_name

STONITH_CHANNEL = "stonith"


@dataclass
class SimConfig:
    """Cluster-wide settings every node's daemons are built from (seconds)."""

    keepalive: float = 0.2
    deadtime: float = 1.0
    warntime: float | None = None  # None: deadtime / 2
    initdead: float | None = None  # None: max(2 x deadtime, 2 s)
    links: tuple[str, ...] = ("eth0",)
    cluster: str = "sim"
    autojoin: str = "none"
    keys: KeyRing = field(
        default_factory=lambda: parse_authkeys("auth 1\n1 hmac-sha256 sim-secret\n"))
    quorum: dict[str, Any] = field(default_factory=dict)
    ccm_timing: Timing | None = None
    fencing_cib: str | None = None
    fence_query_timeout: float = 5.0
    lrmd_max_parallel: int = 4
    lrmd_kill_grace: float = 5.0
    resource_agents: ResourceAgents = field(default_factory=ResourceAgents)
    fence_devices: FenceDevices = field(default_factory=FenceDevices)
    extra: dict[str, Any] = field(default_factory=dict)  # settings of daemons added later

    def heartbeat_timing(self) -> HeartbeatTiming:
        warn = self.warntime if self.warntime is not None else self.deadtime / 2
        init = self.initdead if self.initdead is not None else max(2 * self.deadtime, 2.0)
        return HeartbeatTiming(self.keepalive, warn, self.deadtime, init)


def _config(ctx: DaemonContext) -> SimConfig:
    config = ctx.sim.config
    assert isinstance(config, SimConfig), "lab.sim daemons need Simulation(config=SimConfig())"
    return config


def send_to_peers(ctx: DaemonContext, destination: Node | AllNodes, channel: str,
                  payload: bytes) -> None:
    """Hand a message for other nodes to this node's heartbeat (one request at a time)."""
    dst = destination_name(destination)
    ctx.request("heartbeat", lambda now: SendRequest(dst, channel, payload, now))


# ------------------------------------------------------------------------- heartbeat
def _heartbeat_build(ctx: DaemonContext) -> HeartbeatCore:
    config = _config(ctx)
    # the marks of the previous boot: packets captured before it are not believed
    saved = ctx.memory.get(PEERS, b"")
    settings = CoreSettings(ctx.node, config.cluster, ctx.sim.next_generation(),
                            config.heartbeat_timing(), config.links, tuple(ctx.sim.names),
                            config.keys, config.autojoin,
                            known_peers=decode_marks(saved.decode()))
    return HeartbeatCore(settings)


def _heartbeat_handlers(ctx: DaemonContext) -> dict[type, Any]:
    def transmit(effect: SendDatagram) -> None:
        ctx.sim.transmit(ctx, effect.link, effect.dest, effect.data,
                         lambda link, addr, now: PacketReceived(link, effect.data, addr, now),
                         "heartbeat")
    return {SendDatagram: transmit}


HEARTBEAT = DaemonSpec(
    "heartbeat", _heartbeat_build, boot=lambda ctx: ctx.feed(Started(ctx.now)),
    handlers=_heartbeat_handlers)


def inject_datagram(sim: Simulation, node: str, link: str, data: bytes,
                    source: str) -> None:
    """Hand `node`'s heartbeat, now, a datagram of our own making (forged, replayed,
    garbled) on `link` as if it came from address `source` (heartbeat's port): an attacker
    on the LAN, who may also spoof a member's address."""
    sim.inject(node, "heartbeat",
               lambda now: PacketReceived(link, data, (source, DEFAULT_PORT), now))


# ------------------------------------------------------------------------- ccm
def _ccm_build(ctx: DaemonContext) -> CcmNode:
    config = _config(ctx)
    settings = QuorumSettings(nodes=tuple(ctx.sim.names), **config.quorum)
    timing = config.ccm_timing or Timing.for_keepalive(config.keepalive, len(ctx.sim.names))
    saved = ctx.memory.get(VIEW_ID_FILE, b"0")  # what the core persisted last boot
    return CcmNode(ctx.node, settings, timing, ctx.rng, ctx.incarnation,
                   last_view_id=int(saved.decode().strip() or 0))


def _ccm_status(ctx: DaemonContext, event: NodeStatusChanged) -> list[Any]:
    if event.node == ctx.node:
        return []
    return [PeerStatusChanged(event.node, event.status != NodeState.DEAD, ctx.now)]


def _ccm_message(ctx: DaemonContext, event: MessageReceived) -> list[Any]:
    if event.channel != CCM_CHANNEL or event.src == ctx.node:
        return []
    message = protocol_from_wire(event.payload)
    return [PeerMessageReceived(event.src, message, ctx.now)]


def _ccm_send(ctx: DaemonContext, effect: Send) -> None:
    if isinstance(effect.destination, Client):
        raise InternalError(f"ccm core sent {effect!r} to a client")
    send_to_peers(ctx, effect.destination, CCM_CHANNEL, protocol_to_wire(effect.message))


CCM = DaemonSpec(
    "ccm", _ccm_build, boot=lambda ctx: ctx.perform(ctx.core.start(ctx.now)),
    send=_ccm_send, subscriptions={"status": _ccm_status, "message": _ccm_message})


# ------------------------------------------------------------------------- lrmd
def _lrmd_handlers(ctx: DaemonContext) -> dict[type, Any]:
    agents = _config(ctx).resource_agents
    return {CoreRunAgent: lambda effect: agents.run(ctx, effect),
            KillProcessGroup: lambda effect: agents.kill(ctx, effect)}


LRMD = DaemonSpec(
    "lrmd",
    lambda ctx: LrmdCore(max_parallel=_config(ctx).lrmd_max_parallel,
                         kill_grace=_config(ctx).lrmd_kill_grace),
    handlers=_lrmd_handlers)


# ------------------------------------------------------------------------- stonithd
def _fencer_build(ctx: DaemonContext) -> Any:
    ctx.state["peers"] = fencing.PeerSet(ctx.node)
    return fencing.Fencer(ctx.node, ctx.rng, peers=(ctx.node,),
                          query_timeout=_config(ctx).fence_query_timeout)


def fencer_boot(ctx: DaemonContext) -> None:
    cib = _config(ctx).fencing_cib
    config = (fencing.load_config(cib, local_node=ctx.node) if cib
              else fencing.FencingConfig())
    ctx.feed(fencing.ConfigChanged(config, {}, ctx.now, ctx.wall))


def _fencer_send(ctx: DaemonContext, effect: Send) -> None:
    if isinstance(effect.destination, Client):
        ctx.sim.reply(ctx, effect.destination, effect.message)
        return
    target = destination_name(effect.destination)
    if target == ctx.node:  # the shell loops a Send to itself back in
        ctx.after(0.0, lambda now: fencing.PeerMessage(ctx.node, effect.message, now,
                                                        ctx.wall))
    elif ctx.state["peers"].reachable(target):
        send_to_peers(ctx, Node(target), STONITH_CHANNEL, fencing.peer_frame(effect.message))
    else:
        ctx.log.warning("peer_unreachable", peer=target)


def _hello(ctx: DaemonContext, destination: Node | AllNodes, answer: bool) -> None:
    hello = fencing.FencerHello(ctx.node, answer)
    send_to_peers(ctx, destination, STONITH_CHANNEL, fencing.peer_frame(hello))


def _fencer_message(ctx: DaemonContext, event: MessageReceived) -> list[Any]:
    if event.channel != STONITH_CHANNEL or event.src == ctx.node:
        return []
    message = fencing.open_peer_frame(event.payload)
    if not isinstance(message, fencing.FencerHello):
        return [fencing.PeerMessage(event.src, message, ctx.now, ctx.wall)]
    peers = ctx.state["peers"]
    change = peers.on_hello(event.src, ctx.now)
    if message.answer and peers.should_answer(event.src):
        _hello(ctx, Node(event.src), answer=False)
    return [change] if change is not None else []


def _fencer_view(ctx: DaemonContext, event: MembershipChanged) -> list[Any]:
    peers = ctx.state["peers"]
    change = peers.on_view(event.view_id, event.members, ctx.now)
    if peers.joined - {ctx.node}:
        _hello(ctx, ALL_NODES, answer=True)
    return [change] if change is not None else []


def fencer_handlers(ctx: DaemonContext) -> dict[type, Any]:
    devices = _config(ctx).fence_devices
    return {fencing.RunAgent: lambda effect: devices.run(ctx, effect)}


STONITHD = DaemonSpec(
    "stonithd", _fencer_build, boot=fencer_boot, handlers=fencer_handlers,
    send=_fencer_send,
    subscriptions={"message": _fencer_message, MEMBERSHIP_TOPIC: _fencer_view})

MEMBERSHIP = (HEARTBEAT, CCM)


def heartbeat_simulation(names: list[str], keys: KeyRing, timing: HeartbeatTiming, *,
                         links: tuple[str, ...] = ("eth0",), seed: int = 0,
                         cluster: str = "test", autojoin: str = "none") -> Simulation:
    """Heartbeat cores alone on `names` (not booted yet: call `start()`), for its tests."""
    config = SimConfig(keepalive=timing.keepalive, deadtime=timing.deadtime,
                       warntime=timing.warntime, initdead=timing.initdead, links=links,
                       cluster=cluster, autojoin=autojoin, keys=keys)
    sim = Simulation([HEARTBEAT], seed=seed, links=links, config=config)
    sim.add_nodes(names, boot=False)
    return sim
ALL_DAEMONS = (HEARTBEAT, CCM, LRMD, STONITHD)
