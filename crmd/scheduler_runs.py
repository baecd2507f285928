"""What one run of the DC's scheduler on crmd's pengine thread cost, for the crmd shell's
`scheduler_done` log line (crmd.service): when the thread began and ended it and the CPU
time the thread spent, so a slow answer shows whether it waited for the thread, for a CPU
while it ran (wall far beyond CPU), or for the event loop to take the answer.

Tried and dropped: running cheap runs on the event loop to save the two hand-overs. On the
16-node lab the loop then found a backlog of peer and CIB messages after each run, and the
fencing request the new transition starts waited behind it (+49 ms p50, up to 250 ms).
"""

from __future__ import annotations

import time

from lxml import etree

from crmd.api import RunScheduler, SchedulerDone, run_scheduler


def run_timed(cib_xml: etree._Element, effect: RunScheduler
              ) -> tuple[SchedulerDone, tuple[float, float, float]]:
    """`run_scheduler` with when it began and ended (monotonic) and the CPU seconds the
    running thread spent on it."""
    began, cpu = time.monotonic(), time.thread_time()
    done = run_scheduler(cib_xml, effect, 0.0)
    return done, (began, time.monotonic(), time.thread_time() - cpu)
