"""DaemonHost: binds, runs tasks until stop, closes in reverse order; a failed task ends
the daemon with its error (so the launcher respawns it) instead of leaving it half alive."""

from __future__ import annotations

import asyncio

import pytest

from messaging.daemon import DaemonHost
from messaging.errors import TransportError


class Part:
    def __init__(self, name: str, journal: list[str]) -> None:
        self.name, self.journal = name, journal

    def bind(self) -> None:
        self.journal.append(f"bind {self.name}")

    def close(self) -> None:
        self.journal.append(f"close {self.name}")


def test_binds_runs_and_closes_in_reverse_order() -> None:
    journal: list[str] = []

    async def scenario() -> None:
        host = DaemonHost()
        host.socket(Part("server", journal))
        host.socket(Part("publisher", journal))
        host.closing(Part("runner", journal))

        async def work() -> None:
            journal.append("working")
            host.stop()
            await asyncio.Event().wait()

        host.task(work)
        await host.run()

    asyncio.run(scenario())
    assert journal == ["bind server", "bind publisher", "working", "close runner",
                       "close publisher", "close server"]


def test_a_failed_task_stops_the_daemon_with_its_error() -> None:
    journal: list[str] = []

    async def scenario() -> None:
        host = DaemonHost()
        host.closing(Part("runner", journal))

        async def broken() -> None:
            raise TransportError("heartbeat went away")

        async def forever() -> None:
            await asyncio.Event().wait()

        host.task(broken)
        host.task(forever)
        await host.run()

    with pytest.raises(TransportError, match="heartbeat went away"):
        asyncio.run(scenario())
    assert journal == ["close runner"]


def test_a_task_that_finishes_its_work_is_not_a_failure() -> None:
    async def scenario() -> bool:
        host = DaemonHost()
        done = asyncio.Event()

        async def start_up() -> None:
            done.set()

        async def stopper() -> None:
            await done.wait()
            await asyncio.sleep(0)
            host.stop()

        host.task(start_up)
        host.task(stopper)
        await host.run()
        return host.failure is None

    assert asyncio.run(scenario())
