"""The power switch's line protocol (lab.pdu.Switch) over a power source kept in a dict:
the answers fence_lab parses, for the namespace lab and the Docker lab alike."""

from __future__ import annotations

from lab.pdu import Switch


class Plugs:
    """Three plugs; `off`/`on` record the order they were asked in."""

    def __init__(self) -> None:
        self.powered = {"n1": True, "n2": True, "n3": False}
        self.calls: list[str] = []

    def nodes(self) -> list[str]:
        return list(self.powered)

    def is_on(self, node: str) -> bool:
        return self.powered[node]

    def off(self, node: str) -> None:
        self.calls.append(f"off {node}")
        self.powered[node] = False

    def on(self, node: str) -> None:
        self.calls.append(f"on {node}")
        self.powered[node] = True


def test_commands_and_answers() -> None:
    plugs = Plugs()
    switch = Switch(plugs)
    assert switch.answer("list") == "ok n1 n2 n3"
    assert switch.answer("status n3") == "ok off"
    assert switch.answer("off n1") == "ok off"
    assert switch.answer("status n1") == "ok off"
    assert switch.answer("reboot n2") == "ok on"
    assert switch.answer("on n3") == "ok on"
    assert plugs.calls == ["off n1", "off n2", "on n2", "on n3"]


def test_bad_commands_are_answered_with_an_error_and_switch_nothing() -> None:
    plugs = Plugs()
    switch = Switch(plugs)
    assert switch.answer("off n9") == "error no node 'n9' (n1, n2, n3)"
    assert switch.answer("explode n1").startswith("error unknown command 'explode n1'")
    assert switch.answer("off").startswith("error unknown command")
    assert plugs.calls == []


def test_a_failing_power_source_becomes_an_error_answer() -> None:
    class Broken(Plugs):
        def off(self, node: str) -> None:
            raise PermissionError(13, "Permission denied")

    assert Switch(Broken()).answer("off n1") == "error Permission denied"


class EventLog:
    """A stand-in for the bound structlog logger the switch is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, str]]] = []

    def info(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))


class Ticks:
    """A clock that reads the given times in turn."""

    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


def test_switching_commands_are_logged_and_queries_are_not() -> None:
    log = EventLog()
    switch = Switch(Plugs(), log, clock=Ticks(0, 0, 0, 0, 0, 0, 1.0, 1.0, 2.7, 3.0, 3.0, 3.0))
    switch.answer("list")
    switch.answer("status n1")
    switch.answer("reboot n3")
    switch.answer("off n9")
    assert log.events == [
        ("pdu_command", {"command": "reboot n3", "answer": "ok on",
                         "wait_ms": 0.0, "run_ms": 1700.0}),
        ("pdu_command", {"command": "off n9", "answer": "error no node 'n9' (n1, n2, n3)",
                         "wait_ms": 0.0, "run_ms": 0.0}),
    ]


def test_a_command_queued_behind_another_logs_its_wait_apart_from_its_run() -> None:
    log = EventLog()
    switch = Switch(Plugs(), log, clock=Ticks(5.0, 6.25, 6.5))  # asked, got the lock, done
    assert switch.answer("off n2") == "ok off"
    assert log.events == [("pdu_command", {"command": "off n2", "answer": "ok off",
                                           "wait_ms": 1250.0, "run_ms": 250.0})]
