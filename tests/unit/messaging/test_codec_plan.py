"""Property: a compiled decoder (messaging.codec_plan) takes exactly the values the checking
walk (codec.from_plain) takes, returns the same value for each, and refuses the rest, for
every form of hint the daemons' messages use, on arbitrary msgpack-shaped data."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NewType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.codec import build, from_plain
from messaging.codec_plan import Reject, decoder
from messaging.errors import RemoteProtocolError
from messaging.heartbeat.api import NodeTable
from messaging.record import Record
from messaging.version import Version

NodeId = NewType("NodeId", str)


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Pair(NamedTuple):
    name: str
    count: int


@dataclass(frozen=True)
class Inner:
    colour: Colour
    level: Level = Level.LOW


class Outer(Record):
    __slots__ = ("inner", "note", "pairs", "table", "weight")

    def __init__(self, inner: Inner, pairs: tuple[Pair, ...], table: dict[str, int],
                 note: str | None = None, weight: float = 0.0) -> None:
        self.inner, self.pairs, self.table, self.note, self.weight = (
            inner, pairs, table, note, weight)


HINTS: list[Any] = [
    str, bytes, int, bool, float, type(None), Any, NodeId, Colour, Level, Pair, Version,
    Inner, Outer, int | None, str | int, bool | int, Literal["a", 1], tuple[str, ...],
    tuple[int, ...], tuple[Inner, ...], tuple[int, str], tuple[()], dict[str, int],
    dict[str, tuple[int, ...]], dict[Colour, Inner | None], tuple, NodeTable,
]

leaves = (st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False)
          | st.sampled_from(["a", "red", "blue", "n1", ""]) | st.binary(max_size=3))
plain = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.sampled_from(["a", "red", "x"]) | st.integers(0, 2),
                                       inner, max_size=3), max_leaves=12)


def _walked(hint: Any, data: Any) -> tuple[str, Any]:
    try:
        return "ok", from_plain(hint, data)
    except RemoteProtocolError:
        return "refused", None


def _compiled(hint: Any, data: Any) -> tuple[str, Any]:
    try:
        return "ok", decoder(hint, 0)(data)
    except Reject:
        return "refused", None


def _same(left: Any, right: Any) -> bool:
    return left == right and type(left) is type(right)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(HINTS), plain)
def test_the_compiled_decoder_agrees_with_the_walk(hint: Any, data: Any) -> None:
    walked, compiled = _walked(hint, data), _compiled(hint, data)
    assert walked[0] == compiled[0]
    assert _same(walked[1], compiled[1])


@pytest.mark.parametrize("hint, data", [
    (Outer, [["red", 2], [["n1", 3]], {"a": 1}, None, 2]),
    (Outer, [["blue"], [], {}]),
    (Version, [0, 5, 1]),
    (dict[Colour, Inner | None], {"red": ["blue", 1], "blue": None}),
])
def test_known_messages_decode_the_same_both_ways(hint: Any, data: Any) -> None:
    assert _same(_walked(hint, data)[1], _compiled(hint, data)[1])
    assert _compiled(hint, data)[0] == "ok"


def test_a_refused_value_is_still_named_by_its_place() -> None:
    with pytest.raises(RemoteProtocolError, match=r"message\.pairs\[0\]\[1\]: expected int"):
        build(Outer, [["red"], [["n1", True]], {}])


def test_too_deep_nesting_is_refused_as_the_walk_refuses_it() -> None:
    assert _compiled(int, 1)[0] == "ok"
    with pytest.raises(Reject):
        decoder(int, 17)(1)
    with pytest.raises(RemoteProtocolError, match="nested too deeply"):
        from_plain(int, 1, depth=17)
