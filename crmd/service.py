"""The crmd daemon: one node's `crmd.api.Controller` on a Runner, every effect carried out.

What is wired to what (declared on one `messaging.daemon.DaemonHost`):

- ccm (`messaging.membership`): the current view by query, then every published change,
  as `MembershipView` (a view repeated by ccm's periodic republication is fed once);
- peers: heartbeat channel ``crmd`` (`messaging.peer_channel.PeerChannel`), crmd's wire
  form (`crmd.api.encode`/`decode`) both ways (`Send` out, `PeerMessage` in);
- the local cib (`crmd.cib_link.CibLink`): `ModifyCib`/`DeleteCib`/`ClearFailures` and
  `UpdateAttribute` as ordered writes, `SyncCib` answered once earlier writes are done (the
  cib daemons replicate; every copy of the partition is the master's), each published diff
  as `CibChanged`/`StatusUpdated` (results reach the DC through its CIB, Pacemaker's way);
  each published `DcChanged` -> `CibLink.name_dc` (the DC's cib holds the master copy);
- `RunScheduler`: the CIB is read with this node's unanswered writes applied on top
  (`CibLink.read_ahead`) and pengine runs in one worker thread (the loop keeps serving
  heartbeat, IPC and timers meanwhile); a request that a newer one overtook is skipped;
  the answer is fed as `SchedulerDone`;
- the local lrmd and stonithd, through `crmd.local_daemons.LocalDaemons`:
  `LrmdRequest` -> the local lrmd (`lrmd.api`), its published results -> `LocalOpResult`;
  an lrmd that restarted (another pid answers its ping) -> `LrmdReplaced` (the controller
  stays; a fresh join re-probes the node and re-arms its monitors, `crmd.lrmd_loss`);
  `ExecuteFencing` -> the local stonithd (`stonithd.api`), its answer -> `FenceCompleted`;
  every result stonithd publishes (topic ``fence``) -> `NodeFenced`;
- the control socket (`crmd.control`): status, and a clean-shutdown request; a status
  request naming another node goes to that node's crmd as `StatusQuery` on the peer channel
  and its `StatusAnswer` is relayed (Pacemaker's text on `REMOTE_STATUS_S` of silence);
  this daemon answers peers' `StatusQuery` itself (the core never sees either);
- SIGTERM: a clean shutdown first (`ShutdownRequested`: the DC moves this node's
  resources away, then confirms), for at most `SHUTDOWN_GRACE_S`;
- `StopController`: the DC confirmed this node's shutdown; the daemon exits with
  `NO_RESPAWN_EXIT` so the launcher leaves it stopped.

The controller is built once the cib answers (its node ids come from the CIB's nodes
section); peer messages that arrive earlier wait for it, and ccm's view, followed from the
start, is fed as soon as it is built (a booting node's controller announces its start on
its first view: asking ccm only then cost the last node to boot up to 0.8 s at 16 nodes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from lxml import etree

from crmd import control
from crmd.api import (
    CibChanged,
    CibSynced,
    ClearFailures,
    Controller,
    ControllerTiming,
    DcChanged,
    DeleteCib,
    ExecuteFencing,
    LrmdRequest,
    MembershipView,
    ModifyCib,
    PeerMessage,
    RunScheduler,
    ShutdownRequested,
    StopController,
    SyncCib,
    UpdateAttribute,
    decode,
    encode,
    run_scheduler,
)
from crmd.cib_events import write_of
from crmd.cib_link import CibLink
from crmd.local_daemons import LocalDaemons
from crmd.messages import StatusAnswer, StatusQuery
from crmd.scheduler_runs import run_timed
from messaging.daemon import DaemonHost
from messaging.effects import AllNodes, Node, Publish, Send
from messaging.errors import ErrorReply, HAError, InternalError, PeerTimeout
from messaging.ipc import Server
from messaging.logs import get_logger
from messaging.peer_channel import PeerChannel
from messaging.runtime import AsyncioScheduler, Runner

CHANNEL = "crmd"
STARTUP_POLL_S = 0.2  # the cib or ccm not answering yet: ask again (a retry interval)
SHUTDOWN_GRACE_S = 8.0  # under the launcher's 10 s before it kills a daemon it stops
REMOTE_STATUS_S = 1.5  # a peer's answer to crmadmin -S NODE, under the tool's 2 s timeout


def node_ids_of(nodes_xml: str | None) -> dict[str, str]:
    """Configured node names -> ids, from the CIB's nodes section."""
    if not nodes_xml:
        return {}
    root = etree.fromstring(nodes_xml.encode())
    return {str(n.get("uname")): str(n.get("id")) for n in root.iter("node")
            if n.get("uname") and n.get("id")}


_EMPTY_CIB = ('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">'
              "<configuration><crm_config/><nodes/><resources/><constraints/>"
              "</configuration><status/></cib>")


def warm_up() -> None:
    """Run the scheduler and the local write path once on an empty CIB, in the worker
    thread: their first run imports and compiles for about half a second, which would
    otherwise land on the first real transition (a failover's)."""
    from cib.api import WireRequest, with_writes

    cib_xml = with_writes(_EMPTY_CIB, [WireRequest("modify", '<cib have-quorum="1"/>', "cib")])
    run_scheduler(cib_xml, RunScheduler(0, 0.0), 0.0)


class ControllerService:
    """One node's crmd."""

    def __init__(self, node: str, state_dir: Path, timing: ControllerTiming | None = None
                 ) -> None:
        self.node, self.state_dir, self.timing = node, state_dir, timing
        self.log = get_logger(daemon="crmd", node=node)
        self.host = DaemonHost(self.log)
        self.cib = CibLink(state_dir, self.log)
        self.peers = PeerChannel(state_dir, node, CHANNEL, open_frame=decode,
                                 on_message=self._peer, log=self.log)
        self.server = Server(control.ctl_address(state_dir), control.API, self.answer,
                             daemon="crmd", log=self.log)
        self.local = LocalDaemons(state_dir, self.log, self._feed, self._now, self._wall,
                                  self.cib.note_fencing)
        self.runner: Runner | None = None
        self.controller: Controller | None = None
        self.started = 0.0
        self.exit_code = 0
        self._early: list[tuple[str, Any]] = []
        self._view: tuple[int, tuple[str, ...], bool] | None = None
        self._latest_schedule = 0
        self._shutting_down = False
        self._pengine = concurrent.futures.ThreadPoolExecutor(1, "pengine")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queries: dict[int, Any] = {}  # StatusQuery id -> the waiting IPC client
        self._next_query = 0

    # -- life -----------------------------------------------------------------------------

    async def run(self) -> int:
        self.host.socket(self.server)
        self.host.task(self.server.serve)
        self.host.task(self.cib.dc_teller)
        self.host.task(self._main)
        self.host.task(self._membership)  # from the start: the view is ready with the core
        self.peers.attach(self.host)
        for thing in (self.cib, self.local.lrmd, self.local.fencer):
            self.host.closing(thing)
        await self.host.run()
        self._pengine.shutdown(wait=False, cancel_futures=True)
        return self.exit_code

    async def _main(self) -> None:
        node_ids, timing = await self._configuration()
        loop = asyncio.get_running_loop()
        scheduler = AsyncioScheduler()
        self.started = scheduler.wall()
        self.controller = controller = Controller(self.node, node_ids, self.started, timing,
                                                  results_from_cib=True)
        self.runner = Runner(self.controller, scheduler, send=self._send,
                             publish=self._publish, handlers=self._handlers(), log=self.log)
        self.host.closing(self.runner)
        loop.run_in_executor(self._pengine, warm_up)
        self.log.info("crmd_started", node_ids=node_ids)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._terminate)  # replaces the host's handler
        self.runner.perform_all(self.controller.start(self.runner.monotonic(),
                                                      self.runner.wall()))
        for source, message in self._early:
            self._peer(source, message)
        self._early.clear()
        if self._view is not None:  # ccm answered while the cib was being read
            self._feed(MembershipView(self._view[1], self._view[2], self._now(), self._wall()))
        await asyncio.gather(self.cib.follow(self._cib_event, self.runner.monotonic,
                                             self.runner.wall, lambda: controller.is_dc),
                             self.local.follow())

    async def _configuration(self) -> tuple[dict[str, str], ControllerTiming]:
        """The node ids and the timers (crm_config over `self.timing`, `crmd.options`),
        asked of the cib together (a booting node's cib answers slowly), until it answers."""
        from crmd.options import controller_timing

        while True:
            try:
                nodes, crm_config = await asyncio.gather(
                    self.cib.query(scope="nodes"), self.cib.query(scope="crm_config"))
                return node_ids_of(nodes), controller_timing(crm_config, self.timing)
            except HAError:
                await asyncio.sleep(STARTUP_POLL_S)

    def _cib_event(self, event: Any) -> None:
        """A CIB change for the controller; a configuration change that may have moved a
        timing option re-reads its options (no other change can alter what it reads)."""
        assert self.runner is not None
        self.runner.feed(event)
        if isinstance(event, CibChanged) and event.config_changed and event.timing_changed:
            self._spawn(self._retime())

    async def _retime(self) -> None:
        _, timing = await self._configuration()
        if self.controller is not None and timing != self.controller.timing:
            self.log.info("crmd_options", election_timeout=timing.election.election_timeout,
                          dc_deadtime=timing.election.dc_deadtime)
            self.controller.retime(timing)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("crmd_task_failed", error=repr(task.exception()))

    def _feed(self, event: Any) -> None:
        if self.runner is not None:
            self.runner.feed(event)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _wall(self) -> float:
        return self.runner.wall() if self.runner is not None else 0.0

    # -- inputs ---------------------------------------------------------------------------

    def _peer(self, source: str, message: Any) -> None:
        if isinstance(message, StatusQuery):
            self.peers.send(Node(source), encode(StatusAnswer(message.query_id, self.status())))
            return
        if isinstance(message, StatusAnswer):
            client = self._queries.pop(message.query_id, None)
            if client is not None:
                self.server.send(client, message.status)
            return
        if self.runner is None:
            self._early.append((source, message))
            return
        self.runner.feed(PeerMessage(source, message, self.runner.monotonic(),
                                     self.runner.wall()))

    async def _membership(self) -> None:
        from messaging.membership import AsyncCcmClient, MembershipChanged

        ccm = AsyncCcmClient(self.state_dir)
        subscriber = ccm.subscribe()
        try:
            while True:
                try:
                    status = await ccm.query()
                except HAError:
                    status = None
                if status is not None and status.view_id:
                    self._on_view(status.view_id, tuple(status.members), status.quorate)
                    break
                await asyncio.sleep(STARTUP_POLL_S)
            while True:
                event = await subscriber.recv()
                if isinstance(event, MembershipChanged):
                    self._on_view(event.view_id, tuple(event.members), event.quorate)
        finally:
            subscriber.close()
            ccm.close()

    def _on_view(self, view_id: int, members: tuple[str, ...], quorate: bool) -> None:
        view = (view_id, tuple(sorted(members)), quorate)
        if view == self._view:
            return  # ccm republishes its view every few seconds
        self._view = view
        self.log.info("crmd_view", view=view_id, members=list(view[1]), quorate=quorate)
        self._feed(MembershipView(view[1], quorate, self._now(), self._wall()))

    # -- the control socket ---------------------------------------------------------------

    def answer(self, request: Any, client: Any) -> control.ControllerStatus | None:
        if isinstance(request, control.StatusRequest) and request.node not in ("", self.node):
            self._ask_peer(request.node, client)
            return None  # answered when the peer's StatusAnswer comes
        if isinstance(request, control.StopRequest) and self.runner is not None:
            self.runner.feed(ShutdownRequested(self.node, self.runner.monotonic(),
                                               self.runner.wall()))
        elif not isinstance(request, (control.StatusRequest, control.StopRequest)):
            raise InternalError(f"crmd takes status and stop requests, not "
                                f"{type(request).__name__}")
        return self.status()

    def _ask_peer(self, node: str, client: Any) -> None:
        """Relay a status request to `node`'s controller; the answer comes later, or
        Pacemaker's timeout message (also for a node that is not a member: Pacemaker's
        crmadmin asks and waits, it does not check the membership)."""
        self._next_query += 1
        query_id = self._next_query
        self._queries[query_id] = client
        self.peers.send(Node(node), encode(StatusQuery(query_id)))
        asyncio.get_running_loop().call_later(REMOTE_STATUS_S, self._unanswered, query_id)

    def _unanswered(self, query_id: int) -> None:
        client = self._queries.pop(query_id, None)
        if client is not None:
            self.server.send(client, ErrorReply.of(PeerTimeout(
                "No reply received from controller before timeout "
                f"({int(REMOTE_STATUS_S * 1000)}ms)")))

    def status(self) -> control.ControllerStatus:
        core = self.controller
        if core is None:
            return control.ControllerStatus(self.node, "S_STARTING", "", (), False, "", 0,
                                            (0, 0, 0), self.started)
        transition = ""
        if core.is_dc:
            transition = "idle" if core.engine.finished else "running"
        return control.ControllerStatus(
            self.node, core.state.value, core.dc or "", tuple(sorted(core.members)),
            core.quorate, transition, core.transition_id, core.cib_version, self.started)

    # -- effects --------------------------------------------------------------------------

    def _handlers(self) -> dict[type, Any]:
        handlers: dict[type, Any] = {
            LrmdRequest: lambda e: self._spawn(self.local.lrmd_request(e)),
            ExecuteFencing: lambda e: self._spawn(self.local.fence(e)),
            RunScheduler: self._schedule,
            SyncCib: lambda e: self._spawn(self._sync()),
            UpdateAttribute: self._attribute,
            ClearFailures: lambda e: self.cib.clear_failures(e.node, e.resource),
            StopController: self._stop,
        }
        for write in (ModifyCib, DeleteCib):
            handlers[write] = lambda e: self.cib.write(write_of(e))
        return handlers

    def _publish(self, effect: Publish) -> None:
        """The controller publishes only DC changes; the cib learns them (its master)."""
        if isinstance(effect.event, DcChanged):
            self.cib.name_dc(effect.event.dc)

    def _send(self, effect: Send) -> None:
        destination = effect.destination
        if not isinstance(destination, (Node, AllNodes)):
            raise InternalError(f"crmd sends only to nodes: {effect!r}")
        self.peers.send(destination, encode(effect.message))

    def _schedule(self, effect: RunScheduler) -> None:
        self._latest_schedule = effect.transition_id
        self._spawn(self._run_scheduler(effect))

    async def _run_scheduler(self, effect: RunScheduler) -> None:
        loop = asyncio.get_running_loop()
        asked = loop.time()
        cib_xml = await self.cib.read_ahead()
        if cib_xml is None or effect.transition_id != self._latest_schedule:
            return  # a newer request overtook this one; the controller ignores stale answers
        read = loop.time()
        process_cpu = time.process_time()
        done, (began, ended, cpu) = await loop.run_in_executor(
            self._pengine, run_timed, cib_xml, effect)
        assert self.runner is not None
        # where a slow answer waited: for the thread to start, for a CPU or the GIL while
        # it ran (wall beyond cpu_ms), or for this loop to take the answer (back_ms)
        self.log.info("scheduler_done", transition_id=effect.transition_id,
                      read_ms=round(1000 * (read - asked)),
                      pengine_ms=round(1000 * (loop.time() - read)), cpu_ms=round(1000 * cpu),
                      start_ms=round(1000 * (began - read)), run_ms=round(1000 * (ended - began)),
                      back_ms=round(1000 * (loop.time() - ended)),
                      process_cpu_ms=round(1000 * (time.process_time() - process_cpu)))
        if effect.transition_id == self._latest_schedule:
            self.runner.feed(dataclasses.replace(done, now=self.runner.monotonic(),
                                                 wall=self.runner.wall()))

    async def _sync(self) -> None:
        await self.cib.settled()
        self._feed(CibSynced(True, self._now(), self._wall()))

    def _attribute(self, effect: UpdateAttribute) -> None:
        assert self.controller is not None
        node_id = self.controller.node_ids.get(effect.node, effect.node)
        self.cib.set_attribute(node_id, effect.node, effect.name, effect.value)

    def _terminate(self) -> None:
        """SIGTERM (the launcher stops the node): ask the DC to move this node's resources
        away and wait for its do_shutdown (StopController), at most SHUTDOWN_GRACE_S, as
        Pacemaker's controller does on SIGTERM. Alone, without a DC, or on a second
        signal: stop now."""
        core, runner = self.controller, self.runner
        if self._shutting_down or core is None or runner is None or core.dc is None \
                or core.members <= {self.node}:
            self.host.stop()
            return
        self._shutting_down = True
        self.log.info("crmd_shutdown_requested", dc=core.dc)
        runner.feed(ShutdownRequested(self.node, runner.monotonic(), runner.wall()))
        asyncio.get_running_loop().call_later(SHUTDOWN_GRACE_S, self.host.stop)

    def _stop(self, effect: StopController) -> None:
        from messaging.supervisor import NO_RESPAWN_EXIT

        self.log.info("crmd_stopping", reason=effect.reason)
        self.exit_code = NO_RESPAWN_EXIT
        self._spawn(self._stop_after_writes())

    async def _stop_after_writes(self) -> None:
        await self.cib.settled()
        self.host.stop()


__all__ = ["CHANNEL", "ControllerService", "node_ids_of"]
