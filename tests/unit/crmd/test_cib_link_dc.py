"""crmd names the DC to its node's cib over the real control socket: `CibLink.name_dc`
(the `dc_teller` task sends `cib.api.SetDc`) reaches the cib daemon's replication core,
each change in order, on a bound socket in a temporary state directory; and the
scheduler's read of that cib (`CibLink.read_ahead`) never waits for attrd."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from cib.api import WireRequest
from cib.service import CibService
from crmd.cib_link import CibLink
from messaging.ipc import prepare_state_dir
from messaging.logs import get_logger


async def _core_dc_after(names: list[str | None], state_dir: Path) -> list[str | None]:
    service = CibService("n1", state_dir)
    service.server.bind()
    serving = asyncio.create_task(service.server.serve())
    link = CibLink(state_dir, get_logger(daemon="crmd", node="n1"))
    teller = asyncio.create_task(link.dc_teller())
    seen: list[str | None] = []
    try:
        for dc in names:
            link.name_dc(dc)
            while service.core.dc != dc:  # the condition, not a sleep for readiness
                await asyncio.sleep(0.01)
            seen.append(service.core.dc)
        return seen
    finally:
        teller.cancel()
        serving.cancel()
        link.close()
        service.server.close()
        service.runner.close()


def test_crmd_tells_its_cib_each_new_dc() -> None:
    with tempfile.TemporaryDirectory() as directory:
        state_dir = Path(directory) / "state"
        prepare_state_dir(state_dir)
        names: list[str | None] = ["n2", None, "n3"]
        seen = asyncio.run(asyncio.wait_for(_core_dc_after(names, state_dir), 30))
    assert seen == names


class _SilentAttrd:
    """An attrd that never answers (starting, or starved on a loaded host)."""

    async def update(self, name: str, value: str | None, node: str = "") -> None:
        await asyncio.Event().wait()

    def close(self) -> None:
        pass


async def _read_ahead_with_silent_attrd(state_dir: Path) -> tuple[str | None, bool]:
    service = CibService("n1", state_dir)
    service.server.bind()
    serving = asyncio.create_task(service.server.serve())
    link = CibLink(state_dir, get_logger(daemon="crmd", node="n1"))
    service._view(1, ("n1",))  # a one-node view: this cib is the master
    link.attrd = _SilentAttrd()  # type: ignore[assignment]
    try:
        link.set_attribute("1", "n1", "fail-count-rsc#monitor_10000", "1")
        link.set_attribute("1", "n1", "last-failure-rsc#monitor_10000", "++")
        from cib.xmlio import element_text

        tree = await link.read_ahead()
        text = None if tree is None else element_text(tree, pretty=False)
        return text, all(not task.done() for task in link._tasks)
    finally:
        serving.cancel()
        link.close()
        service.server.close()
        service.runner.close()


def test_the_schedulers_read_waits_for_the_cib_never_for_attrd() -> None:
    """Found in the 16-node lab: reading the CIB before a scheduler run took 1.2-6.7 s,
    waiting on attrd (which only keeps a copy of what crmd wrote into the CIB at once)."""
    with tempfile.TemporaryDirectory() as directory:
        state_dir = Path(directory) / "state"
        prepare_state_dir(state_dir)
        text, attrd_still_busy = asyncio.run(asyncio.wait_for(
            _read_ahead_with_silent_attrd(state_dir), 30))
    assert text is not None and attrd_still_busy
    assert 'name="fail-count-rsc#monitor_10000" value="1"' in text
    assert 'name="last-failure-rsc#monitor_10000" value="1"' in text


async def _followed_copy_and_query(state_dir: Path) -> tuple[object, str, object]:
    from cib.xmlio import parse

    service = CibService("n1", state_dir)
    service.server.bind()
    serving = asyncio.create_task(service.server.serve())
    link = CibLink(state_dir, get_logger(daemon="crmd", node="n1"))
    service.publisher.bind()
    service._view(1, ("n1",))
    link.attrd = _SilentAttrd()  # type: ignore[assignment]
    tasks = [asyncio.create_task(link.follow(lambda event: None, lambda: 0.0, lambda: 0.0))]
    try:
        while link.copy.latest == (-1, -1, -1):  # until the subscription delivers
            link.set_attribute("1", "n1", "attr-0", "0")
            await link.settled()
            await asyncio.sleep(0.05)
        first = await link.read_ahead()  # no copy yet: queried, parsed and kept
        assert first is not None and link.copy.tree is not None
        for value in range(1, 6):
            link.set_attribute("1", "n1", f"attr-{value}", str(value))
            await link.settled()
        text = await link.query()
        assert text is not None
        wanted = tuple(int(parse(text).get(f) or 0)
                       for f in ("admin_epoch", "epoch", "num_updates"))
        while link.copy.latest < wanted:  # the condition: every patch published so far
            await asyncio.sleep(0.01)
        return link.copy.tree, text, link.copy
    finally:
        for task in tasks:
            task.cancel()
        serving.cancel()
        link.close()
        service.server.close()
        service.runner.close()


def test_the_dcs_copy_follows_the_published_patches_to_the_cibs_own_digest() -> None:
    """The scheduler's input no longer comes from a query and a parse per run: the copy
    read once is patched from every published change and stays digest-equal to the cib."""
    from cib.xmlio import parse, versioned_digest

    with tempfile.TemporaryDirectory() as directory:
        state_dir = Path(directory) / "state"
        prepare_state_dir(state_dir)
        tree, text, followed = asyncio.run(asyncio.wait_for(
            _followed_copy_and_query(state_dir), 120))
    assert followed.applied >= 5 and followed.dropped == 0  # type: ignore[attr-defined]
    queried = parse(text)
    assert versioned_digest(tree) == versioned_digest(queried)  # type: ignore[arg-type]
    assert 'name="attr-5" value="5"' in text


class _HeldCib:
    """A cib that answers only when the test says so, in any order."""

    def __init__(self) -> None:
        self.requests: list[tuple[object, asyncio.Future[object]]] = []

    async def request(self, message: object, timeout: float | None = None) -> object:
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.requests.append((message, answer))
        return await answer

    def close(self) -> None:
        pass


async def _pipelined(state_dir: Path) -> list[list[str]]:
    from cib.api import CibReply

    link = CibLink(state_dir, get_logger(daemon="crmd", node="n1"))
    cib = _HeldCib()
    link.client = cib  # type: ignore[assignment]
    rounds = []
    for name in ("a", "b"):
        link.write(WireRequest("delete", None, None, f"/cib/status/{name}", multiple=True,
                               force=True))
    settled = asyncio.ensure_future(link.settled())
    await asyncio.sleep(0)  # let the send tasks run once
    rounds.append([m.request.xpath for m, _ in cib.requests])  # type: ignore[attr-defined]
    cib.requests[1][1].set_result(CibReply(0, "OK"))  # b applied...
    cib.requests[0][1].set_result(CibReply(102, "the master changed"))  # ...a unknown
    while len(cib.requests) < 4:
        await asyncio.sleep(0.01)  # the condition: the resends
    rounds.append([m.request.xpath for m, _ in cib.requests[2:]])  # type: ignore[attr-defined]
    assert not settled.done()
    for _, answer in cib.requests[2:]:
        answer.set_result(CibReply(0, "OK"))
    await settled
    link.close()
    return rounds


def test_writes_are_outstanding_together_and_a_resend_repeats_the_later_ones_in_order(
        ) -> None:
    with tempfile.TemporaryDirectory() as directory:
        state_dir = Path(directory) / "state"
        prepare_state_dir(state_dir)
        rounds = asyncio.run(asyncio.wait_for(_pipelined(state_dir), 30))
    assert rounds == [["/cib/status/a", "/cib/status/b"],  # both out before any answer
                      ["/cib/status/a", "/cib/status/b"]]  # b again after a's resend
