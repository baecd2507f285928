"""Where the DC's scheduler runs, the event loop or crmd's pengine thread, and what each
run cost (wall and CPU), for the crmd shell (crmd.service).

Invariant: a run goes to the loop only when the last run was cheap (`InlineScheduling`)
and no run is on the thread meanwhile, so two runs never overlap and a CIB of thousands of
resources keeps being scheduled off the loop.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from lxml import etree

from crmd.api import RunScheduler, SchedulerDone, run_scheduler


def run_timed(cib_xml: etree._Element, effect: RunScheduler
              ) -> tuple[SchedulerDone, tuple[float, float, float]]:
    """`run_scheduler` with when it began and ended (monotonic) and the CPU seconds the
    running thread spent on it."""
    began, cpu = time.monotonic(), time.thread_time()
    done = run_scheduler(cib_xml, effect, 0.0)
    return done, (began, time.monotonic(), time.thread_time() - cpu)


def element_count(cib: etree._Element) -> int:
    """The CIB's size in elements (a few ms for thousands of resources)."""
    return sum(1 for _ in cib.iter())


class InlineScheduling:
    """Whether the next scheduler run happens on the event loop instead of the pengine
    thread: when the last run took under `CHEAP_CPU_S` of CPU and the CIB has not grown
    past twice that run's size. Handing a run to the thread and its answer back costs two
    more waits for a CPU, 100-200 ms on a loaded 16-node lab host for a 4 ms run (the
    failover's transition); a CIB of thousands of resources (seconds of scheduling) still
    runs on the thread, so the loop keeps serving its sockets meanwhile."""

    CHEAP_CPU_S = 0.02

    def __init__(self) -> None:
        self.cheap_size = 0  # the CIB size (elements) of the last cheap run; 0: none yet
        self.in_thread = 0

    def fits(self, size: int) -> bool:
        return self.in_thread == 0 and 0 < size <= 2 * self.cheap_size

    def learn(self, size: int, cpu_s: float) -> None:
        self.cheap_size = size if cpu_s < self.CHEAP_CPU_S else 0

    @contextlib.contextmanager
    def threaded(self) -> Iterator[None]:
        self.in_thread += 1
        try:
            yield
        finally:
            self.in_thread -= 1
