"""The codec's leaf values (str, bytes, int, bool, alone or as `tuple[X, ...]`) are checked
without type introspection per item, and still refused with the place of the bad item."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from messaging.codec import build, from_plain
from messaging.errors import RemoteProtocolError


@dataclass(frozen=True)
class Reported:
    node: str
    version: int
    alive: bool
    reach: tuple[str, ...]
    counts: tuple[int, ...]


def test_leaves_and_leaf_tuples_come_back_as_python_values() -> None:
    value = build(Reported, ["n1", 7, True, ["n2", "n3"], [1, 2]])
    assert value == Reported("n1", 7, True, ("n2", "n3"), (1, 2))
    assert isinstance(value.reach, tuple)


def test_a_bad_item_of_a_leaf_tuple_is_named_by_its_index() -> None:
    with pytest.raises(RemoteProtocolError, match=r"message\.reach\[1\]: expected str"):
        build(Reported, ["n1", 7, True, ["n2", 3], []])


@pytest.mark.parametrize("hint, data", [
    (int, True), (bool, 1), (str, b"n1"), (bytes, "n1"),
    (tuple[int, ...], [1, False]), (tuple[bool, ...], [True, 0]), (tuple[str, ...], "n1"),
])
def test_leaves_refuse_lookalikes(hint: object, data: object) -> None:
    with pytest.raises(RemoteProtocolError):
        from_plain(hint, data)


def test_a_float_field_still_takes_an_int_from_the_wire() -> None:
    assert from_plain(tuple[float, ...], [1, 2.5]) == (1.0, 2.5)
    assert isinstance(from_plain(float, 3), float)
