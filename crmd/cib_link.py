"""crmd's link to its node's cib daemon: writes in order, queries, and changes as events.

- `write(request)` queues a cib write; one task sends them one at a time, in the order the
  controller asked (a node_state merge must land before the scheduler reads the CIB), and
  merges a run of queued status modifications into one request (`merged_status`), as
  Pacemaker's controller batches its status updates. A write the cib refuses is logged and
  dropped (the controller's next transition repairs what it meant); a cib that does not
  answer (restarting, no master during a view change) is retried every `RETRY_S` for up to
  `RETRY_FOR_S`.
- `settled()` waits until every write queued before the call is done; `read_ahead()`
  reads the local copy with the writes not yet answered applied on top, without waiting:
  the scheduler's input then holds every effect the controller returned before
  `RunScheduler` (Pacemaker's DC reads a CIB its own updates reached at once).
- `set_attribute` and `clear_failures` are the one place transient attributes are written
  (attrd's job, until the attrd daemon has a client: only these methods change then).
- `follow(on_event)` turns each published `CibDiff` into controller events (`diff_events`).

Invariants: writes leave in queue order; the loop never blocks on the cib.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from cib.api import (
    API,
    DIFF_TOPIC,
    CibDiff,
    CibReply,
    Query,
    WireRequest,
    Write,
    ctl_address,
    pub_address,
    with_writes,
)
from crmd.cib_events import (
    attribute_write,
    diff_events,
    incremented,
    merged_status,
    write_of,
)
from crmd.messages import ClearFailures
from messaging.envelope import CIB_MAX_FRAME
from messaging.errors import HAError, PeerTimeout, PeerUnreachable, TransportError

RETRY_S = 0.2
RETRY_FOR_S = 30.0
REQUEST_TIMEOUT_S = 30.0
MERGE_AT_MOST = 64

_Job = tuple[int, WireRequest] | asyncio.Future[None]


class CibLink:
    """One node's cib daemon, as the controller uses it."""

    def __init__(self, state_dir: Path, log: Any) -> None:
        from messaging.client import AsyncClient

        self.state_dir = state_dir
        self.log = log
        self.client = AsyncClient(ctl_address(state_dir), API, timeout=REQUEST_TIMEOUT_S,
                                  max_frame=CIB_MAX_FRAME)
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.writes = 0
        self.requests = 0
        self._unacked: dict[int, WireRequest] = {}
        self._counting = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- writes ---------------------------------------------------------------------------

    def write(self, request: WireRequest) -> None:
        self.writes += 1
        self._unacked[self.writes] = request
        self._queue.put_nowait((self.writes, request))

    def unacknowledged(self) -> dict[int, WireRequest]:
        """The writes queued or in flight (not yet answered by the cib), by sequence."""
        return dict(self._unacked)

    async def read_ahead(self) -> str | None:
        """The CIB as this node's writes leave it: the local copy with every write not yet
        answered applied on top (`cib.api.with_writes`; re-applying one that the copy
        already holds changes nothing: merges and deletes are idempotent and attribute
        values are absolute once queued). No wait for replication, only for the counting
        up of attributes asked for earlier (they read the CIB before they write)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        before = self.unacknowledged()
        text = await self.query()
        if text is None:
            return None
        pending = {**before, **self.unacknowledged()}
        if not pending:
            return text
        return with_writes(text, [pending[seq] for seq in sorted(pending)])

    async def settled(self) -> None:
        """Return once every write queued before this call has been answered."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(done)
        await done

    async def writer(self) -> None:
        """The task that sends the queued writes (run by the daemon's host)."""
        while True:
            job = await self._queue.get()
            if isinstance(job, asyncio.Future):
                if not job.done():
                    job.set_result(None)
                continue
            batch = [job]
            while len(batch) < MERGE_AT_MOST and not self._queue.empty():
                following = self._queue._queue[0]  # type: ignore[attr-defined]
                if not isinstance(following, tuple) or merged_status(
                        [batch[0][1], following[1]]) is None:
                    break
                batch.append(self._queue.get_nowait())  # type: ignore[arg-type]
            requests = [request for _, request in batch]
            await self._send(merged_status(requests) or requests[0])
            for seq, _ in batch:
                self._unacked.pop(seq, None)

    async def _send(self, request: WireRequest) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + RETRY_FOR_S
        while True:
            try:
                self.requests += 1
                reply = await self.client.request(Write(request))
            except (PeerTimeout, PeerUnreachable, TransportError) as error:
                if loop.time() > give_up:
                    self.log.error("cib_write_lost", op=request.op, error=str(error))
                    return
                await asyncio.sleep(RETRY_S)  # a retry interval: the cib is restarting
                continue
            except HAError as error:
                self.log.warning("cib_write_refused", op=request.op, scope=request.scope,
                                 xpath=request.xpath, error=str(error))
                return
            if isinstance(reply, CibReply) and reply.exit_code != 0:
                self.log.warning("cib_write_refused", op=request.op, scope=request.scope,
                                 xpath=request.xpath, code=reply.exit_code,
                                 error=reply.message)
            return

    # -- attributes (attrd's part) --------------------------------------------------------

    def set_attribute(self, node_id: str, node: str, name: str, value: str) -> None:
        """Write a transient attribute; ``value++`` (``value+=N``) counts up from the value
        the CIB holds once every earlier write is done, one increment at a time."""
        if not (value.endswith("++") or "+=" in value):
            self.write(attribute_write(node_id, node, name, value))
            return
        task = asyncio.ensure_future(self._increment(node_id, node, name, value))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def clear_failures(self, node: str, resource: str) -> None:
        """Drop `resource`'s fail-count-* and last-failure-* attributes of `node`."""
        self.write(write_of(ClearFailures(node, resource)))

    async def _increment(self, node_id: str, node: str, name: str, value: str) -> None:
        async with self._counting:
            await self.settled()
            try:
                old = await self.attribute(node, name)
            except HAError as error:
                self.log.error("attribute_read_failed", node=node, name=name, error=str(error))
                return
            self.write(attribute_write(node_id, node, name, incremented(old, value)))
            await self.settled()

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

    async def follow(self, on_event: Callable[[Any], None], now: Callable[[], float]) -> None:
        """Feed every published change of this node's CIB to `on_event`, until cancelled."""
        from messaging.client import AsyncSubscriber

        subscriber = AsyncSubscriber(pub_address(self.state_dir), API, (DIFF_TOPIC,),
                                     max_frame=CIB_MAX_FRAME)
        try:
            while True:
                diff = await subscriber.recv()
                if isinstance(diff, CibDiff):
                    for event in diff_events(diff.patch, tuple(diff.version), now()):
                        on_event(event)
        finally:
            subscriber.close()

    def close(self) -> None:
        self.client.close()


__all__ = ["CibLink"]
