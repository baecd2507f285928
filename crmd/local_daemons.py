"""crmd's link to its node's lrmd and stonithd: requests out, results in as controller events.

- `lrmd_request(effect)`: an `LrmdRequest` to the local lrmd (`lrmd.api`); a failure is
  only logged (the action's timeout in the DC's engine acts);
- `fence(effect)`: an `ExecuteFencing` to the local stonithd (`stonithd.api`), its answer
  (or the error) fed as `FenceCompleted`;
- `follow()` runs, until cancelled: lrmd's published results -> `LocalOpResult`; every
  fencing stonithd publishes (topic ``fence``) -> `NodeFenced` (after `note_fencing`, which
  tells the cib); and a ping of lrmd every `LRMD_PING_S`, an lrmd that another pid answers
  for -> `LrmdReplaced` (`crmd.lrmd_loss`).

`crmd.service` owns the controller; this module only carries effects and results across.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crmd.api import (
    ExecuteFencing,
    FenceCompleted,
    LocalOpResult,
    LrmdReplaced,
    LrmdRequest,
    NodeFenced,
)
from crmd.fencing import OWN_CLIENT
from messaging.errors import HAError

FENCE_SLACK_S = 10.0
# how often the local lrmd is asked who it is (a restart is noticed); each Ping wakes both
# daemons, two threads each, so an idle node does not ask every second
LRMD_PING_S = 2.0


class LocalDaemons:
    """The local lrmd and stonithd as one node's controller sees them."""

    def __init__(self, state_dir: Path, log: Any, feed: Callable[[Any], None],
                 now: Callable[[], float], wall: Callable[[], float],
                 note_fencing: Callable[[str, str, bool], None]) -> None:
        from lrmd import api as lrmd
        from messaging.client import AsyncClient
        from stonithd import api as fencing

        self.state_dir, self.log = state_dir, log
        self._feed, self._now, self._wall, self._note_fencing = feed, now, wall, note_fencing
        self.lrmd = AsyncClient(f"ipc://{state_dir / lrmd.CONTROL_SOCKET}", lrmd.API)
        self.fencer = AsyncClient(fencing.endpoint_in(state_dir), fencing.API)

    async def follow(self) -> None:
        await asyncio.gather(self._lrmd_results(), self._fence_events(), self._watch_lrmd())

    async def lrmd_request(self, effect: LrmdRequest) -> None:
        try:
            await self.lrmd.request(effect.request)
        except HAError as error:  # the action's timeout in the DC's engine acts
            self.log.error("lrmd_request_failed", request=repr(effect.request),
                           error=str(error))

    async def fence(self, effect: ExecuteFencing) -> None:
        from stonithd import api as fencing

        request = fencing.FenceRequest(effect.target, effect.action, effect.timeout_s,
                                       client=OWN_CLIENT)
        self.log.info("fencing_requested", target=effect.target, action=effect.action)
        try:
            result = await self.fencer.request(request, effect.timeout_s + FENCE_SLACK_S)
            ok = isinstance(result, fencing.FenceResult) and result.ok
            reason = getattr(result, "reason", "")
        except HAError as error:
            ok, reason = False, str(error)
        self.log.info("fencing_done", target=effect.target, ok=ok, reason=reason)
        self._feed(FenceCompleted(effect.transition_key, effect.target, ok, self._now(),
                                  self._wall()))

    async def _lrmd_results(self) -> None:
        from lrmd import api as lrmd
        from messaging.client import AsyncSubscriber

        subscriber = AsyncSubscriber(f"ipc://{self.state_dir / lrmd.PUBLISH_SOCKET}",
                                     lrmd.API, (lrmd.OP_TOPIC,))
        try:
            while True:
                result = await subscriber.recv()
                if isinstance(result, lrmd.OpCompleted):
                    self._feed(LocalOpResult(result, self._now(), self._wall()))
        finally:
            subscriber.close()

    async def _fence_events(self) -> None:
        """Every fencing the local stonithd saw end (its own operations and the results
        its peers broadcast) -> `NodeFenced`: the DC records fencings it did not ask for
        (Pacemaker's controller is notified of every fencing by its fencer)."""
        from messaging.client import AsyncSubscriber
        from stonithd import api as fencing

        subscriber = AsyncSubscriber(fencing.events_endpoint_in(self.state_dir), fencing.API,
                                     (fencing.FENCE_TOPIC,))
        try:
            while True:
                result = await subscriber.recv()
                if isinstance(result, fencing.FenceResult):  # the core logs what it acts on
                    self._note_fencing(result.target, result.action, result.ok)
                    self._feed(NodeFenced(result.target, result.action, result.ok, result.origin,
                                          result.client, self._now(), self._wall()))
        finally:
            subscriber.close()

    async def _watch_lrmd(self) -> None:
        """Tell the controller when the local lrmd was replaced by another process: its
        operations and recurring monitors are gone. The controller stays (one that left
        gets its node fenced) and rejoins, which re-probes the node (`crmd.lrmd_loss`)."""
        known: int | None = None
        while True:
            try:
                pid = (await self.lrmd.ping(LRMD_PING_S)).pid
            except HAError:
                pid = None
            if pid is not None and known is not None and pid != known:
                self.log.warning("lrmd_restarted", old_pid=known, pid=pid)
                self._feed(LrmdReplaced(self._now(), self._wall()))
            known = pid if pid is not None else known
            await asyncio.sleep(LRMD_PING_S)


__all__ = ["FENCE_SLACK_S", "LRMD_PING_S", "LocalDaemons"]
