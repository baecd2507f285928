"""crmd in the whole-cluster simulator, with an in-memory CIB holder standing in for cib.

`CRMD` runs one `crmd.api.Controller` per node, glued like the crmd daemon's shell:
- membership: ccm's `MembershipChanged` -> `MembershipView` (at boot, ccm's current view,
  as a restarted controller asks ccm for it);
- peers: `Send(Node(peer), message)` travels through the node's heartbeat on channel
  "crmd" in crmd's wire form; "message" publications on that channel come back as
  `PeerMessage`;
- `LrmdRequest` -> the node's own lrmd core (`Submit`/`Cancel`), its "op" publications ->
  `LocalOpResult`;
- `ExecuteFencing` -> the node's stonithd core (a client `FenceRequest`), its "fence"
  publications for that target -> `FenceCompleted`;
- `RunScheduler` -> pengine in-process on this node's CIB copy (`run_scheduler`);
- CIB effects (`ModifyCib`, `DeleteCib`, `SyncCib`, `UpdateAttribute`, `ClearFailures`)
  -> the `CIB` holder of every member of this node's ccm view.

`CIB` is a stand-in until the cib daemon's replication core lands on main: one lxml tree
per node (`CibCopy`), a write applied at once to every copy of the writer's ccm view (what
replication achieves, without its latency), each copy then publishing `CibChanged` (and
`StatusUpdated` for status writes, for controllers that learn results from the CIB). It
also stands in for attrd (`UpdateAttribute`, `ClearFailures` edit transient attributes).
A rebooted node's copy starts from `ControllerSettings.cib` (the join sync brings it up to
date). `StopController` powers the node off after `cib_delay` (its daemons stop).

Settings: `SimConfig.extra["crmd"]` holds a `ControllerSettings`; `ControllerRecord` (in
the settings) collects what tests audit: every lrmd request and fencing request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ccm.api import MEMBERSHIP_TOPIC, MembershipChanged
from crmd.api import (
    CibChanged,
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
    PeerMessage,
    RunScheduler,
    StatusUpdated,
    StopController,
    SyncCib,
    UpdateAttribute,
    decode,
    encode,
    merge_status,
    run_scheduler,
)
from lrmd.api import OP_TOPIC, CancelRequest, CoreCancel, ExecRequest, OpCompleted, Submit
from messaging.effects import Client, Send
from messaging.errors import InternalError
from messaging.heartbeat.api import MessageReceived
from stonithd import api as fencing

from .world import DaemonContext, DaemonSpec

CRMD_CHANNEL = "crmd"
CIB_TOPIC = "cib"
CibWrite = ModifyCib | DeleteCib | UpdateAttribute | ClearFailures


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
    results_from_cib: bool = False
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


# ------------------------------------------------------------------------- the CIB holder
@dataclass(frozen=True, slots=True)
class ApplyWrite:
    """Event of the CIB holder: apply one controller write (replicated from `writer`)."""

    write: Any
    now: float


@dataclass(frozen=True, slots=True)
class ReplaceCopy:
    """Event of the CIB holder: take `xml` as the whole CIB (a join's sync)."""

    xml: bytes
    now: float


class CibCopy:
    """One node's CIB copy: applies writes, publishes each change on "cib"."""

    def __init__(self, xml: bytes, node_ids: dict[str, str]) -> None:
        self.root = etree.fromstring(xml)
        self.node_ids = node_ids

    def text(self) -> bytes:
        return etree.tostring(self.root)

    def version(self) -> tuple[int, int, int]:
        return (int(self.root.get("admin_epoch", "0")), int(self.root.get("epoch", "0")),
                int(self.root.get("num_updates", "0")))

    def handle(self, event: Any) -> list[Any]:
        if isinstance(event, ReplaceCopy):
            self.root = etree.fromstring(event.xml)
            return []
        if not isinstance(event, ApplyWrite) or not self._edit(event.write):
            return []
        self.root.set("num_updates", str(self.version()[2] + 1))
        write = event.write
        changed = CibChanged(self.version(), event.now, attributes_changed=isinstance(
            write, (UpdateAttribute, ClearFailures)))
        return [_publish(changed), *([_publish(StatusUpdated(write.xml, event.now))]
                                     if isinstance(write, ModifyCib)
                                     and write.section == "status" else [])]

    def _edit(self, write: Any) -> bool:
        status = self.root.find("status")
        assert status is not None
        if isinstance(write, ModifyCib) and write.section == "status":
            merge_status(status, write.xml)
        elif isinstance(write, ModifyCib) and write.section == "cib":
            for key, value in etree.fromstring(write.xml).attrib.items():
                self.root.set(key, value)
        elif isinstance(write, ModifyCib):
            return write.section == "nodes"  # the example CIBs configure every node
        elif isinstance(write, DeleteCib):
            found = self.root.xpath(write.xpath)
            for element in found if isinstance(found, list) else []:
                if isinstance(element, etree._Element):
                    parent = element.getparent()
                    if parent is not None:
                        parent.remove(element)
        elif isinstance(write, UpdateAttribute):
            self._set_attribute(write)
        elif isinstance(write, ClearFailures):
            return self._clear_failures(write)
        else:
            return False
        return True

    def _attributes(self, node: str) -> Any:
        node_id = self.node_ids.get(node, node)
        status = self.root.find("status")
        assert status is not None
        merge_status(status, f'<node_state id="{node_id}" uname="{node}"><transient_attributes '
                     f'id="{node_id}"><instance_attributes id="status-{node_id}"/>'
                     "</transient_attributes></node_state>")
        return status.find(f"node_state[@id='{node_id}']/transient_attributes/"
                           "instance_attributes")

    def _set_attribute(self, update: UpdateAttribute) -> None:
        """attrd's write of one transient attribute (``value++`` counts up, as attrd does)."""
        attributes = self._attributes(update.node)
        pair_id = f"status-{self.node_ids.get(update.node)}-{update.name}".replace("#", ".")
        pair = attributes.find(f"nvpair[@name='{update.name}']")
        old = pair.get("value", "0") if pair is not None else "0"
        value = update.value
        if value == "value++":
            value = "INFINITY" if old == "INFINITY" else str(int(old) + 1)
        if pair is None:
            pair = etree.SubElement(attributes, "nvpair", id=pair_id, name=update.name)
        pair.set("value", value)

    def _clear_failures(self, clear: ClearFailures) -> bool:
        attributes = self._attributes(clear.node)
        prefixes = (f"fail-count-{clear.resource}#", f"last-failure-{clear.resource}#")
        doomed = [p for p in attributes if p.get("name", "").startswith(prefixes)]
        for pair in doomed:
            attributes.remove(pair)
        return bool(doomed)


def _publish(event: Any) -> Any:
    from messaging.effects import Publish

    return Publish(CIB_TOPIC, event)


CIB = DaemonSpec(
    "cib", lambda ctx: CibCopy(settings_of(ctx).cib, settings_of(ctx).node_ids()))


def cib_text(ctx_or_sim: Any, node: str) -> bytes:
    """`node`'s CIB copy as text."""
    sim = getattr(ctx_or_sim, "sim", ctx_or_sim)
    core = sim.core(node, "cib")
    assert isinstance(core, CibCopy)
    return core.text()


def _members(ctx: DaemonContext) -> list[str]:
    """The copies a write of this node reaches: its ccm view's members that are alive and
    that the network lets it reach now (a split is felt before ccm installs a new view)."""
    members = ctx.state.get("members") or (ctx.node,)
    return [m for m in members if ctx.sim.alive(m) and (
        m == ctx.node or ctx.sim.network.connected(ctx.node, m))]


def _write(ctx: DaemonContext, write: CibWrite) -> None:
    """Applied to every copy at once (the writer's next scheduler run must see it, as
    Pacemaker's controller reads its CIB after its own update); the changes are published
    from each copy, so controllers hear of them through the queue."""
    for member in _members(ctx):
        ctx.sim.daemon(member, "cib").feed(ApplyWrite(write, ctx.now))


def _sync(ctx: DaemonContext, effect: SyncCib) -> None:
    source = effect.source or ctx.node
    delay = settings_of(ctx).cib_delay
    ok = ctx.sim.alive(source)
    if ok:
        xml = cib_text(ctx, source)
        for member in _members(ctx):
            if member != source:
                ctx.sim.daemon(member, "cib").feed(ReplaceCopy(xml, ctx.now))
    ctx.after(delay, lambda now: CibSynced(ok, now))


# ------------------------------------------------------------------------- crmd
def _crmd_build(ctx: DaemonContext) -> Controller:
    settings = settings_of(ctx)
    wall_offset = ctx.wall - ctx.now
    return Controller(ctx.node, settings.node_ids(), ctx.wall, settings.timing,
                      results_from_cib=settings.results_from_cib, wall_offset=wall_offset)


def _crmd_boot(ctx: DaemonContext) -> None:
    ctx.perform(ctx.core.start(ctx.now))
    ccm = ctx.sim.nodes[ctx.node].daemons.get("ccm")
    if ccm is not None and ccm.core.view.view_id > 0:  # a restart inside a view
        snapshot = ccm.core.snapshot()
        ctx.after(0.0, lambda now: _view(ctx, snapshot, now))


def _view(ctx: DaemonContext, event: MembershipChanged, now: float) -> MembershipView:
    ctx.state["members"] = event.members
    return MembershipView(tuple(event.members), event.quorate, now)


def _crmd_send(ctx: DaemonContext, effect: Send) -> None:
    from .daemons import send_to_peers

    if isinstance(effect.destination, Client):
        raise InternalError(f"crmd core sent {effect!r} to a client")
    send_to_peers(ctx, effect.destination, CRMD_CHANNEL, encode(effect.message))


def _peer(ctx: DaemonContext, event: MessageReceived) -> list[Any]:
    if event.channel != CRMD_CHANNEL or event.src == ctx.node:
        return []
    return [PeerMessage(event.src, decode(event.payload), ctx.now)]


def _op(ctx: DaemonContext, event: OpCompleted) -> list[Any]:
    return [LocalOpResult(event, ctx.now)]


def _fenced(ctx: DaemonContext, event: Any) -> list[Any]:
    pending: dict[str, str] = ctx.state.setdefault("fencing", {})
    if not isinstance(event, fencing.FenceResult) or event.origin != ctx.node \
            or event.target not in pending:
        return []
    key = pending.pop(event.target)
    return [FenceCompleted(key, event.target, event.ok, ctx.now, ctx.wall)]


def _lrmd_request(ctx: DaemonContext, effect: LrmdRequest) -> None:
    request, settings = effect.request, settings_of(ctx)
    if isinstance(request, ExecRequest):
        settings.record.lrmd.append((ctx.now, ctx.node, request.resource, request.action,
                                     request.interval_ms))
        lost = (ctx.node, request.resource, request.action)
        if lost in settings.lost_requests:  # a wedged lrmd: the controller's timeout acts
            settings.lost_requests.discard(lost)
            return
        ctx.request("lrmd", lambda now: Submit(request, now))
    elif isinstance(request, CancelRequest):
        ctx.request("lrmd", lambda now: CoreCancel(request.resource, request.action,
                                                   request.interval_ms, now))


def _execute_fencing(ctx: DaemonContext, effect: ExecuteFencing) -> None:
    settings_of(ctx).record.fencing.append((ctx.now, ctx.node, effect.target, effect.action))
    ctx.state.setdefault("fencing", {})[effect.target] = effect.transition_key
    request = fencing.FenceRequest(effect.target, effect.action, effect.timeout_s,
                                   client="crmd")
    ctx.request("stonithd", lambda now: fencing.ClientRequest(
        f"crmd:{effect.transition_key}", request, now, ctx.wall))


def _run_scheduler(ctx: DaemonContext, effect: RunScheduler) -> None:
    delay = settings_of(ctx).scheduler_delay
    done = run_scheduler(cib_text(ctx, ctx.node), effect, ctx.now + delay)
    ctx.after(delay, lambda now: done)


def _stop(ctx: DaemonContext, effect: StopController) -> None:
    settings_of(ctx).record.stopped.append(ctx.node)
    node = ctx.node
    ctx.sim.scheduler.call_at(ctx.now + settings_of(ctx).cib_delay,
                              lambda: ctx.sim.kill(node))


def _crmd_handlers(ctx: DaemonContext) -> dict[type, Any]:
    handlers: dict[type, Any] = {
        LrmdRequest: lambda effect: _lrmd_request(ctx, effect),
        ExecuteFencing: lambda effect: _execute_fencing(ctx, effect),
        RunScheduler: lambda effect: _run_scheduler(ctx, effect),
        SyncCib: lambda effect: _sync(ctx, effect),
        StopController: lambda effect: _stop(ctx, effect),
    }
    for write in (ModifyCib, DeleteCib, UpdateAttribute, ClearFailures):
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
