"""follow_cib against a stand-in cib daemon (its control and diff sockets in-process): the
whole CIB at start, again after a configuration change, not after a status change, and
after a gap (a change whose diff never came, found by the version check)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from messaging.cib_contract import (
    API,
    DIFF_TOPIC,
    CibDiff,
    CibReply,
    Query,
    Version,
    ctl_address,
    follow_cib,
    pub_address,
)
from messaging.effects import Client
from messaging.ipc import Publisher, Server


class StandInCib:
    """Answers queries with its current version; publishes diffs when told to."""

    def __init__(self, state_dir: Path) -> None:
        self.version = Version(0, 1, 0)
        self.queries = 0
        self.server = Server(ctl_address(state_dir), API, self.answer, daemon="cib")
        self.publisher = Publisher(pub_address(state_dir), API)

    def answer(self, request: Any, client: Client) -> Any:
        assert isinstance(request, Query)
        if request.scope is None:
            self.queries += 1
        return CibReply(0, "OK", f'<cib epoch="{self.version.epoch}"/>', (), self.version)

    def change(self, version: Version, publish: bool = True) -> None:
        self.version = version
        if publish:
            self.publisher.publish(DIFF_TOPIC, CibDiff("<diff/>", version))


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.02)


@asynccontextmanager
async def _serving(state_dir: Path) -> AsyncIterator[StandInCib]:
    """A stand-in cib bound and answering, closed afterwards."""
    cib = StandInCib(state_dir)
    cib.server.bind()
    cib.publisher.bind()
    serving = asyncio.create_task(cib.server.serve())
    try:
        yield cib
    finally:
        serving.cancel()
        cib.server.close()
        cib.publisher.close()


async def _scenario(state_dir: Path) -> list[Version]:
    async with _serving(state_dir) as cib:
        return await _follow_changes(cib, state_dir)


async def _follow_changes(cib: StandInCib, state_dir: Path) -> list[Version]:
    seen: list[Version] = []

    async def on_cib(text: str, version: Version) -> None:
        assert f'epoch="{version.epoch}"' in text
        seen.append(version)

    following = asyncio.create_task(follow_cib(state_dir, on_cib, gap_check=0.3))
    try:
        await _until(lambda: seen)
        for _ in range(100):  # a SUB socket joins late: repeat the change until it is seen
            cib.change(Version(0, 2, 0))
            await asyncio.sleep(0.05)
            if seen[-1] == Version(0, 2, 0):
                break
        cib.change(Version(0, 2, 1))  # status only: no fetch
        cib.change(Version(0, 3, 0), publish=False)  # its diff is lost: the gap check finds it
        await _until(lambda: seen[-1] == Version(0, 3, 0))
        return seen
    finally:
        following.cancel()


def test_follow_cib_fetches_at_start_on_configuration_changes_and_after_a_gap(
        tmp_path: Path) -> None:
    seen = asyncio.run(asyncio.wait_for(_scenario(tmp_path), 30))
    assert seen == [Version(0, 1, 0), Version(0, 2, 0), Version(0, 3, 0)]


def _diff(source: Version, target: Version, body: str) -> CibDiff:
    def element(tag: str, version: Version) -> str:
        return (f'<{tag} admin_epoch="{version.admin_epoch}" epoch="{version.epoch}" '
                f'num_updates="{version.num_updates}"/>')
    return CibDiff(f'<diff format="2"><version>{element("source", source)}'
                   f'{element("target", target)}</version>{body}</diff>', target)


async def _concerns_scenario(state_dir: Path) -> tuple[list[Version], int]:
    async with _serving(state_dir) as cib:
        return await _follow_concerns(cib, state_dir)


async def _follow_concerns(cib: StandInCib, state_dir: Path) -> tuple[list[Version], int]:
    seen: list[Version] = []

    async def on_cib(text: str, version: Version) -> None:
        seen.append(version)

    def publish(diff: CibDiff) -> None:
        cib.version = diff.version
        cib.publisher.publish(DIFF_TOPIC, diff)

    following = asyncio.create_task(follow_cib(state_dir, on_cib, gap_check=30,
                                               concerns=lambda patch: "fence" in patch))
    try:
        await _until(lambda: seen)
        for epoch in range(2, 102):  # a SUB socket joins late: repeat until one is fetched
            publish(_diff(Version(0, epoch - 1, 0), Version(0, epoch, 0), "fence"))
            await asyncio.sleep(0.05)
            if seen[-1] == Version(0, epoch, 0):
                break
        fetched, last = len(seen), seen[-1]
        nearby = Version(0, last.epoch + 1, 0)
        publish(_diff(last, nearby, "other"))  # follows the last version, no concern: kept
        gapped = Version(0, last.epoch + 3, 0)
        publish(_diff(Version(0, last.epoch + 2, 0), gapped, "other"))  # after a gap: fetched
        await _until(lambda: seen[-1] == gapped)
        return seen[fetched:], fetched
    finally:
        following.cancel()


def test_follow_cib_skips_a_contiguous_change_of_no_concern_but_not_one_after_a_gap(
        tmp_path: Path) -> None:
    after, fetched = asyncio.run(asyncio.wait_for(_concerns_scenario(tmp_path), 30))
    assert fetched >= 2  # the start and the concerning change
    assert [version.epoch for version in after] == [after[-1].epoch]
