"""crmd's link to its node's cib daemon: writes in order, queries, and changes as events.

- `write(request)` numbers a cib write and sends it through `crmd.write_pipeline`: up to
  `WINDOW` requests outstanding at once, leaving in the order the controller asked (a
  node_state merge must land before the scheduler reads the CIB), a run of queued status
  modifications merged into one request. A write refused because the view or the master
  changed first (outcome unknown, `resend_refused`) is sent again with every later one, in
  order, once all outstanding ones are answered (a resend never overtakes a later write);
  a cib that does not answer (restarting) likewise after `RETRY_S`; both for up to
  `RETRY_FOR_S`. Any other refusal is logged and dropped (it would fail again).
- `settled()` waits until every write queued before the call is done; `read_ahead()`
  gives the local copy, parsed and kept current from the published patchsets once read
  (`crmd.cib_copy`), with the writes not yet answered applied on top, without waiting:
  the scheduler's input then holds every effect the controller returned before
  `RunScheduler` (Pacemaker's DC reads a CIB its own updates reached at once).
- `set_attribute` and `clear_failures` are the one place transient attributes are written:
  into the CIB at once (so the next scheduler run sees a fail count, as `read_ahead`
  promises) and into attrd (`cib.api.AsyncAttrdClient`), which holds the node's transient
  attributes and whose writer must not write an older value back.
- `note_fencing(target, action, ok)` tells the cib a node was powered off or rebooted
  (`cib.api.PeerWasFenced`): its replica stops counting in the view.
- `follow(on_event, leading=...)` turns each published `CibDiff` into controller events
  (`diff_events`). While `leading()` is false (this node is not DC) a diff that cannot touch
  the configuration is only its version (`CibChanged` without flags), unparsed: a non-DC
  controller acts on no other part of it, as Pacemaker's controller registers its diff
  handler (`te_update_diff`) only while it is DC and that handler returns at once on a node
  whose graph is complete outside the DC states. The kept copy is dropped then (it would
  miss the patch; `read_ahead` queries again once this node leads).
- `name_dc(dc)` tells the cib which node is DC (`cib.api.SetDc`; the DC's cib then takes
  the master copy) and attrd (`AttrdSetDc`: its writer is the DC's node): the `dc_teller`
  task sends it at each change and again every `DC_REFRESH_S`, so a restarted cib or
  attrd learns it too (both ignore repeats).

Invariants: writes leave in sequence order, and are applied last in that order (resends
included); the loop never blocks on the cib.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lxml import etree

from cib.api import (
    API,
    DIFF_TOPIC,
    FENCED_BY,
    AsyncAttrdClient,
    CibDiff,
    CibReply,
    PeerWasFenced,
    Query,
    SetDc,
    WireRequest,
    Write,
    ctl_address,
    pub_address,
)
from crmd.cib_copy import FollowedCopy
from crmd.cib_events import (
    attribute_write,
    diff_events,
    failure_names,
    incremented,
    resend_refused,
    version_change,
    write_of,
)
from crmd.messages import ClearFailures
from crmd.write_pipeline import RETRY_FOR_S, WINDOW, Outcome, WritePipeline
from crmd.write_pipeline import Send as PipelinedSend
from messaging.envelope import CIB_MAX_FRAME
from messaging.errors import HAError, PeerTimeout, PeerUnreachable, TransportError

RETRY_S = 0.2
REQUEST_TIMEOUT_S = 30.0
ATTRD_TIMEOUT_S = 2.0  # a missing attrd must not hold fail counts back for long
DC_REFRESH_S = 5.0


class CibLink:
    """One node's cib daemon, as the controller uses it."""

    def __init__(self, state_dir: Path, log: Any) -> None:
        from messaging.client import AsyncClient

        self.state_dir = state_dir
        self.log = log
        self.client = AsyncClient(ctl_address(state_dir), API, timeout=REQUEST_TIMEOUT_S,
                                  max_frame=CIB_MAX_FRAME)
        self.pipeline = WritePipeline(WINDOW, RETRY_FOR_S)
        self.requests = 0
        self._counting = asyncio.Lock()
        self._attrd_order = asyncio.Lock()
        self.attrd = AsyncAttrdClient(state_dir, timeout=ATTRD_TIMEOUT_S)
        self._tasks: set[asyncio.Task[None]] = set()
        self._increments: set[asyncio.Task[None]] = set()  # read_ahead waits for these only
        self._dc: str | None = None
        self._dc_changed = asyncio.Event()
        self.copy = FollowedCopy()  # the DC's parsed CIB, once read_ahead made one

    # -- writes ---------------------------------------------------------------------------

    def write(self, request: WireRequest) -> None:
        self.pipeline.write(request)
        self._pump()

    def unacknowledged(self) -> dict[int, WireRequest]:
        """The writes queued or in flight (not yet answered by the cib), by sequence."""
        return dict(self.pipeline.writes)

    async def read_ahead(self) -> etree._Element | None:
        """The CIB as this node's writes leave it: the local copy with every write not yet
        answered applied on top (`cib.api.with_writes_tree`; re-applying one that the copy
        already holds changes nothing: merges and deletes are idempotent and attribute
        values are absolute once queued). The copy is the one kept from the cib's published
        patchsets (`crmd.cib_copy`; queried only when there is none yet or a patch did not
        fit), so a run waits neither for the cib daemon's queue nor for a parse. No wait
        for replication, only for the counting up of attributes asked for earlier (they
        read the CIB before they write); never for attrd, which holds a copy of what the
        CIB already got (a slow or starting attrd held the DC's scheduler runs up to
        `ATTRD_TIMEOUT_S` each)."""
        if self._increments:
            await asyncio.gather(*list(self._increments), return_exceptions=True)
        before = self.unacknowledged()
        base = self.copy.tree
        if base is None:
            text = await self.query()
            if text is None:
                return None
            base = self.copy.adopt(text)
        pending = {**before, **self.unacknowledged()}
        return self.copy.with_writes(base, [pending[seq] for seq in sorted(pending)])

    async def settled(self) -> None:
        """Return once every write queued before this call has been answered."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._release(self.pipeline.barrier(done))
        await done

    def _release(self, tokens: tuple[object, ...]) -> None:
        for token in tokens:
            if isinstance(token, asyncio.Future) and not token.done():
                token.set_result(None)

    def _pump(self) -> None:
        """Send what the pipeline lets go now. The requests leave in this order: each
        task is started in creation order and the cib socket (a zmq DEALER) queues what
        it cannot send at once in order, so the cib receives them in sequence."""
        loop = asyncio.get_running_loop()
        for send in self.pipeline.sendable(loop.time()):
            self.requests += 1
            self._spawn(self._send(send))

    async def _send(self, send: PipelinedSend) -> None:
        outcome = await self._outcome(send.request)
        loop = asyncio.get_running_loop()
        finished = self.pipeline.answered(send.send_id, outcome, loop.time())
        for _, request in finished.lost:
            self.log.error("cib_write_lost", op=request.op, scope=request.scope,
                           xpath=request.xpath)
        self._release(finished.released)
        if finished.rewind_after_delay:
            await asyncio.sleep(RETRY_S)  # a retry interval: the cib is restarting
            self.pipeline.resume()
        self._pump()

    async def _outcome(self, request: WireRequest) -> Outcome:
        try:
            reply = await self.client.request(Write(request, "crmd"))
        except (PeerTimeout, PeerUnreachable, TransportError) as error:
            self.log.info("cib_write_unanswered", op=request.op, error=str(error))
            return Outcome.UNANSWERED
        except HAError as error:
            self.log.warning("cib_write_refused", op=request.op, scope=request.scope,
                             xpath=request.xpath, error=str(error))
            return Outcome.DROPPED
        if isinstance(reply, CibReply) and resend_refused(reply.exit_code):
            self.log.info("cib_write_resent", op=request.op, error=reply.message)
            return Outcome.RESEND  # sent again, with every later one, in order
        if isinstance(reply, CibReply) and reply.exit_code != 0:
            self.log.warning("cib_write_refused", op=request.op, scope=request.scope,
                             xpath=request.xpath, code=reply.exit_code, error=reply.message)
            return Outcome.DROPPED
        return Outcome.DONE

    # -- the DC -----------------------------------------------------------------------------

    def name_dc(self, dc: str | None) -> None:
        """The DC changed (None: no DC known); `dc_teller` tells the cib."""
        self._dc = dc
        self._dc_changed.set()

    async def dc_teller(self) -> None:
        """The task that tells the cib the DC: at each change, and every `DC_REFRESH_S`."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dc_changed.wait(), DC_REFRESH_S)
            self._dc_changed.clear()
            try:
                await self.client.request(SetDc(self._dc))
                await self.attrd.set_dc(self._dc)  # attrd's writer follows the DC too
            except HAError as error:
                self.log.warning("cib_dc_untold", dc=self._dc, error=str(error))
                self._dc_changed.set()
                await asyncio.sleep(RETRY_S)  # a retry interval: the cib is restarting

    # -- attributes (written at once, held by attrd) --------------------------------------

    def note_fencing(self, target: str, action: str, ok: bool) -> None:
        """stonithd's result: a node powered off or rebooted is told to the cib, whose master
        stops waiting for that node's replica (Pacemaker's cib never waits for a fenced
        peer; with a reboot faster than deadtime the view would change only later)."""
        if ok and action in FENCED_BY:
            self._spawn(self._tell_fenced(target))

    async def _tell_fenced(self, target: str) -> None:
        try:
            await self.client.request(PeerWasFenced(target))
        except HAError as error:  # the cib restarts: it takes the next view's rule
            self.log.warning("cib_fencing_untold", node=target, error=str(error))

    def set_attribute(self, node_id: str, node: str, name: str, value: str) -> None:
        """Write a transient attribute; ``value++`` (``value+=N``) counts up from the value
        the CIB holds once every earlier write is done, one increment at a time. The
        absolute value also goes to attrd, which holds the node's transient attributes
        (its writer would otherwise write back its own idea of them)."""
        if not (value.endswith("++") or "+=" in value):
            self.write(attribute_write(node_id, node, name, value))
            self._spawn(self._tell_attrd(node, {name: value}))
            return
        self._increments.add(self._spawn(self._increment(node_id, node, name, value)))

    def clear_failures(self, node: str, resource: str) -> None:
        """Drop `resource`'s fail-count-* and last-failure-* attributes of `node`, in the CIB
        (in write order) and in attrd. The names come from a query sent before the delete:
        both go through the one cib socket, whose requests the cib answers in order."""
        request = write_of(ClearFailures(node, resource))
        names = asyncio.ensure_future(self.query(xpath=request.xpath))
        self.write(request)
        self._spawn(self._forget(node, names))

    async def _forget(self, node: str, names: asyncio.Future[str | None]) -> None:
        try:
            text = await names
        except HAError as error:
            self.log.warning("failure_names_unread", node=node, error=str(error))
            return
        await self._tell_attrd(node, dict.fromkeys(failure_names(text or "")))

    async def _increment(self, node_id: str, node: str, name: str, value: str) -> None:
        async with self._counting:
            await self.settled()
            try:
                old = await self.attribute(node, name)
            except HAError as error:
                self.log.error("attribute_read_failed", node=node, name=name, error=str(error))
                return
            absolute = incremented(old, value)
            self.write(attribute_write(node_id, node, name, absolute))
            self._spawn(self._tell_attrd(node, {name: absolute}))  # in call order (its lock)
            await self.settled()

    async def _tell_attrd(self, node: str, values: dict[str, str | None]) -> None:
        """Set (or, for None, delete) attributes of `node` in attrd, in call order. An attrd
        that does not answer is logged: the CIB already holds the change."""
        async with self._attrd_order:
            for name, value in values.items():
                try:
                    await self.attrd.update(name, value, node=node)
                except HAError as error:
                    self.log.warning("attrd_update_failed", node=node, name=name,
                                     error=str(error))
                    return

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._increments.discard)
        return task

    async def attribute(self, node: str, name: str) -> str | None:
        text = await self.query(xpath=f"/cib/status/node_state[@uname='{node}']"
                                f"/transient_attributes//nvpair[@name='{name}']")
        if text is None:
            return None
        element = etree.fromstring(text.encode())
        pair = element if element.tag == "nvpair" else element.find(".//nvpair")
        return None if pair is None else pair.get("value")

    # -- reads ----------------------------------------------------------------------------

    async def query(self, scope: str | None = None, xpath: str | None = None) -> str | None:
        """The selected part of this node's CIB copy as text (None when nothing matched).

        Raises:
            HAError: the cib did not answer (PeerTimeout, PeerUnreachable).
        """
        reply = await self.client.request(Query(scope, xpath))
        if not isinstance(reply, CibReply) or reply.exit_code != 0:
            return None
        return reply.output

    async def follow(self, on_event: Callable[[Any], None], now: Callable[[], float],
                     wall: Callable[[], float],
                     leading: Callable[[], bool] = lambda: True) -> None:
        """Feed every published change of this node's CIB to `on_event`, until cancelled
        (each event stamped with the monotonic `now()` and epoch `wall()` of its arrival);
        while `leading()` is false, only versions and configuration changes (see the module
        docstring)."""
        from messaging.client import AsyncSubscriber

        subscriber = AsyncSubscriber(pub_address(self.state_dir), API, (DIFF_TOPIC,),
                                     max_frame=CIB_MAX_FRAME)
        try:
            while True:
                diff = await subscriber.recv()
                if isinstance(diff, CibDiff):
                    self._on_diff(diff, on_event, now(), wall(), leading())
        finally:
            subscriber.close()

    def _on_diff(self, diff: CibDiff, on_event: Callable[[Any], None], now: float,
                 wall: float, leading: bool = True) -> None:
        """One published change into the DC's copy and the controller's events, the patch
        parsed once for both (neither changes it); a follower's status change is only its
        version (a configuration change is named by its path or element, so a patch
        without the word is a status change)."""
        from cib.api import parse

        if not leading and "configuration" not in diff.patch:
            self.copy.skip(tuple(diff.version))
            on_event(version_change(tuple(diff.version), now, wall))
            return
        try:
            patch: str | etree._Element = parse(diff.patch)
        except HAError:
            patch = diff.patch  # on_patch drops the copy for it, diff_events yields nothing
        dropped = self.copy.dropped
        self.copy.on_patch(patch, tuple(diff.version))
        if self.copy.dropped > dropped:
            self.log.info("cib_copy_dropped", reason=self.copy.why_dropped)
        for event in diff_events(patch, tuple(diff.version), now, wall):
            on_event(event)

    def close(self) -> None:
        self.client.close()
        self.attrd.close()


__all__ = ["CibLink"]
