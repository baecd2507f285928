"""Reading a plain zmq socket from asyncio through its file descriptor.

pyzmq's zmq.asyncio builds a future, a poller registration and several flag-enum conversions
for every message it receives; at a 16-node boot that was ~8-10% of each daemon's CPU. A
receive-only socket needs none of it: libzmq exposes a descriptor (ZMQ_FD) that becomes
readable when the socket's state may have changed, and ZMQ_EVENTS says whether a message is
waiting. The descriptor is edge-like (reading ZMQ_EVENTS or a message clears it), so a reader
drains with NOBLOCK until EAGAIN before it waits, and the wake-up callback re-checks EVENTS.

A send processes the socket's pending commands and can clear the descriptor while a message
is queued, which would strand the waiter: a socket this process also sends on calls `sent()`
after each send.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at start-up
if TYPE_CHECKING:
    import asyncio
    from typing import Any

    import zmq


class FdReader:
    """Awaitable multipart reads from a receive-only plain zmq socket (see module docstring)."""

    def __init__(self, socket: zmq.Socket[Any]) -> None:
        import zmq

        self.socket = socket
        self._again = zmq.Again
        self._noblock = int(zmq.NOBLOCK)
        self._events = int(zmq.EVENTS)
        self._pollin = int(zmq.POLLIN)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[bool] | None = None

    def _watch(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            import asyncio

            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self.socket.FD, self._on_readable)
        return self._loop

    def _on_readable(self) -> None:
        # Reading EVENTS clears the descriptor, so an idle socket does not wake the loop again.
        if int(self.socket.getsockopt(self._events)) & self._pollin:
            self._wake(True)

    def sent(self) -> None:
        """The process sent on the socket: wake a waiting reader if a message is queued."""
        if self._waiter is not None:
            self._on_readable()

    def _wake(self, readable: bool) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(readable)

    async def recv_multipart(self, timeout: float | None = None, copy: bool = True
                             ) -> list[Any] | None:
        """The next message's frames (bytes, or zmq.Frame when not `copy`); None when
        `timeout` seconds pass without one."""
        loop = self._watch()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            try:
                frames: list[Any] = self.socket.recv_multipart(self._noblock, copy=copy)
                return frames
            except self._again:
                pass
            # The failed read processed the socket's pending commands, so a message arriving
            # after it signals the descriptor again.
            if not await self._wait(loop, deadline):
                return None

    async def _wait(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> bool:
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = None if deadline is None else loop.call_at(deadline, self._wake, False)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.socket.FD)
        self._loop = None
        self.socket.close(linger=0)
