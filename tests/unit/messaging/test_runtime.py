"""The one core runner: timers, effect dispatch, re-entrant feeding, fake and asyncio time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from messaging.effects import (
    ALL_NODES,
    ArmTimer,
    CancelTimer,
    Client,
    Log,
    Node,
    Persist,
    Publish,
    Send,
    TimerFired,
)
from messaging.errors import InternalError
from messaging.runtime import AsyncioScheduler, FakeScheduler, MemoryState, Runner, StateFiles


@dataclass(frozen=True)
class Poke:
    what: str
    now: float


@dataclass(frozen=True)
class RunThing:
    name: str


class ScriptCore:
    """A core whose answers are scripted per event, recording what it saw."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script = script
        self.seen: list[Any] = []

    def handle(self, event: Any) -> list[Any]:
        self.seen.append(event)
        key = event.what if isinstance(event, Poke) else f"timer:{event.key}"
        return list(self.script.get(key, []))


def test_timer_fires_once_at_its_deadline_with_now() -> None:
    scheduler = FakeScheduler()
    core = ScriptCore({"go": [ArmTimer("t", 5.0)]})
    runner = Runner(core, scheduler)
    runner.feed(Poke("go", 0.0))
    scheduler.run_until(4.9)
    assert core.seen == [Poke("go", 0.0)]
    scheduler.run_until(10.0)
    assert core.seen[1:] == [TimerFired("t", 5.0)]
    assert runner.armed == frozenset()


def test_rearming_replaces_and_cancel_forgets() -> None:
    scheduler = FakeScheduler()
    core = ScriptCore({"a": [ArmTimer("t", 5.0)], "b": [ArmTimer("t", 8.0)],
                       "c": [CancelTimer("t")]})
    runner = Runner(core, scheduler)
    runner.feed(Poke("a", 0.0))
    runner.feed(Poke("b", 0.0))
    scheduler.run_until(20.0)
    assert [e for e in core.seen if isinstance(e, TimerFired)] == [TimerFired("t", 8.0)]
    runner.feed(Poke("a", 20.0))
    runner.feed(Poke("c", 20.0))
    scheduler.run_until(40.0)
    assert len([e for e in core.seen if isinstance(e, TimerFired)]) == 1


def test_common_and_plugin_effects_go_to_their_handlers() -> None:
    sent: list[Send] = []
    published: list[Publish] = []
    ran: list[RunThing] = []
    state = MemoryState()
    effects = [Send(Node("n2"), "hello"), Send(ALL_NODES, "all"), Send(Client("c1"), "r"),
               Publish("topic", "event"), Persist("view", b"7"), RunThing("x"),
               Log("something_happened", fields=(("a", 1),))]
    runner = Runner(ScriptCore({"go": effects}), FakeScheduler(), send=sent.append,
                    publish=published.append, persist=state, handlers={RunThing: ran.append})
    runner.feed(Poke("go", 0.0))
    assert [s.destination for s in sent] == [Node("n2"), ALL_NODES, Client("c1")]
    assert published == [Publish("topic", "event")]
    assert state == {"view": b"7"}
    assert ran == [RunThing("x")]


def test_an_effect_without_handler_is_a_bug() -> None:
    runner = Runner(ScriptCore({"go": [Send(Node("n2"), "x")]}), FakeScheduler())
    with pytest.raises(InternalError, match="Send"):
        runner.feed(Poke("go", 0.0))
    other = Runner(ScriptCore({"go": [RunThing("x")]}), FakeScheduler())
    with pytest.raises(InternalError, match="RunThing"):
        other.feed(Poke("go", 0.0))


def test_events_fed_by_a_handler_are_queued_not_nested() -> None:
    core = ScriptCore({"first": [RunThing("a"), Send(Node("n1"), "after")],
                       "answer": [Send(Node("n1"), "answered")]})
    order: list[str] = []
    runner: Runner

    def run(effect: RunThing) -> None:
        order.append("run")
        runner.feed(Poke("answer", 0.0))  # a fake agent answering synchronously
        order.append("run done")

    runner = Runner(core, FakeScheduler(), send=lambda s: order.append(s.message),
                    handlers={RunThing: run})
    runner.feed(Poke("first", 0.0))
    assert order == ["run", "run done", "after", "answered"]


def test_runners_sharing_a_fake_scheduler_keep_separate_timer_keys() -> None:
    scheduler = FakeScheduler()
    one = ScriptCore({"go": [ArmTimer("t", 3.0)]})
    two = ScriptCore({"go": [ArmTimer("t", 2.0)]})
    Runner(one, scheduler).feed(Poke("go", 0.0))
    Runner(two, scheduler).feed(Poke("go", 0.0))
    scheduler.run_until(10.0)
    assert one.seen[-1] == TimerFired("t", 3.0)
    assert two.seen[-1] == TimerFired("t", 2.0)


def test_close_stops_timers_and_events() -> None:
    scheduler = FakeScheduler()
    core = ScriptCore({"go": [ArmTimer("t", 1.0)]})
    runner = Runner(core, scheduler)
    runner.feed(Poke("go", 0.0))
    runner.close()
    runner.feed(Poke("go", 0.5))
    scheduler.run_until(5.0)
    assert core.seen == [Poke("go", 0.0)]


def test_state_files_replace_atomically(tmp_path: Path) -> None:
    files = StateFiles(tmp_path)
    files(Persist("ccm.view_id", b"3\n"))
    files(Persist("ccm.view_id", b"4\n"))
    assert files.read("ccm.view_id") == b"4\n"
    assert files.read("missing") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ccm.view_id"]


def test_asyncio_scheduler_drives_the_same_runner() -> None:
    async def scenario() -> list[Any]:
        scheduler = AsyncioScheduler()
        fired = asyncio.Event()
        core = ScriptCore({"go": [ArmTimer("t", scheduler.monotonic() + 0.01)],
                           "timer:t": [RunThing("done")]})
        runner = Runner(core, scheduler, handlers={RunThing: lambda _e: fired.set()})
        runner.feed(Poke("go", scheduler.monotonic()))
        await asyncio.wait_for(fired.wait(), 10.0)
        return core.seen

    seen = asyncio.run(scenario())
    assert isinstance(seen[-1], TimerFired) and seen[-1].key == "t"
