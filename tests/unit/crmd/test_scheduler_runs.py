"""A timed scheduler run answers as `run_scheduler` does and reports when it ran and the
CPU it took (the crmd shell logs them in `scheduler_done`)."""

from __future__ import annotations

import time

from lxml import etree

from crmd.api import RunScheduler, SchedulerDone, run_scheduler
from crmd.scheduler_runs import run_timed

EMPTY_CIB = ('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">'
             "<configuration><crm_config/><nodes/><resources/><constraints/>"
             "</configuration><status/></cib>")


def test_a_timed_run_answers_as_the_scheduler_and_counts_its_time() -> None:
    before = time.monotonic()
    done, (began, ended, cpu) = run_timed(etree.fromstring(EMPTY_CIB), RunScheduler(3, 0.0))
    plain = run_scheduler(etree.fromstring(EMPTY_CIB), RunScheduler(3, 0.0), 0.0)
    assert isinstance(done, SchedulerDone) and done == plain
    assert before <= began <= ended <= time.monotonic()
    assert 0.0 <= cpu <= ended - began + 0.01  # one thread's CPU fits in its wall time
