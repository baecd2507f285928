"""The one core runner: feed events to a pure core and carry out the effects it returns.

Every daemon (and the whole-cluster simulator) drives its core the same way::

    runner = Runner(core, scheduler, send=..., publish=..., handlers={RunAgent: run})
    runner.feed(SomeEvent(..., now=runner.monotonic()))

`Runner.feed` calls `core.handle(event)` and dispatches each returned effect through one
table: `ArmTimer`/`CancelTimer` are handled by the runner itself (one timer per key, keyed
per runner, fired back as `TimerFired(key, now)`), `Log` goes to the bound logger, and
`Send`, `Publish`, `Persist` and any daemon-specific effect type go to the handler the
daemon declared for that type. An effect nobody handles is a bug (`InternalError`).

Time lives behind `Scheduler`: `AsyncioScheduler` for daemons (loop.call_at, the loop's
monotonic clock, time.time for wall time) and `FakeScheduler` for tests and the simulator
(a fake clock and one ordered queue that many runners may share). Cores never see either:
the shell reads `runner.monotonic()` / `runner.wall()` when it builds an event.

Invariants: events are handled one at a time, in the order they were fed, even when an
effect handler feeds a new event synchronously (it is queued, not nested), so a fake
agent or a loop-back send that answers at once sees the core in a consistent state;
a timer fires at most once per arming and never after `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from messaging.clock import FakeClock
from messaging.durable import BackgroundWriter, SlotFile
from messaging.effects import ArmTimer, CancelTimer, Log, Persist, Publish, Send, TimerFired
from messaging.errors import InternalError

EffectHandler = Callable[[Any], None]


class Core(Protocol):
    """A pure core: one event in, the effects it wants performed out."""

    def handle(self, event: Any) -> Iterable[Any]: ...


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """A clock plus callbacks at monotonic times: the only way a runner meets time."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable: ...


class AsyncioScheduler:
    """The running asyncio loop's clock (monotonic) and timers; wall time from time.time."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        return time.time()

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_at(deadline, callback)


class _FakeHandle:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """A FakeClock and one queue of callbacks, run in (deadline, arming order).

    Many runners (one per node and daemon) may share one FakeScheduler: it is then the
    simulator's single event queue, and equal deadlines keep their arming order, so a run
    is a function of its inputs and seed.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self._queue: list[tuple[float, int, _FakeHandle, Callable[[], None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def wall(self) -> float:
        return self.clock.wall()

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        handle = _FakeHandle()
        heapq.heappush(self._queue, (deadline, next(self._order), handle, callback))
        return handle

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return self.call_at(self.monotonic() + max(0.0, delay), callback)

    def next_deadline(self) -> float | None:
        """When the next live callback is due (None when nothing is queued)."""
        while self._queue and self._queue[0][2].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else None

    def step(self) -> bool:
        """Run the next due callback, moving the clock to its deadline; False if none."""
        deadline = self.next_deadline()
        if deadline is None:
            return False
        _, _, handle, callback = heapq.heappop(self._queue)
        if deadline > self.clock.monotonic():
            self.clock.advance(deadline - self.clock.monotonic())
        handle.cancelled = True
        callback()
        return True

    def run_until(self, when: float) -> int:
        """Run every callback due up to `when`, then set the clock to `when`; the count run."""
        count = 0
        while (deadline := self.next_deadline()) is not None and deadline <= when:
            self.step()
            count += 1
        if when > self.clock.monotonic():
            self.clock.advance(when - self.clock.monotonic())
        return count

    def advance(self, seconds: float) -> int:
        return self.run_until(self.clock.monotonic() + seconds)


class StateFiles:
    """The `Persist` handler of a daemon: one `messaging.durable.SlotFile` per name in its
    state directory, written in place (never renamed over, see messaging.durable).

    With `background=True` (the daemons) the writes run on a `BackgroundWriter` thread, so
    the event loop never waits on the disk; `close()` waits for what is still queued.
    Without it (tests, tools) each `Persist` is written before the call returns."""

    def __init__(self, directory: str | Path, background: bool = False,
                 log: Any = None) -> None:
        self.directory = Path(directory)
        self._files: dict[str, SlotFile] = {}
        self._writer = BackgroundWriter(self._failed) if background else None
        self._log = log

    def __call__(self, effect: Persist) -> None:
        target = self.directory / effect.name
        if self._writer is not None:
            self._writer.submit(target, effect.data)
        else:
            self._files.setdefault(effect.name, SlotFile(target)).write(effect.data)

    def read(self, name: str) -> bytes | None:
        """What was persisted under `name` (None when nothing or unreadable)."""
        if self._writer is not None:
            queued = self._writer.pending(self.directory / name)
            if queued is not None:
                return queued
        return SlotFile(self.directory / name).read()

    def close(self, timeout: float | None = 10.0) -> None:
        """Write out what is queued (logged when `timeout` runs out first)."""
        unfinished = self._writer is not None and not self._writer.close(timeout)
        if unfinished and self._log is not None:
            self._log.error("persist_unfinished", directory=str(self.directory))

    def _failed(self, path: Path, error: OSError) -> None:
        if self._log is not None:
            self._log.error("persist_failed", file=str(path), error=str(error))


class MemoryState(dict[str, bytes]):
    """The `Persist` handler of a simulated daemon: a dict that outlives the core."""

    def __call__(self, effect: Persist) -> None:
        self[effect.name] = effect.data


def _unhandled(kind: str) -> EffectHandler:
    def refuse(effect: Any) -> None:
        raise InternalError(f"no handler for {kind} effect {effect!r}")
    return refuse


class Runner:
    """Drives one pure core: events in, effects carried out through one handler table.

    Args:
        core: the pure core (`handle(event) -> effects`).
        scheduler: time and timers (`AsyncioScheduler` or a shared `FakeScheduler`).
        send, publish, persist: handlers of the common `Send`, `Publish`, `Persist` effects.
        handlers: handlers of the daemon's own effect types (exact type -> callable).
        log: a structlog-style bound logger for `Log` effects (None: dropped).
        before_timer: called with a timer's key just before its `TimerFired` is fed (the
            heartbeat reads queued packets first, so silence is judged on what arrived).
    """

    def __init__(self, core: Core, scheduler: Scheduler, *,
                 send: EffectHandler | None = None, publish: EffectHandler | None = None,
                 persist: EffectHandler | None = None,
                 handlers: Mapping[type, EffectHandler] | None = None,
                 log: Any = None, before_timer: Callable[[str], None] | None = None) -> None:
        self.core = core
        self.scheduler = scheduler
        self.log = log
        self._table: dict[type, EffectHandler] = {
            Send: _unhandled("Send") if send is None else send,
            Publish: _unhandled("Publish") if publish is None else publish,
            Persist: _unhandled("Persist") if persist is None else persist,
            ArmTimer: self._arm,
            CancelTimer: self._cancel,
            Log: self._log,
            **(handlers or {}),
        }
        self._before_timer = before_timer
        self._timers: dict[str, tuple[object, Cancellable]] = {}
        self._pending: deque[Any] = deque()
        self._busy = False
        self._closed = False

    # -- time, for the shell that builds events --------------------------------------
    def monotonic(self) -> float:
        return self.scheduler.monotonic()

    def wall(self) -> float:
        return self.scheduler.wall()

    @property
    def armed(self) -> frozenset[str]:
        """The keys of the timers currently armed (for status output and tests)."""
        return frozenset(self._timers)

    # -- the loop --------------------------------------------------------------------
    def feed(self, event: Any) -> None:
        """Hand `event` to the core and perform its effects (queued if already busy)."""
        if self._closed:
            return
        self._pending.append(event)
        if self._busy:
            return
        self._busy = True
        try:
            while self._pending and not self._closed:
                self.perform_all(self.core.handle(self._pending.popleft()))
        finally:
            self._busy = False

    def perform_all(self, effects: Iterable[Any]) -> None:
        """Carry out effects a core returned outside `handle` (e.g. from its `start`)."""
        for effect in effects:
            self.perform(effect)

    def perform(self, effect: Any) -> None:
        handler = self._table.get(type(effect))
        if handler is None:
            raise InternalError(f"no handler for effect {type(effect).__name__}")
        handler(effect)

    def close(self) -> None:
        """Cancel every timer; later events and timers are ignored."""
        self._closed = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._pending.clear()

    # -- common effects --------------------------------------------------------------
    def _arm(self, effect: ArmTimer) -> None:
        self._cancel(CancelTimer(effect.key))
        key, arming = effect.key, object()
        handle = self.scheduler.call_at(effect.deadline, lambda: self._fire(key, arming))
        self._timers[key] = (arming, handle)

    def _cancel(self, effect: CancelTimer) -> None:
        entry = self._timers.pop(effect.key, None)
        if entry is not None:
            entry[1].cancel()

    def _fire(self, key: str, arming: object) -> None:
        entry = self._timers.get(key)
        if entry is None or entry[0] is not arming:  # cancelled or re-armed meanwhile
            return
        del self._timers[key]
        if self._before_timer is not None:
            self._before_timer(key)
        self.feed(TimerFired(key, self.scheduler.monotonic(), self.scheduler.wall()))

    def _log(self, effect: Log) -> None:
        if self.log is not None:
            with contextlib.suppress(TypeError):  # a field named like a logger argument
                getattr(self.log, effect.level, self.log.info)(effect.event,
                                                               **dict(effect.fields))


__all__ = ["AsyncioScheduler", "Cancellable", "Core", "EffectHandler", "FakeScheduler",
           "MemoryState", "Runner", "Scheduler", "StateFiles"]
