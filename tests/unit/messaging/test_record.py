"""messaging.record: plain slotted value classes behave as frozen dataclasses do for the
codec (same wire list), equality, hashing, repr and replace."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from messaging import codec
from messaging.errors import RemoteProtocolError
from messaging.record import Record, field_defaults


class Point(Record):
    __slots__ = ("label", "x", "y")

    def __init__(self, x: int, y: int = 0, label: tuple[str, ...] = ()) -> None:
        self.x, self.y, self.label = x, y, label


@dataclass(frozen=True, slots=True)
class DataPoint:
    x: int
    y: int = 0
    label: tuple[str, ...] = ()


def test_fields_are_the_init_parameters_in_order() -> None:
    assert Point.__fields__ == ("x", "y", "label")
    assert field_defaults(Point) == {"y": 0, "label": ()}


def test_value_semantics_match_a_frozen_dataclass() -> None:
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(1, 3)
    assert hash(Point(1, 2, ("a",))) == hash(Point(1, 2, ("a",)))
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert Point(1) != DataPoint(1)
    assert repr(Point(1, 2)) == "Point(x=1, y=2, label=())"
    assert Point(1, 2).replace(y=5) == Point(1, 5)


def test_codec_encodes_a_record_as_the_dataclass_of_the_same_fields() -> None:
    assert codec.to_plain(Point(1, 2, ("a",))) == codec.to_plain(DataPoint(1, 2, ("a",)))
    assert codec.build(Point, [1, 2, ["a"]]) == Point(1, 2, ("a",))
    assert codec.build(Point, [7]) == Point(7)  # missing trailing fields take defaults
    with pytest.raises(RemoteProtocolError):
        codec.build(Point, [])  # x has no default
    with pytest.raises(RemoteProtocolError):
        codec.build(Point, ["one"])  # x is an int


def test_registry_round_trip() -> None:
    registry = codec.Registry("test")
    registry.register(1)(Point)
    assert registry.decode(registry.encode(Point(3, 4, ("b",)))) == Point(3, 4, ("b",))


def test_a_field_outside_the_slots_is_refused() -> None:
    with pytest.raises(TypeError, match="not in __slots__"):
        class Broken(Record):
            __slots__ = ("x",)

            def __init__(self, x: int, y: int) -> None:
                self.x = x
