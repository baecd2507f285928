"""FakeClock only moves when told to; role words parse like Pacemaker's, old names included."""

from __future__ import annotations

import pytest

from messaging.clock import FakeClock
from messaging.types import Role, op_key


def test_fake_clock_advances_only_on_request() -> None:
    clock = FakeClock(start=5.0)
    assert clock.monotonic() == 5.0
    assert clock.advance(1.5) == 6.5
    assert clock.wall() - clock.monotonic() == pytest.approx(1_700_000_000.0)
    with pytest.raises(ValueError):
        clock.advance(-1)


@pytest.mark.parametrize(
    ("word", "role"),
    [("Master", Role.PROMOTED), ("Slave", Role.UNPROMOTED), ("started", Role.STARTED),
     ("Promoted", Role.PROMOTED), ("", Role.UNKNOWN)],
)
def test_role_parse(word: str, role: Role) -> None:
    assert Role.parse(word) is role


def test_role_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        Role.parse("Leader")


def test_roles_are_ordered() -> None:
    assert Role.STOPPED < Role.STARTED < Role.UNPROMOTED < Role.PROMOTED


def test_op_key_shape() -> None:
    assert op_key("rsc1", "monitor", 10000) == "rsc1_monitor_10000"
