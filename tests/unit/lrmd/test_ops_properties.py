"""Invariants of the lrmd core under random event sequences (hypothesis): one running op per
resource, never more than the parallel limit, every one-shot op reported exactly once, and
nothing left running or queued once all agents finish and time passes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lrmd.messages import AgentSpec, ExecAccepted, ExecRequest
from lrmd.ops import AgentFinished, Cancel, LrmdCore, RunAgent, Submit
from messaging.effects import ArmTimer, CancelTimer, Publish, Send, TimerFired

AGENT = AgentSpec("ocf", "Dummy", "hacluster")
RESOURCES = ["a", "b", "c"]

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("submit"),
            st.sampled_from(RESOURCES),
            st.sampled_from(["start", "stop", "monitor", "promote"]),
            st.sampled_from([0, 0, 0, 5000]),
        ),
        st.tuples(st.just("finish"), st.integers(0, 5), st.sampled_from([0, 1, 7])),
        st.tuples(st.just("advance"), st.floats(0.1, 30)),
        st.tuples(st.just("cancel"), st.sampled_from(RESOURCES), st.just("monitor"), st.just(5000)),
    ),
    max_size=60,
)


class Model:
    def __init__(self, limit: int) -> None:
        self.core = LrmdCore(max_parallel=limit, kill_grace=1.0)
        self.limit = limit
        self.now = 0.0
        self.timers: dict[str, float] = {}
        self.running: dict[int, str] = {}
        self.one_shot: dict[int, int] = {}  # call id -> times reported
        self.one_shot_next = False

    def feed(self, event: object) -> None:
        for effect in self.core.handle(event):  # type: ignore[arg-type]
            if isinstance(effect, RunAgent):
                assert effect.request.resource not in self.running.values()
                self.running[effect.call_id] = effect.request.resource
                assert len(self.running) <= self.limit
            elif isinstance(effect, ArmTimer):
                self.timers[effect.key] = effect.deadline
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.key, None)
            elif isinstance(effect, Publish) and effect.event.call_id in self.one_shot:
                self.one_shot[effect.event.call_id] += 1
            elif isinstance(effect, Send) and isinstance(effect.message, ExecAccepted):
                self.accepted(effect.message.call_id)
        assert self.core.running == len(self.running) or self._abandoned()

    def accepted(self, call_id: int) -> None:
        if self.one_shot_next:
            self.one_shot[call_id] = 0

    def _abandoned(self) -> bool:
        return self.core.running < len(self.running)

    def finish(self, index: int, rc: int) -> None:
        if not self.running:
            return
        call_id = sorted(self.running)[index % len(self.running)]
        del self.running[call_id]
        self.feed(AgentFinished(call_id, rc, self.now))

    def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while due := sorted((d, k) for k, d in self.timers.items() if d <= target):
            deadline, key = due[0]
            del self.timers[key]
            self.now = max(self.now, deadline)
            if key.startswith("abandon:"):
                self.running.pop(int(key.split(":")[1]), None)  # the core gives up on it
            self.feed(TimerFired(key, self.now))
        self.now = target


@settings(max_examples=150, deadline=None)
@given(steps, st.integers(1, 3))
def test_core_invariants(script: list[tuple[object, ...]], limit: int) -> None:
    model = Model(limit)
    for step in script:
        if step[0] == "submit":
            _, resource, action, interval = step
            request = ExecRequest(
                str(resource),
                AGENT,
                str(action),
                timeout_ms=10_000,
                interval_ms=int(interval) if action == "monitor" else 0,
            )
            model.one_shot_next = request.interval_ms == 0
            model.feed(Submit(request, model.now, client="c"))
        elif step[0] == "finish":
            model.finish(int(step[1]), int(step[2]))  # type: ignore[call-overload]
        elif step[0] == "advance":
            model.advance(float(step[1]))  # type: ignore[arg-type]
        else:
            _, resource, action, interval = step
            model.feed(Cancel(str(resource), str(action), int(interval), model.now))  # type: ignore[call-overload]
    for call_id in model.core.recurring_ops():  # stop every recurring monitor
        model.feed(Cancel(call_id[0], call_id[1], call_id[2], model.now))
    for _ in range(200):  # let every agent finish, every timer fire
        if model.running:
            model.finish(0, 0)
        else:
            model.advance(60)
        if not model.running and model.core.queued == 0 and model.core.running == 0:
            break
    assert model.core.running == 0 and model.core.queued == 0
    assert all(count == 1 for count in model.one_shot.values()), model.one_shot
