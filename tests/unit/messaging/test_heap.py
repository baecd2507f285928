"""messaging.heap.HeapTrimmer: one trim per burst of freed trees, off the event loop, none
while idle; and glibc's malloc_trim is found here (the lab's nodes run on glibc)."""

from __future__ import annotations

import asyncio
import threading

from messaging.heap import HeapTrimmer, libc_trim


def test_a_burst_of_changes_is_trimmed_once_off_the_loop() -> None:
    async def main() -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        trimmed = asyncio.Event()
        calls: list[bool] = []

        def trim() -> None:  # stands in for malloc_trim: records where it ran
            calls.append(threading.current_thread() is threading.main_thread())
            loop.call_soon_threadsafe(trimmed.set)

        trimmer = HeapTrimmer(0.01, trim)
        for _ in range(5):
            trimmer.soon()
        await asyncio.wait_for(trimmed.wait(), 5.0)
        first = len(calls)
        trimmed.clear()
        trimmer.soon()  # a later change: a later trim
        await asyncio.wait_for(trimmed.wait(), 5.0)
        trimmer.close()
        return first, calls == [False, False]

    assert asyncio.run(main()) == (1, True)


def test_a_closed_trimmer_trims_no_more() -> None:
    async def main(close: bool) -> list[int]:
        calls: list[int] = []
        trimmer = HeapTrimmer(0.0, lambda: calls.append(1))
        trimmer.soon()
        if close:
            trimmer.close()
        for _ in range(3):  # loop turns: a due timer runs, hands the trim to the executor
            await asyncio.sleep(0)
        await asyncio.get_running_loop().shutdown_default_executor()  # its jobs are done
        return calls

    assert asyncio.run(main(close=False)) == [1]
    assert asyncio.run(main(close=True)) == []


def test_glibc_trim_is_found_and_runs() -> None:
    trim = libc_trim()
    assert trim is not None and trim() in (0, 1)  # 1: memory was released
