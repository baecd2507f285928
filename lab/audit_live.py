"""The auditor's shell for a running lab: samples every running node's lrmd in a thread.

`LabNodes` reads the lab's state file (lab.layout) for each node's state directory and
whether its holder runs; `sample_lrmd` asks one lrmd for its history over the control socket
in the node's state directory (reachable from the host: the directory is bind-mounted into
the node) and turns it into running resources with `lab.audit.running_instances`;
`LrmdSampler` does that for every running node, round after round, until stopped, feeding
a `DoubleRunAudit` and keeping the last round for placement checks.

A node that does not answer within the timeout (killed, or its lrmd restarting) is simply
not sampled in that round: the audit only ever concludes from answers.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from messaging.errors import HAError

from .audit import DoubleRunAudit, Instance, running_instances
from .layout import LabState, load


class LabNodes:
    """The nodes of lab `name` as its state file says now (re-read on every call)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def state(self) -> LabState:
        state = load(self.name, False) or load(self.name, True)
        if state is None:
            raise HAError(f"lab {self.name} is not up")
        return state

    def state_dirs(self) -> dict[str, str]:
        return {name: str(Path(node.directory) / "state")
                for name, node in self.state().nodes.items()}

    def running(self) -> dict[str, str]:
        """{node: state dir} of the nodes whose holder (or processes) run now."""
        from .cli import node_running

        state = self.state()
        return {name: str(Path(node.directory) / "state")
                for name, node in state.nodes.items() if node_running(state, name)}


def sample_lrmd(state_dir: str, timeout: float = 1.0) -> dict[str, Instance] | None:
    """{resource: call id proving it runs} from the lrmd in `state_dir`; None when that lrmd
    does not answer."""
    from lrmd.api import HistoryReply, HistoryRequest, LrmdClient

    try:
        with LrmdClient(state_dir, timeout=timeout) as client:
            reply = client.request(HistoryRequest(), timeout)
    except HAError:
        return None
    if not isinstance(reply, HistoryReply):
        return None
    return running_instances(reply.records)


class LrmdSampler:
    """Samples every running node's lrmd until `stop`; use as a context manager.

    `last_round` holds the newest answer of each node sampled in the latest round;
    `rounds` counts complete rounds (tests wait for a fresh round after an event).
    """

    def __init__(self, nodes: LabNodes, audit: DoubleRunAudit, period: float = 0.1) -> None:
        self.nodes = nodes
        self.audit = audit
        self.period = period
        self.last_round: dict[str, dict[str, Instance]] = {}
        self.rounds = 0
        self.error: BaseException | None = None  # what ended the sampling thread, if anything
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="lrmd-sampler", daemon=True)

    def __enter__(self) -> LrmdSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def sample_once(self) -> dict[str, dict[str, Instance]]:
        """One round over the running nodes; feeds the audit and returns the answers."""
        answers: dict[str, dict[str, Instance]] = {}
        for node, state_dir in sorted(self.nodes.running().items()):
            sent = time.monotonic()
            running = sample_lrmd(state_dir)
            received = time.monotonic()
            if running is None:
                continue
            answers[node] = running
            with self._lock:
                self.audit.add(node, sent, received, running)
        with self._lock:
            self.last_round = answers
            self.rounds += 1
        return answers

    def wait_rounds(self, count: int = 1, timeout: float = 30.0) -> dict[str, dict[str, Instance]]:
        """Wait until `count` more rounds completed; the last round's answers."""
        with self._lock:
            target = self.rounds + count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread.is_alive():
            with self._lock:
                if self.rounds >= target:
                    return dict(self.last_round)
            self._stop.wait(0.02)
        if self.error is not None:  # a bug in sampling, not a slow lab: say which
            raise HAError(f"the lrmd sampler stopped: {self.error!r}") from self.error
        raise HAError(f"the lrmd sampler completed no round within {timeout}s")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with contextlib.suppress(HAError):  # the lab's state file was being rewritten
                    self.sample_once()
                self._stop.wait(self.period)
        except Exception as error:  # kept for wait_rounds, which reports it to the test
            self.error = error


__all__ = ["LabNodes", "LrmdSampler", "sample_lrmd"]
