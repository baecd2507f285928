"""Our cluster's state asked straight from the daemons' sockets (for our side of the
benchmarks): where a resource runs by each node's lrmd history, and whether the DC is idle
by each controller's status (crmd.control). Every node's state directory is reachable from
the host (bind-mounted into the node), so a question costs a few milliseconds instead of a
`lab exec` of a command-line tool (hundreds of milliseconds on a loaded host), which would
decide the measured times' resolution.

`kill_node` kills a lab node in this process (lab.netns), so the clock starts at the kill,
not at the start of a `hacluster lab kill` process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from messaging.errors import HAError

if TYPE_CHECKING:
    from lab.layout import LabState

_STARTED = ("start", "promote", "migrate_from")


class OurCluster:
    """Lab `name`'s nodes, asked through their sockets."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _state(self) -> LabState:
        from lab.cli import _need

        return _need(self.name)

    def state_dir(self, node: str) -> Path:
        return Path(self._state().nodes[node].directory) / "state"

    def runs(self, node: str, resource: str) -> bool | None:
        """Whether `node`'s lrmd last brought `resource` to running (None: no answer)."""
        from lrmd.api import HistoryReply, HistoryRequest, LrmdClient

        try:
            with LrmdClient(self.state_dir(node), timeout=1.0) as client:
                reply = client.request(HistoryRequest(resource), 1.0)
        except HAError:
            return None
        if not isinstance(reply, HistoryReply):
            return None
        done = sorted((r for r in reply.records if r.interval_ms == 0 and r.status == 0),
                      key=lambda r: r.call_id)
        if not done:
            return False
        last = done[-1]
        if last.action in _STARTED:
            return last.rc == 0
        return last.action == "monitor" and last.rc in (0, 8)

    def located(self, nodes: list[str], resource: str) -> list[str]:
        return [n for n in nodes if self.runs(n, resource)]

    def settled(self, nodes: list[str], resource: str) -> bool:
        """An idle DC with exactly `nodes` joined, and `resource` running on one of them."""
        from lab.cli import idle_dc

        try:
            dc = idle_dc(self._state(), nodes)
        except HAError:
            return False
        return dc is not None and len(self.located(nodes, resource)) == 1

    def kill_node(self, node: str) -> None:
        from lab import netns

        netns.kill_node(self._state(), node)

    def power_cut(self, nodes: list[str]) -> None:
        """Every node of `nodes` loses power at the same instant, as a rack does: all their
        processes are stopped (SIGSTOP, in one pass) before any is killed. Killed one after
        the other (16 nodes took seconds), the survivors saw the first ones die, fenced
        them, and the power switch booted them again before the measured cold start (and
        fenced them once more in the middle of it)."""
        import os
        import signal

        from lab.procs import pids_in_netns

        state = self._state()
        for node in nodes:
            for pid in pids_in_netns(state.nodes[node].netns_inode):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
        for node in nodes:
            self.kill_node(node)


def wait_until(condition: Callable[[], bool], timeout: float, poll: float = 0.1) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return False
