"""Handing the master's role to the DC's cib, pure, for cib.replication's ReplicaCore: the
DC claims the master collects, the handover it makes, a member's taking a `Handover`, the
forwards a former master refuses, and the latest handover told to a respawned cib.

Each cib learns the DC from its own crmd (`DcNamed`) and tells the master (`DcClaim`, and in
its `Announce`). Once the DC names itself and no member names another (`dc_of`), the
master stops being master and sends `Handover` (numbered within the view, with its version
and digest) to every member, as Pacemaker's master copy lives in the DC's cib. Heartbeat
delivers one sender's messages in order, so the new master gets the handover behind every
diff the old one sent: if its copy is not the one the handover names (it missed a diff), it
syncs the view as a new view's master does instead of taking the role with a stale copy.
Forwards reaching the former master are refused (`WriteResult.refused`): their origin sends
them to the new master.

Invariants: only the master hands over, never during a sync;
a member takes a `Handover` only with a higher sequence number than it saw in this view
(sequence numbers restart at every view).
"""

from __future__ import annotations

from cib.replication_messages import DcClaim, DcNamed, Handover, WriteResult
from cib.replication_state import dc_of
from messaging.effects import Log, Node, Send
from messaging.errors import ExitCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cib.replication import CibEffect, ReplicaCore


def on_set_dc(core: ReplicaCore, event: DcNamed) -> list[CibEffect]:
    """Our crmd named the DC: the master notes its own claim, a replica tells the master."""
    if event.dc == core.dc:  # crmd repeats itself (a restarted cib forgot)
        return []
    core.dc = event.dc
    if core.master == core.node:
        core.claims[core.node] = event.dc
        return maybe_hand_over(core, event.now)
    if core.master is not None:
        return [Send(Node(core.master), DcClaim(core.view, event.dc))]
    return []


def maybe_hand_over(core: ReplicaCore, now: float) -> list[CibEffect]:
    """On the master: hand over when the claims agree on another member as DC."""
    if core.master != core.node or core.sync is not None:
        return []
    dc = dc_of(core.claims, core.members)
    if dc is None or dc == core.node:
        return []
    return hand_over(core, dc, now)


def hand_over(core: ReplicaCore, target: str, now: float) -> list[CibEffect]:
    """Give the role away (the handover leaves behind every diff sent), then send what
    waited to the new master."""
    core.seq += 1
    core.master, core.claims = target, {}
    handover = Handover(core.view, core.seq, target, core.version, core.digest())
    effects: list[CibEffect] = [Log("cib_master", fields=(
        ("master", target), ("view", core.view), ("handovers", core.seq)))]
    effects += [Send(Node(member), handover)
                for member in sorted(core.members) if member != core.node]
    effects.append(Send(Node(target), core._announce(known=True)))
    return effects + core._retry_waiting(now)


def refuse_forward(core: ReplicaCore, origin: str, request_id: str) -> CibEffect:
    """Tell a forward's origin that this node is not the master: it resends to the new one."""
    return Send(Node(origin), WriteResult(core.view, request_id, int(ExitCode.DISCONNECT),
                                          "this node is no longer the master; the write "
                                          "was not applied", core.version, refused=True))


def on_handover(core: ReplicaCore, message: Handover, now: float) -> list[CibEffect]:
    """A member takes the view's next handover: follow the new master."""
    if message.seq <= core.seq:
        return []
    core.seq = message.seq
    queued = core.sync.queue if core.sync is not None else []  # we took the view's rule
    core.waiting += [(rid, request) for origin, rid, request in queued if origin == core.node]
    refused = [refuse_forward(core, o, rid) for o, rid, _ in queued if o != core.node]
    # the handing master's copy, when this one is it (a replica that is resyncing is not)
    same = not core.resyncing and (message.version, message.digest) == (
        core.version, core.digest())
    return [*refused, *core._take_master(message.master, now, True, same),
            *core._retry_waiting(now)]


def missed_handovers(core: ReplicaCore, sender: str) -> list[CibEffect]:
    """A respawned cib that follows the view's rule learns the view's latest handover."""
    if core.seq and core.master not in (None, core.node):
        return [Send(Node(sender), Handover(core.view, core.seq, core.master or ""))]
    return []
