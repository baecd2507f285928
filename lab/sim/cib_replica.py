"""The cib daemon in the whole-cluster simulator: `cib.replication.ReplicaCore` on every
node, glued as cib/service.py glues it, and crmd's link to it as crmd's daemon uses it.

The cib (`CIB`, one `ReplicaCore` per node):
- ccm's `MembershipChanged` -> `ViewChanged` with node ids by name rank
  (`cib.service.view_members`); at boot, ccm's current view when there is one;
- peers: heartbeat channel "cib", `cib.api.peer_frame` both ways;
- `PersistCib` -> the node's memory (its disk: survives a restart, so a rebooted node
  starts from its last persisted copy and replication brings it up to date), then the
  change since the previously persisted copy is published on "cib" as the controller
  events crmd's daemon derives from each published diff (`crmd.cib_events.diff_events`);
- `Acknowledge` -> the waiting client's callback, `ipc_delay` later;
- crmd's `DcChanged` (topic "election", published on the same node) -> `DcNamed`, as
  crmd's daemon sends `cib.api.SetDc` (the DC's cib then takes the master copy);
- stonithd's results (topic "fence") of a node powered off or rebooted -> `PeerFenced`, as
  crmd's daemon relays each to its cib (`cib.api.PeerWasFenced`).

crmd's side (`CibWrites`, one per crmd boot, as `crmd.cib_link.CibLink` does it): the
same `crmd.write_pipeline.WritePipeline` (several requests outstanding, leaving in the
order the controller asked, a run of queued status modifications merged into one; a write
refused with 102, view or master changed, outcome unknown, is sent again with every later
one, in order; any other refusal dropped, `crmd.cib_events.resend_refused`);
`after_writes(callback)` runs once every earlier write is answered (the scheduler's input,
`SyncCib`, shutdown); ``value++`` reads the local copy once earlier writes are done and
writes the result as a new write, as the daemon does.

Invariants: every CIB change reaches crmd only through a persisted copy's diff (never a
shortcut), so replication latency, resyncs and view-change losses are part of every
crmd scenario.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ccm.api import MEMBERSHIP_TOPIC, MembershipChanged
from cib.api import (
    FENCED_BY,
    Acknowledge,
    ClientWrite,
    DcNamed,
    PeerFenced,
    PeerMessage,
    PersistCib,
    ReplicaCore,
    ViewChanged,
    WireRequest,
    element_text,
    open_peer_frame,
    parse,
    peer_frame,
    schema_validator,
    view_members,
)
from crmd.api import ELECTION_TOPIC, DcChanged
from crmd.write_pipeline import RETRY_FOR_S, WINDOW, Outcome, WritePipeline
from messaging.effects import Client, Publish, Send
from messaging.errors import InternalError, RemoteProtocolError
from messaging.heartbeat.api import MessageReceived
from stonithd import api as fencing

from .world import DaemonContext, DaemonSpec

CIB_CHANNEL = "cib"
CIB_TOPIC = "cib"
DISK = "cib"  # memory key: (cib text, term) as last persisted
Done = Callable[[int], None]


def _clients(ctx: DaemonContext) -> dict[str, Done]:
    clients: dict[str, Done] = ctx.sim.config.extra.setdefault("cib-clients", {})
    return clients


def _build(ctx: DaemonContext) -> ReplicaCore:
    from cib.api import as_started

    from .controller import settings_of

    # as the daemon starts (cib.service): from its disk copy without the status, `fresh`
    text, term = ctx.memory.get(DISK, (settings_of(ctx).cib.decode(), 0))
    ctx.state["persisted"] = as_started(parse(text))
    return ReplicaCore(ctx.node, as_started(parse(text)), schema_validator, term, fresh=True)


def _boot(ctx: DaemonContext) -> None:
    ccm = ctx.sim.nodes[ctx.node].daemons.get("ccm")
    if ccm is not None and ccm.core.view.view_id > 0:  # a restart inside a view
        snapshot = ccm.core.snapshot()
        ctx.after(0.0, lambda now: ViewChanged(now, snapshot.view_id,
                                               view_members(snapshot.members)))


def _view(ctx: DaemonContext, event: MembershipChanged) -> list[Any]:
    core = ctx.core
    if event.view_id == core.view:
        return []
    return [ViewChanged(ctx.now, event.view_id, view_members(event.members))]


def _peer(ctx: DaemonContext, event: MessageReceived) -> list[Any]:
    if event.channel != CIB_CHANNEL or event.src == ctx.node:
        return []
    try:
        message = open_peer_frame(event.payload)
    except RemoteProtocolError:
        return []
    return [PeerMessage(ctx.now, event.src, message, ctx.wall)]


def _dc(ctx: DaemonContext, event: Any) -> list[Any]:
    """crmd published a DC change: the cib learns it as the daemon does from `SetDc`."""
    return [DcNamed(ctx.now, event.dc)] if isinstance(event, DcChanged) else []


def _fenced(ctx: DaemonContext, event: Any) -> list[Any]:
    """stonithd's result (its own or a peer's broadcast): a node powered off or rebooted
    -> `PeerFenced`, as cib.service subscribes to its node's stonithd."""
    if isinstance(event, fencing.FenceResult) and event.ok and event.action in FENCED_BY:
        return [PeerFenced(ctx.now, event.target)]
    return []


def _send(ctx: DaemonContext, effect: Send) -> None:
    from .daemons import send_to_peers

    if isinstance(effect.destination, Client):
        raise InternalError(f"the cib core sent {effect!r} to a client")
    send_to_peers(ctx, effect.destination, CIB_CHANNEL, peer_frame(effect.message))


def _persist(ctx: DaemonContext, effect: PersistCib) -> None:
    """Write the copy to the node's memory (printed now: a replica's tree changes in place
    afterwards) and publish its patches, as the daemon does (`published_patches`: the
    patchset from the copy last published after a whole-CIB resync)."""
    from cib.api import published_patches
    from crmd.cib_events import diff_events

    ctx.memory[DISK] = (element_text(effect.cib, pretty=False), effect.term)
    patches = published_patches(effect, ctx.state["persisted"])
    ctx.state["persisted"] = effect.cib
    for patch in patches:
        for event in diff_events(patch, effect.version, ctx.now, ctx.wall):
            ctx.sim.publish(ctx, Publish(CIB_TOPIC, event))


def _acknowledge(ctx: DaemonContext, effect: Acknowledge) -> None:
    done = _clients(ctx).pop(f"{ctx.node}:{effect.request_id}", None)
    if done is not None:
        code = effect.exit_code
        ctx.sim.scheduler.call_at(ctx.now + ctx.sim.ipc_delay, lambda: done(code))


CIB = DaemonSpec(
    "cib", _build, boot=_boot, send=_send,
    handlers=lambda ctx: {PersistCib: lambda e: _persist(ctx, e),
                          Acknowledge: lambda e: _acknowledge(ctx, e)},
    subscriptions={MEMBERSHIP_TOPIC: _view, f"message/{CIB_CHANNEL}": _peer,
                   ELECTION_TOPIC: _dc, fencing.FENCE_TOPIC: _fenced})


def cib_text(ctx_or_sim: Any, node: str) -> bytes:
    """`node`'s CIB copy as text (the replica's current copy)."""
    sim = getattr(ctx_or_sim, "sim", ctx_or_sim)
    core = sim.core(node, "cib")
    assert isinstance(core, ReplicaCore)
    text: str = element_text(core.cib, pretty=False)
    return text.encode()


# ------------------------------------------------------------------------- crmd's link

class CibWrites:
    """crmd's pipelined writes to its node's cib (one per crmd boot)."""

    def __init__(self, ctx: DaemonContext, window: int = WINDOW) -> None:
        self.ctx = ctx
        self.pipeline = WritePipeline(window, RETRY_FOR_S)
        self.refused: list[tuple[float, str, int]] = []
        boots = ctx.sim.config.extra.setdefault("crmd-boots", itertools.count(1))
        self.prefix = f"crmd-{next(boots)}"  # unique per boot, and the same for a seed
        self.ids = itertools.count(1)

    def alive(self) -> bool:
        node = self.ctx.sim.nodes[self.ctx.node]
        return node.alive and node.daemons.get("crmd") is self.ctx

    def write(self, request: WireRequest) -> None:
        self.pipeline.write(request)
        self._pump()

    def after_writes(self, callback: Callable[[], None]) -> None:
        for ready in self.pipeline.barrier(callback):
            ready()  # type: ignore[operator]

    def _pump(self) -> None:
        if not self.alive():
            return
        for send in self.pipeline.sendable(self.ctx.now):
            self._send(send.send_id, send.request)

    def _send(self, send_id: int, request: WireRequest) -> None:
        request_id = f"{self.prefix}-{next(self.ids)}"
        _clients(self.ctx)[f"{self.ctx.node}:{request_id}"] = lambda code: self._done(
            send_id, request, code)
        self.ctx.request("cib", lambda now: ClientWrite(now, request_id, request,
                                                                   self.ctx.wall))

    def _done(self, send_id: int, request: WireRequest, code: int) -> None:
        from crmd.cib_events import resend_refused

        if not self.alive():
            return
        if code != 0:
            self.refused.append((self.ctx.now, request.op, code))
        outcome = Outcome.RESEND if resend_refused(code) else (
            Outcome.DROPPED if code != 0 else Outcome.DONE)
        finished = self.pipeline.answered(send_id, outcome, self.ctx.now)
        for ready in finished.released:
            ready()  # type: ignore[operator]
        self._pump()


__all__ = ["CIB", "CIB_TOPIC", "CibWrites", "cib_text"]
