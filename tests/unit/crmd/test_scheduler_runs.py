"""Where the DC's scheduler runs: on the loop after a cheap run, on the pengine thread for
the first run, after an expensive one, when the CIB doubled, or while a thread run lasts."""

from __future__ import annotations

from lxml import etree

from crmd.api import RunScheduler, SchedulerDone
from crmd.scheduler_runs import InlineScheduling, element_count, run_timed

EMPTY_CIB = ('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">'
             "<configuration><crm_config/><nodes/><resources/><constraints/>"
             "</configuration><status/></cib>")


def test_first_run_goes_to_the_thread_then_cheap_runs_stay_on_the_loop() -> None:
    runs = InlineScheduling()
    assert not runs.fits(100)
    runs.learn(100, 0.004)
    assert runs.fits(100) and runs.fits(200)
    assert not runs.fits(201)  # the CIB more than doubled: its cost is unknown


def test_an_expensive_run_sends_the_next_one_to_the_thread() -> None:
    runs = InlineScheduling()
    runs.learn(100, 0.004)
    runs.learn(150, 0.5)
    assert not runs.fits(10)


def test_no_run_on_the_loop_while_one_is_on_the_thread() -> None:
    runs = InlineScheduling()
    runs.learn(100, 0.004)
    with runs.threaded():
        assert not runs.fits(100)
    assert runs.fits(100)


def test_a_timed_run_answers_and_counts_its_cpu() -> None:
    cib = etree.fromstring(EMPTY_CIB)
    assert element_count(cib) == 7  # cib, configuration and its 4 sections, status
    done, (began, ended, cpu) = run_timed(cib, RunScheduler(3, 0.0))
    assert isinstance(done, SchedulerDone)
    assert began <= ended and cpu >= 0.0
