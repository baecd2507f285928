"""crmd in the whole-cluster simulator, on the real cib replication (lab.sim.cib_replica).

`CRMD` runs one `crmd.api.Controller` per node, glued like the crmd daemon's shell:
- membership: ccm's `MembershipChanged` -> `MembershipView` (at boot, ccm's current view,
  as a restarted controller asks ccm for it);
- peers: `Send(Node(peer), message)` travels through the node's heartbeat on channel
  "crmd" in crmd's wire form; "message" publications on that channel come back as
  `PeerMessage`;
- `LrmdRequest` -> the node's own lrmd core (`Submit`/`Cancel`), its "op" publications ->
  `LocalOpResult`;
- `ExecuteFencing` -> the node's stonithd core (a client `FenceRequest`), its "fence"
  publications for that target -> `FenceCompleted`; every "fence" publication ->
  `NodeFenced` (as crmd's daemon subscribes to its stonithd's results);
- CIB effects (`ModifyCib`, `DeleteCib`, `ClearFailures`, `UpdateAttribute` as attrd
  writes it) -> ordered writes to the node's own cib daemon (`cib_replica.CibWrites`),
  which replicates them; every persisted change comes back on "cib" as `CibChanged` (and
  `StatusUpdated` for controllers that learn results from the CIB);
- `RunScheduler` -> once earlier writes are answered, pengine in-process on this node's
  CIB copy (`run_scheduler`), a request overtaken by a newer one skipped;
- `SyncCib` -> `CibSynced` once earlier writes are answered (the cib daemons replicate:
  every copy of the partition is the master's, as in crmd's daemon);
- `StopController` powers the node off after `cib_delay`, once its writes are answered.

Settings: `SimConfig.extra["crmd"]` holds a `ControllerSettings`; `ControllerRecord` (in
the settings) collects what tests audit: every lrmd request and fencing request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ccm.api import MEMBERSHIP_TOPIC, MembershipChanged
from crmd.api import (
    CibSynced,
    ClearFailures,
    Controller,
    ControllerTiming,
    DeleteCib,
    ExecuteFencing,
    FenceCompleted,
    LocalOpResult,
    LrmdRequest,
    MembershipView,
    ModifyCib,
    NodeFenced,
    PeerMessage,
    RunScheduler,
    StatusUpdated,
    StopController,
    SyncCib,
    UpdateAttribute,
    decode,
    encode,
    run_scheduler,
)
from crmd.fencing import OWN_CLIENT
from lrmd.api import OP_TOPIC, CancelRequest, CoreCancel, ExecRequest, OpCompleted, Submit
from messaging.effects import Client, Send
from messaging.errors import InternalError
from messaging.heartbeat.api import MessageReceived
from stonithd import api as fencing

from .cib_replica import CIB, CIB_TOPIC, CibWrites, cib_text
from .world import DaemonContext, DaemonSpec

CRMD_CHANNEL = "crmd"


@dataclass
class ControllerRecord:
    """What the controllers asked for, in order (for tests and scenario transcripts)."""

    lrmd: list[tuple[float, str, str, str, int]] = field(default_factory=list)
    fencing: list[tuple[float, str, str, str]] = field(default_factory=list)  # dc, target
    stopped: list[str] = field(default_factory=list)


@dataclass
class ControllerSettings:
    """The cluster's CIB (configuration, empty status) and the controllers' settings."""

    cib: bytes
    timing: ControllerTiming = field(
        default_factory=lambda: ControllerTiming(recheck_interval=1e9))
    results_from_cib: bool = True  # as crmd's daemon: results reach the DC through its CIB
    cib_delay: float = 0.01
    scheduler_delay: float = 0.01
    record: ControllerRecord = field(default_factory=ControllerRecord)
    lost_requests: set[tuple[str, str, str]] = field(default_factory=set)  # node, rsc, action

    def node_ids(self) -> dict[str, str]:
        root = etree.fromstring(self.cib)
        return {str(n.get("uname")): str(n.get("id"))
                for n in root.iterfind("configuration/nodes/node")}


def settings_of(ctx: DaemonContext) -> ControllerSettings:
    settings = ctx.sim.config.extra.get("crmd")
    if not isinstance(settings, ControllerSettings):
        raise InternalError("lab.sim crmd needs SimConfig(extra={'crmd': ControllerSettings})")
    return settings


# ------------------------------------------------------------------------- crmd
def _crmd_build(ctx: DaemonContext) -> Controller:
    from crmd.options import controller_timing

    settings = settings_of(ctx)
    timing = controller_timing(settings.cib.decode(), settings.timing)  # as crmd's daemon
    return Controller(ctx.node, settings.node_ids(), ctx.wall, timing,
                      results_from_cib=settings.results_from_cib)


def _crmd_boot(ctx: DaemonContext) -> None:
    ctx.perform(ctx.core.start(ctx.now, ctx.wall))
    ccm = ctx.sim.nodes[ctx.node].daemons.get("ccm")
    if ccm is not None and ccm.core.view.view_id > 0:  # a restart inside a view
        snapshot = ccm.core.snapshot()
        ctx.after(0.0, lambda now: _view(ctx, snapshot, now))


def _view(ctx: DaemonContext, event: MembershipChanged, now: float) -> MembershipView:
    ctx.state["members"] = event.members
    return MembershipView(tuple(event.members), event.quorate, now, ctx.wall)


def _crmd_send(ctx: DaemonContext, effect: Send) -> None:
    from .daemons import send_to_peers

    if isinstance(effect.destination, Client):
        raise InternalError(f"crmd core sent {effect!r} to a client")
    send_to_peers(ctx, effect.destination, CRMD_CHANNEL, encode(effect.message))


def _peer(ctx: DaemonContext, event: MessageReceived) -> list[Any]:
    if event.channel != CRMD_CHANNEL or event.src == ctx.node:
        return []
    return [PeerMessage(event.src, decode(event.payload), ctx.now, ctx.wall)]


def _op(ctx: DaemonContext, event: OpCompleted) -> list[Any]:
    return [LocalOpResult(event, ctx.now, ctx.wall)]


def _fenced(ctx: DaemonContext, event: Any) -> list[Any]:
    if not isinstance(event, fencing.FenceResult):
        return []
    notified = NodeFenced(event.target, event.action, event.ok, event.origin, event.client,
                          ctx.now, ctx.wall)
    pending: dict[str, str] = ctx.state.setdefault("fencing", {})
    if event.origin != ctx.node or event.target not in pending:
        return [notified]
    key = pending.pop(event.target)
    return [FenceCompleted(key, event.target, event.ok, ctx.now, ctx.wall), notified]


def _lrmd_request(ctx: DaemonContext, effect: LrmdRequest) -> None:
    request, settings = effect.request, settings_of(ctx)
    if isinstance(request, ExecRequest):
        settings.record.lrmd.append((ctx.now, ctx.node, request.resource, request.action,
                                     request.interval_ms))
        lost = (ctx.node, request.resource, request.action)
        if lost in settings.lost_requests:  # a wedged lrmd: the controller's timeout acts
            settings.lost_requests.discard(lost)
            return
        ctx.request("lrmd", lambda now: Submit(request, now, wall=ctx.wall))
    elif isinstance(request, CancelRequest):
        ctx.request("lrmd", lambda now: CoreCancel(request.resource, request.action,
                                                   request.interval_ms, now, wall=ctx.wall))


def _execute_fencing(ctx: DaemonContext, effect: ExecuteFencing) -> None:
    settings_of(ctx).record.fencing.append((ctx.now, ctx.node, effect.target, effect.action))
    ctx.state.setdefault("fencing", {})[effect.target] = effect.transition_key
    request = fencing.FenceRequest(effect.target, effect.action, effect.timeout_s,
                                   client=OWN_CLIENT)
    ctx.request("stonithd", lambda now: fencing.ClientRequest(
        f"crmd:{effect.transition_key}", request, now, ctx.wall))


def _writes(ctx: DaemonContext) -> CibWrites:
    writes = ctx.state.get("cib-writes")
    if writes is None:
        writes = ctx.state["cib-writes"] = CibWrites(ctx)
    assert isinstance(writes, CibWrites)
    return writes


def _run_scheduler(ctx: DaemonContext, effect: RunScheduler) -> None:
    """Once earlier writes are answered, pengine on this node's copy; a request that a
    newer one overtook is skipped (the controller ignores stale answers anyway)."""
    ctx.state["latest-schedule"] = effect.transition_id
    delay = settings_of(ctx).scheduler_delay

    def run() -> None:
        if ctx.state.get("latest-schedule") != effect.transition_id:
            return
        done = run_scheduler(cib_text(ctx, ctx.node), effect, ctx.now + delay)
        ctx.after(delay, lambda now: dataclasses.replace(done, now=now, wall=ctx.wall))

    _writes(ctx).after_writes(run)


def _sync(ctx: DaemonContext) -> None:
    _writes(ctx).after_writes(lambda: ctx.after(0.0, lambda now: CibSynced(True, now, ctx.wall)))


def _attribute(ctx: DaemonContext, effect: UpdateAttribute) -> None:
    """attrd's part: ``value++`` counts up from the local copy once earlier writes are
    answered (crmd.cib_link.CibLink.set_attribute)."""
    from crmd.cib_events import attribute_write, incremented

    core = ctx.core
    assert isinstance(core, Controller)
    node_id = core.node_ids.get(effect.node, effect.node)
    writes, value = _writes(ctx), effect.value
    if not (value.endswith("++") or "+=" in value):
        writes.write(attribute_write(node_id, effect.node, effect.name, value))
        return

    def count_up() -> None:
        root = etree.fromstring(cib_text(ctx, ctx.node))
        old = root.xpath(f"string(status/node_state[@uname='{effect.node}']"
                         f"/transient_attributes//nvpair[@name='{effect.name}']/@value)")
        new = incremented(str(old) or None, value)
        writes.write(attribute_write(node_id, effect.node, effect.name, new))

    writes.after_writes(count_up)


def _write(ctx: DaemonContext, effect: ModifyCib | DeleteCib | ClearFailures) -> None:
    from crmd.cib_events import write_of

    _writes(ctx).write(write_of(effect))


def _stop(ctx: DaemonContext, effect: StopController) -> None:
    settings_of(ctx).record.stopped.append(ctx.node)
    node = ctx.node

    def power_off() -> None:
        ctx.sim.scheduler.call_at(ctx.now + settings_of(ctx).cib_delay,
                                  lambda: ctx.sim.kill(node))

    _writes(ctx).after_writes(power_off)


def _crmd_handlers(ctx: DaemonContext) -> dict[type, Any]:
    handlers: dict[type, Any] = {
        LrmdRequest: lambda effect: _lrmd_request(ctx, effect),
        ExecuteFencing: lambda effect: _execute_fencing(ctx, effect),
        RunScheduler: lambda effect: _run_scheduler(ctx, effect),
        SyncCib: lambda effect: _sync(ctx),
        UpdateAttribute: lambda effect: _attribute(ctx, effect),
        StopController: lambda effect: _stop(ctx, effect),
    }
    for write in (ModifyCib, DeleteCib, ClearFailures):
        handlers[write] = lambda effect: _write(ctx, effect)
    return handlers


def _cib_event(ctx: DaemonContext, event: Any) -> list[Any]:
    if isinstance(event, StatusUpdated) and not settings_of(ctx).results_from_cib:
        return []
    return [event]


CRMD = DaemonSpec(
    "crmd", _crmd_build, boot=_crmd_boot, handlers=_crmd_handlers, send=_crmd_send,
    subscriptions={
        MEMBERSHIP_TOPIC: lambda ctx, e: [_view(ctx, e, ctx.now)],
        "message": _peer,
        OP_TOPIC: _op,
        fencing.FENCE_TOPIC: _fenced,
        CIB_TOPIC: _cib_event,
    })
"""Register after lab.sim's ALL_DAEMONS and `CIB`: `[*ALL_DAEMONS, CIB, CRMD]`."""

__all__ = ["CIB", "CRMD", "ControllerRecord", "ControllerSettings", "cib_text", "settings_of"]
