"""One daemon's conversation with its peers on other nodes, over the local heartbeat.

Every cluster daemon above heartbeat (cib, attrd, stonithd, crmd) talks to its twins on the
other nodes the same way, so the plumbing lives here once:

* `PeerChannel.send(destination, payload)` queues a frame for `Node(name)` or `ALL_NODES`;
  one task hands the frames to heartbeat in order (heartbeat then delivers them reliably,
  in order, exactly once per sender generation), so a slow control socket never blocks the
  daemon's loop. Each is a notice (`post_message`): heartbeat answers nothing, since its
  `Ack` said only "queued" and cost both daemons an encode, a decode and a wake-up per
  frame; a refused frame (unknown node, too large) is logged by heartbeat. The frames share
  one socket, which zmq and heartbeat's server keep in order. A full queue refuses the
  frame (`send` returns False) instead of growing without bound; the daemon's core recovers
  through its own timers and resyncs.
* `after_handed(action)` runs `action` once heartbeat has taken every frame `send` accepted
  so far (the cib's acknowledgement of a write whose diff is among them: a frame still in
  this queue, or in the socket to heartbeat, dies with the node's processes, while one
  heartbeat took is in the kernel). The frame it waits for leaves as a request instead of
  a notice, and heartbeat's `Ack` (given once it sent the datagrams) releases it and every
  action waiting for an earlier frame; the frames after it leave meanwhile (several
  requests in flight: no round trip between frames). A frame already posted as a notice
  is confirmed by a `barrier` (a Ping behind it). A frame that could not be posted, or
  that heartbeat refused or did not answer for within `HANDED_TIMEOUT`, releases nothing:
  every action waiting then is dropped and logged (their clients time out: outcome
  unknown), as `cib.disk` drops them after a failed write.
* the receiving task subscribes to heartbeat's ``message/<channel>`` topic only, drops our
  own broadcasts coming back, opens each payload with the daemon's `open_frame` and hands
  `(sender, message)` to `on_message`. A frame that does not open is logged and dropped:
  one bad peer never stops the channel.
* a daemon whose frames can be large (the cib's whole-CIB resyncs) passes `prepare`, which
  may replace a frame by a small one just before it leaves (an offer of the
  `messaging.bulk` path), and `open_async`, which opens each received frame and may await
  (fetch the offered frame): `SenderOrder` opens each frame in a task of its own and hands
  the messages of one sender over in that sender's order, so a slow or dead sender's
  fetch (up to the bulk timeout) holds back only that sender's later messages, never
  another peer's.
* `follow_membership(state_dir, on_view)` feeds ccm's views: the current one by query (ccm
  publishes a view only when it changes, so a daemon starting late would otherwise wait),
  then every published `MembershipChanged`.

Invariants: frames leave in the order `send` accepted them; an `after_handed` action runs
only after heartbeat answered for its frame or a later one, in the order passed;
`on_message` never sees a frame from this node or from another channel; it sees each
sender's messages in the order heartbeat delivered them (messages of different senders may
overtake one another only while one is being fetched).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from messaging.effects import AllNodes, Node
from messaging.errors import HAError
from messaging.heartbeat.api import AsyncHeartbeatClient, MessageReceived, message_topic
from messaging.membership import AsyncCcmClient, MembershipChanged

SEND_QUEUE = 10000
HANDED_TIMEOUT = 30.0  # heartbeat's answer to a frame an action waits for (a loaded host)
CCM_POLL_S = 0.2  # ccm not answering yet: ask again (a retry interval, not a readiness wait)

__all__ = ["SEND_QUEUE", "PeerChannel", "SenderOrder", "follow_membership"]


class SenderOrder:
    """Open frames concurrently, deliver each sender's messages in its own order."""

    def __init__(self, open_async: Callable[[bytes], Awaitable[Any]],
                 deliver: Callable[[str, Any], None],
                 on_error: Callable[[str, HAError], None]) -> None:
        self.open_async, self.deliver, self.on_error = open_async, deliver, on_error
        self._tails: dict[str, asyncio.Task[None]] = {}

    def received(self, sender: str, payload: bytes) -> None:
        """Open `payload` now; deliver it after the sender's earlier messages."""
        task = asyncio.get_running_loop().create_task(
            self._open_then_deliver(sender, payload, self._tails.get(sender)))
        self._tails[sender] = task
        task.add_done_callback(lambda done: self._forget(sender, done))

    async def _open_then_deliver(self, sender: str, payload: bytes,
                                 previous: asyncio.Task[None] | None) -> None:
        try:
            message, error = await self.open_async(payload), None
        except HAError as failure:
            message, error = None, failure
        if previous is not None and not previous.done():
            await asyncio.wait((previous,))  # the sender's earlier message goes first
        if error is not None:
            self.on_error(sender, error)
        else:
            self.deliver(sender, message)

    def _forget(self, sender: str, done: asyncio.Task[None]) -> None:
        if self._tails.get(sender) is done:
            del self._tails[sender]
        if not done.cancelled() and done.exception() is not None:
            raise done.exception()  # type: ignore[misc]  # a bug: the loop's handler logs it

    def cancel(self) -> None:
        for task in list(self._tails.values()):
            task.cancel()


class PeerChannel:
    """Ordered sends and filtered receipt of one heartbeat channel."""

    def __init__(self, state_dir: Path, node: str, channel: str, *,
                 open_frame: Callable[[bytes], Any],
                 on_message: Callable[[str, Any], None], log: Any,
                 queue_size: int = SEND_QUEUE,
                 prepare: Callable[[bytes], bytes] | None = None,
                 open_async: Callable[[bytes], Awaitable[Any]] | None = None) -> None:
        self.state_dir, self.node, self.channel = Path(state_dir), node, channel
        self.open_frame, self.on_message, self.log = open_frame, on_message, log
        self.prepare, self.open_async = prepare, open_async
        self._client = AsyncHeartbeatClient(self.state_dir)
        self._queue: asyncio.Queue[tuple[Node | AllNodes, bytes]] = asyncio.Queue(queue_size)
        # frames numbered from 1 in `send` order: the last accepted, taken by `sender`,
        # asked about (request or barrier) and answered for by heartbeat
        self._accepted = self._taken = self._asked = self._handed = 0
        self._waiting: deque[tuple[int, Callable[[], object]]] = deque()
        self._answers: set[asyncio.Task[None]] = set()

    def send(self, destination: Node | AllNodes, payload: bytes) -> bool:
        """Queue one frame; False when the queue is full (the frame is dropped)."""
        try:
            self._queue.put_nowait((destination, payload))
        except asyncio.QueueFull:
            self.log.warning("peer_queue_full", channel=self.channel, peer=str(destination))
            return False
        self._accepted += 1
        return True

    def after_handed(self, action: Callable[[], object]) -> None:
        """Run `action` once heartbeat took every frame accepted so far (now if it has)."""
        frame = self._accepted
        if frame <= self._handed:
            action()
            return
        self._waiting.append((frame, action))
        if frame <= self._taken and self._asked < frame:  # posted as a notice already
            try:
                self._await_answer(frame, self._client.barrier(HANDED_TIMEOUT))
            except HAError as error:
                self.log.warning("heartbeat_send_failed", channel=self.channel,
                                 peer="barrier", error=str(error))
                self._drop_waiting()

    def attach(self, host: Any) -> None:
        """Run the sender and receiver on `host` (a `messaging.daemon.DaemonHost`), and
        close the heartbeat client when it stops."""
        host.task(self.sender)
        host.task(self.receiver)
        host.closing(self)

    async def sender(self) -> None:
        while True:
            destination, payload = await self._queue.get()
            self._taken += 1
            try:
                if self.prepare is not None:
                    payload = self.prepare(payload)
                if self._waiting and self._waiting[-1][0] == self._taken:
                    # an action waits for it: heartbeat answers, the next frames go on
                    self._await_answer(self._taken, self._client.hand_message(
                        destination, self.channel, payload, HANDED_TIMEOUT))
                else:
                    await self._client.post_message(destination, self.channel, payload)
            except HAError as error:
                self.log.warning("heartbeat_send_failed", channel=self.channel,
                                 peer=str(destination), error=str(error))
                self._drop_waiting()

    def _await_answer(self, frame: int, answer: Awaitable[object]) -> None:
        self._asked = frame
        task = asyncio.get_running_loop().create_task(self._answered(frame, answer))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answered(self, frame: int, answer: Awaitable[object]) -> None:
        """Heartbeat answered for `frame`, and so (in order) for every earlier one: run
        the actions waiting for them. A refusal, or no answer, drops every action waiting
        now (each may depend on that frame)."""
        try:
            await answer
        except HAError as error:
            self.log.warning("heartbeat_send_unconfirmed", channel=self.channel,
                             error=str(error))
            self._drop_waiting()
            return
        self._handed = max(self._handed, frame)
        while self._waiting and self._waiting[0][0] <= frame:
            self._waiting.popleft()[1]()

    def _drop_waiting(self) -> None:
        if self._waiting:
            self.log.warning("peer_actions_dropped", channel=self.channel,
                             count=len(self._waiting))
        self._waiting.clear()
        self._asked = self._handed  # the next action asks again

    async def receiver(self) -> None:
        subscriber = AsyncHeartbeatClient(self.state_dir).subscribe(
            (message_topic(self.channel),))
        ordered = (SenderOrder(self.open_async, self.on_message, self._bad_message)
                   if self.open_async is not None else None)
        try:
            while True:
                event = await subscriber.recv()
                if not isinstance(event, MessageReceived) or event.channel != self.channel \
                        or event.src == self.node:
                    continue
                if ordered is not None:
                    ordered.received(event.src, event.payload)
                    continue
                try:
                    message = self.open_frame(event.payload)
                except HAError as error:
                    self._bad_message(event.src, error)
                    continue
                self.on_message(event.src, message)
        finally:
            if ordered is not None:
                ordered.cancel()
            subscriber.close()

    def _bad_message(self, sender: str, error: HAError) -> None:
        self.log.warning("bad_peer_message", channel=self.channel, peer=sender,
                         error=str(error))

    def close(self) -> None:
        for task in list(self._answers):
            task.cancel()
        self._client.close()


async def follow_membership(state_dir: Path,
                            on_view: Callable[[int, tuple[str, ...]], None]) -> None:
    """Call `on_view(view_id, members)` with ccm's current view, then with every change.

    Runs until cancelled. Views may repeat (the query and the first published event can
    carry the same view): callers ignore a view id they already have.
    """
    ccm = AsyncCcmClient(state_dir)
    subscriber = ccm.subscribe()
    try:
        while True:
            try:
                status = await ccm.query()
            except HAError:
                status = None
            if status is not None and status.view_id:
                on_view(status.view_id, tuple(status.members))
                break
            await asyncio.sleep(CCM_POLL_S)
        while True:
            event = await subscriber.recv()
            if isinstance(event, MembershipChanged):
                on_view(event.view_id, tuple(event.members))
    finally:
        subscriber.close()
        ccm.close()
